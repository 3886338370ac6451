-- Every merge's answer is the seed's status for what the database ends
-- with: 200 with an honest count (set=1: k<w>; deleted=1: old<w>, present;
-- gone<w> never was), 404 only for a stack that is gone, 409 only for one
-- being deleted, 413 only for a merge that does not fit under the cap, 503
-- for a database error or a lock timeout. Each row is an answer that the
-- database contradicts. Answers come from pgrace_answers (examples/README.md);
-- an answer whose outcome is unknown (a fault was injected into its
-- statements) is excused.
WITH a AS (
    SELECT a.worker, a.status, a.body, a.faulted, w.key, w.value
    FROM pgrace_answers a JOIN workload w USING (worker)
    WHERE a.status IS NOT NULL
), s AS (
    SELECT (SELECT status FROM stacks WHERE slug = 'stack') AS status,
           (SELECT env FROM stacks WHERE slug = 'stack') AS env
)
SELECT a.worker, a.status || ' ' || a.body AS answer, v.why
FROM a, s, LATERAL (VALUES
    (CASE WHEN a.status = 200 AND a.body <> 'set=1 deleted=1' AND NOT a.faulted
          THEN 'the count is not what the merge did (set=1 deleted=1)' END),
    (CASE WHEN a.status = 404 AND s.env IS NOT NULL THEN '404, but the stack exists' END),
    (CASE WHEN a.status = 409 AND s.status IS DISTINCT FROM 'deleting' THEN '409, but the stack is not being deleted' END),
    (CASE WHEN a.status = 413 AND (s.env IS NULL OR
                                   env_size((s.env - ('old' || a.worker)) || jsonb_build_object(a.key, a.value)) <= 65536)
          THEN '413, but the merge fits under the cap' END),
    (CASE WHEN a.status NOT IN (200, 404, 409, 413, 503) AND NOT a.faulted
          THEN 'a status the seed does not answer' END)
) AS v(why)
WHERE v.why IS NOT NULL;
