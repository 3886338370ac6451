-- One submission per nullifier (no double spend). Each row is a nullifier
-- with more than one.
SELECT nullifier, count(*) AS submissions, string_agg(id::text, ', ' ORDER BY id) AS ids
FROM submissions
GROUP BY nullifier
HAVING count(*) > 1;
