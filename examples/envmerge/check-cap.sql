-- The env never exceeds the 64 KiB cap (compact JSON). Each row is a stack over it.
SELECT slug, env_size(env) AS bytes, (SELECT count(*) FROM jsonb_object_keys(env)) AS keys
FROM stacks
WHERE env_size(env) > 65536;
