-- No lost keys: every merge answered 200 left its key with its value and
-- its delete deleted, whatever the other merges wrote. Each row is a 200
-- whose merge is not in the stack's env.
SELECT a.worker, w.key, CASE WHEN s.slug IS NULL THEN 'the stack is gone'
                             WHEN NOT s.env ? w.key THEN w.key || ' is missing'
                             WHEN s.env ->> w.key <> w.value THEN w.key || ' has another value'
                             ELSE 'deleted old' || a.worker || ' is back' END AS why
FROM pgrace_answers a
JOIN workload w USING (worker)
LEFT JOIN stacks s ON s.slug = 'stack'
WHERE a.status = 200
  AND (s.slug IS NULL OR s.env ->> w.key IS DISTINCT FROM w.value OR s.env ? ('old' || a.worker));
