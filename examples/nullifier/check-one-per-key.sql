-- One submission per idempotency key (every retry of a request gets the
-- same one). Each row is a key with more than one.
SELECT idempotency_key, count(*) AS submissions, string_agg(id::text, ', ' ORDER BY id) AS ids
FROM submissions
WHERE idempotency_key IS NOT NULL
GROUP BY idempotency_key
HAVING count(*) > 1;
