-- Usage by principal, IAM action and resource: how many calls, how many denied, first and last seen.
--
-- Each call counts once for every IAM action it needed (calls.actions) and every resource it named
-- (resources_touched: resources[], or its request parameters when that is empty); a call that named no
-- resource counts under an empty resource. Which of those resources each action authorises is decided
-- by 'trailsmith policy'; this is the raw evidence. Calls that need no permission, or whose action is
-- unknown, are left out.
--
-- Parameters:
--   $start DATE = '1970-01-01'   first eventDate included
--   $end DATE = '9999-12-31'     last eventDate included
--   $principal VARCHAR = '%'     principalArn LIKE pattern, e.g. '%:role/app-%'
--
-- Columns:
--   principalArn   the IAM policy holder (role, user or root ARN)
--   action         IAM action the call needed
--   resource       ARN of a resource the call named, empty when it named none
--   calls          calls by this principal needing this action and naming this resource
--   denied         of those, calls that were denied
--   firstSeen      first such call (UTC)
--   lastSeen       last such call (UTC)
WITH used AS (
    SELECT principalArn, eventID, eventDate, eventTime, outcome, UNNEST(actions) AS action
    FROM calls
    WHERE eventDate BETWEEN $start AND $end
      AND principalArn LIKE $principal
),
touched AS (
    SELECT eventID, eventDate, resourceArn
    FROM resources_touched
    WHERE eventDate BETWEEN $start AND $end
      AND principalArn LIKE $principal
)
SELECT
    u.principalArn,
    u.action,
    t.resourceArn AS resource,
    count(*) AS calls,
    count(*) FILTER (WHERE u.outcome = 'denied') AS denied,
    min(u.eventTime) AS firstSeen,
    max(u.eventTime) AS lastSeen
FROM used AS u
LEFT JOIN touched AS t ON t.eventID = u.eventID AND t.eventDate = u.eventDate
GROUP BY u.principalArn, u.action, t.resourceArn
ORDER BY u.principalArn, u.action, t.resourceArn NULLS FIRST
