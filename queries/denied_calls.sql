-- Denied calls by principal: who was refused which API call, with which error, how often.
--
-- A call is denied when its errorCode is an authorisation failure (AccessDenied,
-- Client.UnauthorizedOperation ...; see calls.outcome). Callers without an IAM policy holder (other
-- accounts, AWS services) are shown by their identity ARN or type.
--
-- Parameters:
--   $start DATE = '1970-01-01'   first eventDate included
--   $end DATE = '9999-12-31'     last eventDate included
--
-- Columns:
--   principal      principalArn, else the caller's identity ARN, else its identity type
--   eventSource    service endpoint called
--   eventName      API operation refused
--   errorCode      the error AWS returned
--   actions        IAM action(s) the call needed, comma-separated
--   calls          denied calls
--   firstSeen      first denied call (UTC)
--   lastSeen       last denied call (UTC)
SELECT
    coalesce(principalArn, identityArn, identityType) AS principal,
    eventSource,
    eventName,
    errorCode,
    array_to_string(actions, ',') AS actions,
    count(*) AS calls,
    min(eventTime) AS firstSeen,
    max(eventTime) AS lastSeen
FROM calls
WHERE outcome = 'denied'
  AND eventDate BETWEEN $start AND $end
GROUP BY coalesce(principalArn, identityArn, identityType), eventSource, eventName, errorCode, array_to_string(actions, ',')
ORDER BY calls DESC, principal, eventSource, eventName, errorCode
