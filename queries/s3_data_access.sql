-- S3 data access by bucket and principal: reads, writes, deletes and lists of objects.
--
-- Needs S3 data events in the trail (eventCategory Data); buckets come from the request's bucketName.
--
-- Parameters:
--   $start DATE = '1970-01-01'   first eventDate included
--   $end DATE = '9999-12-31'     last eventDate included
--   $bucket VARCHAR = '%'        bucket name LIKE pattern
--
-- Columns:
--   bucket         bucket name
--   principal      principalArn, else the caller's identity ARN, else its type
--   calls          data calls on the bucket
--   reads          GetObject, HeadObject ... (read-only calls other than listings)
--   lists          ListObjects, ListObjectsV2, ListObjectVersions ...
--   writes         PutObject, CopyObject, multipart uploads ... (writes other than deletes)
--   deletes        DeleteObject, DeleteObjects
--   denied         of all those, calls that were denied
--   objects        distinct object keys named
--   firstSeen      first call (UTC)
--   lastSeen       last call (UTC)
WITH data_calls AS (
    SELECT
        json_extract_string(requestParameters, '$.bucketName') AS bucket,
        coalesce(principalArn, identityArn, identityType) AS principal,
        eventName,
        readOnly,
        outcome,
        json_extract_string(requestParameters, '$.key') AS objectKey,
        eventTime
    FROM calls
    WHERE eventSource = 's3.amazonaws.com'
      AND eventCategory = 'Data'
      AND eventDate BETWEEN $start AND $end
)
SELECT
    bucket,
    principal,
    count(*) AS calls,
    count(*) FILTER (WHERE readOnly AND eventName NOT LIKE 'List%') AS reads,
    count(*) FILTER (WHERE readOnly AND eventName LIKE 'List%') AS lists,
    count(*) FILTER (WHERE NOT readOnly AND eventName NOT LIKE 'Delete%') AS writes,
    count(*) FILTER (WHERE NOT readOnly AND eventName LIKE 'Delete%') AS deletes,
    count(*) FILTER (WHERE outcome = 'denied') AS denied,
    count(DISTINCT objectKey) AS objects,
    min(eventTime) AS firstSeen,
    max(eventTime) AS lastSeen
FROM data_calls
WHERE bucket LIKE $bucket
GROUP BY bucket, principal
ORDER BY bucket, calls DESC, principal
