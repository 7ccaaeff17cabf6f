-- Who passed which role to which service (iam:PassRole, which CloudTrail never records as such).
--
-- Read from the request parameters of the calls that hand a role to a service: Lambda functions (role),
-- ECS task definitions (taskRoleArn, executionRoleArn), CloudFormation stacks (roleARN), EC2 instances
-- (iamInstanceProfile: an instance profile, whose role the event does not name), Glue jobs (role), Step
-- Functions state machines (roleArn) and CodeBuild projects (serviceRole).
--
-- Parameters:
--   $start DATE = '1970-01-01'   first eventDate included
--   $end DATE = '9999-12-31'     last eventDate included
--
-- Columns:
--   principalArn   who passed the role (the IAM policy holder that needs iam:PassRole)
--   role           role ARN (or name, or instance profile) passed
--   service        service the role was passed to
--   via            the call and request parameter that carried it
--   calls          calls passing it
--   denied         of those, calls that were denied
--   firstSeen      first call (UTC)
--   lastSeen       last call (UTC)
WITH requests AS (
    SELECT principalArn, eventSource, eventName, outcome, eventTime, requestParameters AS p
    FROM calls
    WHERE requestParameters IS NOT NULL
      AND eventSource IN (
          'lambda.amazonaws.com', 'ecs.amazonaws.com', 'cloudformation.amazonaws.com', 'ec2.amazonaws.com',
          'glue.amazonaws.com', 'states.amazonaws.com', 'codebuild.amazonaws.com'
      )
      AND eventDate BETWEEN $start AND $end
),
passed AS (
    SELECT principalArn, json_extract_string(p, '$.role') AS role, 'lambda.amazonaws.com' AS service,
           eventName || ' role' AS via, outcome, eventTime
    FROM requests
    WHERE eventSource = 'lambda.amazonaws.com'
      AND (eventName LIKE 'CreateFunction%' OR eventName LIKE 'UpdateFunctionConfiguration%')
    UNION ALL
    SELECT principalArn, json_extract_string(p, '$.taskRoleArn'), 'ecs-tasks.amazonaws.com',
           eventName || ' taskRoleArn', outcome, eventTime
    FROM requests
    WHERE eventSource = 'ecs.amazonaws.com' AND eventName = 'RegisterTaskDefinition'
    UNION ALL
    SELECT principalArn, json_extract_string(p, '$.executionRoleArn'), 'ecs-tasks.amazonaws.com',
           eventName || ' executionRoleArn', outcome, eventTime
    FROM requests
    WHERE eventSource = 'ecs.amazonaws.com' AND eventName = 'RegisterTaskDefinition'
    UNION ALL
    SELECT principalArn, json_extract_string(p, '$.roleARN'), 'cloudformation.amazonaws.com',
           eventName || ' roleARN', outcome, eventTime
    FROM requests
    WHERE eventSource = 'cloudformation.amazonaws.com'
      AND eventName IN ('CreateStack', 'UpdateStack', 'CreateChangeSet', 'CreateStackSet', 'UpdateStackSet')
    UNION ALL
    SELECT principalArn,
           coalesce(json_extract_string(p, '$.iamInstanceProfile.arn'),
                    'instance-profile/' || json_extract_string(p, '$.iamInstanceProfile.name')),
           'ec2.amazonaws.com', eventName || ' iamInstanceProfile', outcome, eventTime
    FROM requests
    WHERE eventSource = 'ec2.amazonaws.com' AND eventName = 'RunInstances'
    UNION ALL
    SELECT principalArn, json_extract_string(p, '$.role'), 'glue.amazonaws.com',
           eventName || ' role', outcome, eventTime
    FROM requests
    WHERE eventSource = 'glue.amazonaws.com' AND eventName IN ('CreateJob', 'UpdateJob', 'CreateCrawler', 'UpdateCrawler')
    UNION ALL
    SELECT principalArn, json_extract_string(p, '$.roleArn'), 'states.amazonaws.com',
           eventName || ' roleArn', outcome, eventTime
    FROM requests
    WHERE eventSource = 'states.amazonaws.com' AND eventName IN ('CreateStateMachine', 'UpdateStateMachine')
    UNION ALL
    SELECT principalArn, json_extract_string(p, '$.serviceRole'), 'codebuild.amazonaws.com',
           eventName || ' serviceRole', outcome, eventTime
    FROM requests
    WHERE eventSource = 'codebuild.amazonaws.com' AND eventName IN ('CreateProject', 'UpdateProject')
)
SELECT
    principalArn,
    role,
    service,
    via,
    count(*) AS calls,
    count(*) FILTER (WHERE outcome = 'denied') AS denied,
    min(eventTime) AS firstSeen,
    max(eventTime) AS lastSeen
FROM passed
WHERE role IS NOT NULL AND role <> ''
GROUP BY principalArn, role, service, via
ORDER BY principalArn, role, service, via
