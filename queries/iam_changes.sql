-- IAM changes: who created, changed, attached or deleted which role, user, group, policy or access key.
--
-- Every non-read-only call to IAM, failed ones included (see outcome): a denied attempt to attach a
-- policy is worth knowing about.
--
-- Parameters:
--   $start DATE = '1970-01-01'   first eventDate included
--   $end DATE = '9999-12-31'     last eventDate included
--
-- Columns:
--   eventTime      when (UTC)
--   accountId      account changed
--   principal      principalArn, else the caller's identity ARN, else its type
--   eventName      the change (CreateRole, AttachRolePolicy, CreateAccessKey ...)
--   targetType     role, user, group, instance-profile or policy
--   target         its name (ARN for managed policies)
--   policy         policy attached, detached or written: its ARN or inline name
--   accessKeyId    access key created, changed or deleted
--   outcome        allowed, denied or unauthenticated (allowed calls may still have failed: errorCode)
--   errorCode      AWS error code, if the call failed
--   eventID        the event's id
SELECT
    eventTime,
    accountId,
    coalesce(principalArn, identityArn, identityType) AS principal,
    eventName,
    CASE
        WHEN json_extract_string(requestParameters, '$.roleName') IS NOT NULL THEN 'role'
        WHEN json_extract_string(requestParameters, '$.groupName') IS NOT NULL THEN 'group'
        WHEN json_extract_string(requestParameters, '$.instanceProfileName') IS NOT NULL THEN 'instance-profile'
        WHEN json_extract_string(requestParameters, '$.userName') IS NOT NULL OR eventName LIKE '%AccessKey' THEN 'user'
        WHEN json_extract_string(requestParameters, '$.policyArn') IS NOT NULL OR eventName LIKE '%Policy%' THEN 'policy'
    END AS targetType,
    coalesce(
        json_extract_string(requestParameters, '$.roleName'),
        json_extract_string(requestParameters, '$.groupName'),
        json_extract_string(requestParameters, '$.instanceProfileName'),
        json_extract_string(requestParameters, '$.userName'),
        CASE WHEN eventName LIKE '%AccessKey' AND identityType = 'IAMUser' THEN regexp_extract(identityArn, '([^/]+)$', 1) END,
        json_extract_string(requestParameters, '$.policyArn'),
        json_extract_string(requestParameters, '$.policyName')
    ) AS target,
    coalesce(
        json_extract_string(requestParameters, '$.policyArn'),
        json_extract_string(requestParameters, '$.policyName')
    ) AS policy,
    coalesce(
        json_extract_string(requestParameters, '$.accessKeyId'),
        json_extract_string(responseElements, '$.accessKey.accessKeyId')
    ) AS accessKeyId,
    outcome,
    errorCode,
    eventID
FROM calls
WHERE eventSource = 'iam.amazonaws.com'
  AND readOnly = false
  AND eventDate BETWEEN $start AND $end
ORDER BY eventTime, eventID
