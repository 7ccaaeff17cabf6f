-- Actions first seen in a window (new behaviour): IAM actions each principal used for the first time lately.
--
-- Lately means the last $days days of the warehouse: the window ends at the latest eventDate it holds.
-- "First time" is over the whole warehouse, so the longer the history, the more meaningful the answer.
-- Denied attempts count: trying something new is behaviour too.
--
-- Parameters:
--   $days INTEGER = 1   length of the window in days, ending at the latest eventDate
--
-- Columns:
--   principalArn   the IAM policy holder
--   action         IAM action it used for the first time in the window
--   firstSeen      first call needing it (UTC)
--   lastSeen       last call needing it (UTC)
--   calls          calls needing it
--   denied         of those, calls that were denied
WITH needed AS (
    SELECT principalArn, eventDate, eventTime, outcome, UNNEST(actions) AS action
    FROM calls
    WHERE principalArn IS NOT NULL
),
used AS (
    SELECT
        principalArn,
        action,
        min(eventDate) AS firstDate,
        min(eventTime) AS firstSeen,
        max(eventTime) AS lastSeen,
        count(*) AS calls,
        count(*) FILTER (WHERE outcome = 'denied') AS denied
    FROM needed
    GROUP BY principalArn, action
)
SELECT principalArn, action, firstSeen, lastSeen, calls, denied
FROM used
WHERE firstDate > (SELECT max(eventDate) FROM events) - $days
ORDER BY firstSeen, principalArn, action
