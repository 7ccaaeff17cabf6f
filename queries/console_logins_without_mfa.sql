-- Console sign-ins without MFA: successful and failed ConsoleLogin events whose MFAUsed is not Yes.
--
-- Federated and Identity Center sign-ins report MFAUsed No because MFA, if any, happened at the
-- identity provider; IAM users and root signing in without MFA are the ones to fix.
--
-- Parameters:
--   $start DATE = '1970-01-01'   first eventDate included
--   $end DATE = '9999-12-31'     last eventDate included
--
-- Columns:
--   eventTime        when (UTC)
--   identityType     Root, IAMUser, AssumedRole ...
--   identity         the identity's ARN, else its user name
--   accountId        account signed in to
--   result           Success or Failure
--   mfaUsed          additionalEventData.MFAUsed as recorded (No, or empty when absent)
--   sourceIPAddress  where the sign-in came from
--   userAgent        browser used
--   eventID          the event's id
SELECT
    eventTime,
    userIdentity.type AS identityType,
    coalesce(userIdentity.arn, userIdentity.userName) AS identity,
    recipientAccountId AS accountId,
    json_extract_string(responseElements, '$.ConsoleLogin') AS result,
    json_extract_string(additionalEventData, '$.MFAUsed') AS mfaUsed,
    sourceIPAddress,
    userAgent,
    eventID
FROM events
WHERE eventSource = 'signin.amazonaws.com'
  AND eventName = 'ConsoleLogin'
  AND coalesce(json_extract_string(additionalEventData, '$.MFAUsed'), '') <> 'Yes'
  AND eventDate BETWEEN $start AND $end
ORDER BY eventTime, eventID
