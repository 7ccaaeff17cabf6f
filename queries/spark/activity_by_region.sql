-- Spark SQL variant of activity_by_region.sql: the same parameters, columns and rows, on Spark.
--
-- Why a variant: sqlglot turns DuckDB's list_contains($allowed, awsRegion) into Spark's array_contains,
-- which treats a NULL value differently: DuckDB's is false for an empty list whatever the value, Spark's
-- is NULL for a NULL value. With an empty allow-list, events without awsRegion were "unexpected" on
-- DuckDB and NULL on Spark.
SELECT
    awsRegion,
    NOT CASE WHEN size($allowed) = 0 THEN false ELSE array_contains($allowed, awsRegion) END AS unexpected,
    count(*) AS calls,
    count(*) FILTER (WHERE outcome = 'denied') AS denied,
    count(DISTINCT principalArn) AS principals,
    count(DISTINCT accountId) AS accounts,
    min(eventTime) AS firstSeen,
    max(eventTime) AS lastSeen
FROM calls
WHERE eventDate BETWEEN $start AND $end
GROUP BY awsRegion
ORDER BY unexpected DESC NULLS LAST, calls DESC, awsRegion ASC NULLS LAST
