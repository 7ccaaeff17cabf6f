-- Root account activity: every call made with an account's root credentials.
--
-- AWS advises against using root for anything but the few tasks that need it; each row here deserves a
-- look.
--
-- Parameters:
--   $start DATE = '1970-01-01'   first eventDate included
--   $end DATE = '9999-12-31'     last eventDate included
--
-- Columns:
--   eventTime        when (UTC)
--   accountId        the account whose root user acted
--   awsRegion        region called
--   eventSource      service endpoint called
--   eventName        API operation
--   outcome          allowed, denied or unauthenticated
--   errorCode        AWS error code, if the call failed
--   sourceIPAddress  where the call came from
--   userAgent        client used
--   eventID          the event's id
SELECT
    eventTime,
    accountId,
    awsRegion,
    eventSource,
    eventName,
    outcome,
    errorCode,
    sourceIPAddress,
    userAgent,
    eventID
FROM calls
WHERE identityType = 'Root'
  AND eventDate BETWEEN $start AND $end
ORDER BY eventTime, eventID
