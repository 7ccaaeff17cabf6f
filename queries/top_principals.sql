-- Most active principals: who makes the most calls, how many were denied, over how many operations.
--
-- Parameters:
--   $start DATE = '1970-01-01'   first eventDate included
--   $end DATE = '9999-12-31'     last eventDate included
--   $limit INTEGER = 20          rows to return
--
-- Columns:
--   principalArn    the IAM policy holder (role, user or root ARN)
--   principalType   role, user, root ... (from the ARN)
--   accountId       account the principal belongs to
--   calls           API calls made
--   denied          of those, calls that were denied
--   apiOperations   distinct eventSource + eventName pairs called
--   regions         distinct regions called
--   firstSeen       first call (UTC)
--   lastSeen        last call (UTC)
SELECT
    principalArn,
    split_part(split_part(principalArn, ':', 6), '/', 1) AS principalType,
    split_part(principalArn, ':', 5) AS accountId,
    count(*) AS calls,
    count(*) FILTER (WHERE outcome = 'denied') AS denied,
    count(DISTINCT eventSource || ' ' || eventName) AS apiOperations,
    count(DISTINCT awsRegion) AS regions,
    min(eventTime) AS firstSeen,
    max(eventTime) AS lastSeen
FROM calls
WHERE principalArn IS NOT NULL
  AND eventDate BETWEEN $start AND $end
GROUP BY principalArn
ORDER BY calls DESC, principalArn
LIMIT $limit
