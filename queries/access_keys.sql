-- Access keys in use and by whom: each key's principal, calls, source IPs, first and last use.
--
-- Long-term keys (AKIA...) belong to IAM users and root and are the ones to rotate or remove; session
-- keys (ASIA...) come from roles and sessions and are listed only with $temporary.
--
-- Parameters:
--   $start DATE = '1970-01-01'   first eventDate included
--   $end DATE = '9999-12-31'     last eventDate included
--   $temporary BOOLEAN = false   also list temporary (ASIA...) session keys
--
-- Columns:
--   accessKeyId      the key
--   keyType          long-term or temporary
--   principalArn     the IAM policy holder using it
--   identityArn      the identity that signed with it (session ARN for roles)
--   calls            calls signed with it
--   denied           of those, calls that were denied
--   sourceIPs        distinct source IP addresses
--   regions          distinct regions called
--   firstSeen        first use (UTC)
--   lastSeen         last use (UTC)
SELECT
    accessKeyId,
    CASE WHEN accessKeyId LIKE 'ASIA%' THEN 'temporary' ELSE 'long-term' END AS keyType,
    principalArn,
    min(identityArn) AS identityArn,
    count(*) AS calls,
    count(*) FILTER (WHERE outcome = 'denied') AS denied,
    count(DISTINCT sourceIPAddress) AS sourceIPs,
    count(DISTINCT awsRegion) AS regions,
    min(eventTime) AS firstSeen,
    max(eventTime) AS lastSeen
FROM calls
WHERE accessKeyId IS NOT NULL
  AND accessKeyId <> ''
  AND ($temporary OR accessKeyId NOT LIKE 'ASIA%')
  AND eventDate BETWEEN $start AND $end
GROUP BY accessKeyId, principalArn
ORDER BY keyType, lastSeen DESC, accessKeyId, principalArn
