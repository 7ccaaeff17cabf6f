-- Cross-account access: who assumed a role in another account, and through which earlier role (chains).
--
-- One row per (caller, role) hop of sts:AssumeRole* where the caller's account differs from the role's.
-- assumedVia links hops into chains: when the caller was itself a role session, it is whoever assumed that
-- session (matched by the access key STS issued). Hops seen only from the role's account have the caller
-- as an account (userIdentity.type AWSAccount).
--
-- Parameters:
--   $start DATE = '1970-01-01'   first eventDate included
--   $end DATE = '9999-12-31'     last eventDate included
--
-- Columns:
--   callerArn       who called AssumeRole: principalArn, else the identity ARN, else the account
--   callerAccount   the caller's account
--   roleArn         the role assumed
--   roleAccount     the role's account
--   assumedVia      who had assumed the caller's own session, when the caller was a role session
--   calls           AssumeRole calls for this hop
--   denied          of those, calls that were denied
--   firstSeen       first call (UTC)
--   lastSeen        last call (UTC)
WITH hops AS (
    SELECT
        eventTime,
        coalesce(principalArn, identityArn, identityAccountId) AS callerArn,
        identityAccountId AS callerAccount,
        accessKeyId AS callerKey,
        json_extract_string(requestParameters, '$.roleArn') AS roleArn,
        split_part(json_extract_string(requestParameters, '$.roleArn'), ':', 5) AS roleAccount,
        json_extract_string(responseElements, '$.credentials.accessKeyId') AS issuedKey,
        outcome
    FROM calls
    WHERE eventSource = 'sts.amazonaws.com'
      AND eventName IN ('AssumeRole', 'AssumeRoleWithSAML', 'AssumeRoleWithWebIdentity')
      AND eventDate BETWEEN $start AND $end
),
issued AS (
    SELECT issuedKey, min(callerArn) AS assumedBy
    FROM hops
    WHERE issuedKey IS NOT NULL
    GROUP BY issuedKey
)
SELECT
    h.callerArn,
    h.callerAccount,
    h.roleArn,
    h.roleAccount,
    i.assumedBy AS assumedVia,
    count(*) AS calls,
    count(*) FILTER (WHERE h.outcome = 'denied') AS denied,
    min(h.eventTime) AS firstSeen,
    max(h.eventTime) AS lastSeen
FROM hops AS h
LEFT JOIN issued AS i ON i.issuedKey = h.callerKey
WHERE h.callerAccount IS NOT NULL
  AND h.roleAccount <> ''
  AND h.callerAccount <> h.roleAccount
GROUP BY h.callerArn, h.callerAccount, h.roleArn, h.roleAccount, i.assumedBy
ORDER BY h.callerAccount, h.callerArn, h.roleArn, i.assumedBy NULLS FIRST
