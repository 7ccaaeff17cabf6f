-- Activity by region, flagging regions outside an allow-list (regions nobody should be using).
--
-- us-east-1 also records global services (IAM, STS, sign-in), so keep it in the list.
--
-- Parameters:
--   $allowed VARCHAR[] = ['us-east-1']   regions in use on purpose
--   $start DATE = '1970-01-01'           first eventDate included
--   $end DATE = '9999-12-31'             last eventDate included
--
-- Columns:
--   awsRegion      region called
--   unexpected     true when the region is not in $allowed
--   calls          API calls
--   denied         of those, calls that were denied
--   principals     distinct principals (policy holders) calling
--   accounts       distinct accounts called
--   firstSeen      first call (UTC)
--   lastSeen       last call (UTC)
SELECT
    awsRegion,
    NOT list_contains($allowed, awsRegion) AS unexpected,
    count(*) AS calls,
    count(*) FILTER (WHERE outcome = 'denied') AS denied,
    count(DISTINCT principalArn) AS principals,
    count(DISTINCT accountId) AS accounts,
    min(eventTime) AS firstSeen,
    max(eventTime) AS lastSeen
FROM calls
WHERE eventDate BETWEEN $start AND $end
GROUP BY awsRegion
ORDER BY unexpected DESC, calls DESC, awsRegion
