-- What each caller was told agrees with the database (the seed's collision
-- and idempotency tests): a 200 names the submission its idempotency key
-- has; a 409 only when its key has none; nothing but 200 and 409; someone
-- got 200. Each row is an answer the database contradicts. Answers come
-- from pgrace_answers (examples/README.md); an answer whose outcome is
-- unknown (no answer, or a fault was injected into its statements) excuses
-- what it may have done.
--
-- Each caller's request, as the programs derive it: in iteration i every
-- worker plays role i % 3 — racers (0: one nullifier, a key each), retriers
-- (1: one request sent N times: one nullifier, one key), reusers (2: one key
-- reused for a nullifier each).
WITH a AS (
    SELECT a.worker, a.status, a.body, a.faulted OR a.status IS NULL AS unknown,
           substring(a.body FROM 'id=(\d+)')::bigint AS id,
           CASE r.role WHEN 0 THEN 'key-w' || a.worker WHEN 1 THEN 'key-retry' ELSE 'key-reuse' END AS idempotency_key
    FROM pgrace_answers a,
         (SELECT coalesce(nullif(current_setting('pgrace.iteration', true), ''), '1')::int % 3 AS role) r
), k AS (
    SELECT a.*, (SELECT string_agg(s.id::text, ', ' ORDER BY s.id) FROM submissions s
                 WHERE s.idempotency_key = a.idempotency_key) AS key_ids
    FROM a
)
SELECT k.worker, k.status || ' ' || k.body AS answer, v.why
FROM k, LATERAL (VALUES
    (CASE WHEN k.status = 200 AND k.id::text IS DISTINCT FROM k.key_ids
          THEN '200, but key ' || k.idempotency_key || ' has ' || coalesce('submission ' || k.key_ids, 'none') END),
    (CASE WHEN k.status = 409 AND k.key_ids IS NOT NULL AND NOT k.unknown
          THEN '409, but key ' || k.idempotency_key || ' has submission ' || k.key_ids END),
    (CASE WHEN k.status NOT IN (200, 409) AND NOT k.unknown
          THEN 'neither 200 nor 409, and no fault was injected' END)
) AS v(why)
WHERE v.why IS NOT NULL
UNION ALL
SELECT NULL, NULL, 'no call got 200'
WHERE NOT EXISTS (SELECT 1 FROM a WHERE a.status = 200 OR a.unknown);
