-- Errors by service: which error codes each service returned, how often, to how many principals.
--
-- Parameters:
--   $start DATE = '1970-01-01'   first eventDate included
--   $end DATE = '9999-12-31'     last eventDate included
--
-- Columns:
--   eventSource    service endpoint
--   errorCode      error AWS returned
--   outcome        denied, unauthenticated, or allowed (the call passed IAM and failed later)
--   calls          calls that failed so
--   principals     distinct principals (policy holders) affected
--   firstSeen      first such error (UTC)
--   lastSeen       last such error (UTC)
SELECT
    eventSource,
    errorCode,
    outcome,
    count(*) AS calls,
    count(DISTINCT principalArn) AS principals,
    min(eventTime) AS firstSeen,
    max(eventTime) AS lastSeen
FROM calls
WHERE errorCode IS NOT NULL
  AND errorCode <> ''
  AND eventDate BETWEEN $start AND $end
GROUP BY eventSource, errorCode, outcome
ORDER BY eventSource, calls DESC, errorCode
