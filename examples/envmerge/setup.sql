-- envmerge PATCH (seed 003): the stack table and one iteration's stack.
-- Unqualified names: the runner points search_path at the iteration's
-- schema; pgrace.iteration and pgrace.workers are set by the runner (1 and 8
-- when run by hand).
--
-- Every worker w merges {"k<w>": value, "old<w>": "", "gone<w>": ""}: sets
-- its own key, deletes old<w> (present since here) and gone<w> (never
-- present: a no-op delete the audit count must not count). By iteration:
--   i % 5 = 0    the env starts near the 64 KiB cap, with room for about
--                half of the merges (values of big_len bytes): the rest 413
--   i % 5 = 3    the stack is being torn down (status deleting): every merge 409
--   i % 5 = 4    the stack is gone: every merge 404
--   otherwise    disjoint-key merges on one stack: every merge 200

CREATE TABLE stacks (
    slug   text PRIMARY KEY,
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deleting')),
    env    jsonb NOT NULL DEFAULT '{}'
);

-- The size the cap is on: the env as compact JSON ({"k":"v",...}) in bytes,
-- as every program measures it before its write.
CREATE FUNCTION env_size(env jsonb) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT greatest(2, 1 + coalesce(sum(octet_length(to_json(key)::text) + octet_length(to_json(value)::text) + 2), 0))
    FROM jsonb_each_text(env)
$$;

-- The workload, for the checks: each worker's key and the value it sets
-- (the programs compute the same from PGRACE_WORKER, PGRACE_WORKERS and
-- PGRACE_ITERATION).
CREATE TABLE workload AS
WITH run AS (
    SELECT coalesce(nullif(current_setting('pgrace.iteration', true), ''), '1')::int AS iteration,
           coalesce(nullif(current_setting('pgrace.workers', true), ''), '8')::int AS workers
)
SELECT w AS worker, 'k' || w AS key,
       CASE WHEN iteration % 5 = 0 THEN rpad('v' || w || '-', least(65536 / (4 * workers), 2048), 'x')
            ELSE 'v' || w || '-' END AS value,
       iteration, workers
FROM run, generate_series(1, workers) AS w;

INSERT INTO stacks (slug, status, env)
SELECT 'stack', CASE WHEN min(iteration) % 5 = 3 THEN 'deleting' ELSE 'active' END,
       jsonb_object_agg('old' || worker, 'x')
FROM workload
HAVING min(iteration) % 5 <> 4;

-- Near the cap: a fill key leaving room for about half the merges (each adds
-- its value and drops its old<w>), and half an entry more.
UPDATE stacks s
SET env = s.env || jsonb_build_object('fill', repeat('f', (65536 - env_size(s.env) - length(',"fill":""') - room)::int))
FROM (SELECT greatest(workers / 2, 1) * (big + 16) + (big + 16) / 2 AS room, iteration
      FROM (SELECT min(workers) AS workers, min(iteration) AS iteration,
                   least(65536 / (4 * min(workers)), 2048) AS big
            FROM workload) w) r
WHERE r.iteration % 5 = 0;
