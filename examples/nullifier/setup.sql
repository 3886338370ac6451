-- nullifier submission (seed 002), the fixed schema: unique constraints on
-- nullifier and idempotency_key, the defence in depth that closes the race
-- at READ COMMITTED. Unqualified names: the runner points search_path at
-- the iteration's schema. The calls create the rows.
CREATE TABLE submissions (
    id              bigserial PRIMARY KEY,
    nullifier       text NOT NULL UNIQUE,
    idempotency_key text UNIQUE,
    created_at      timestamptz NOT NULL DEFAULT now()
);
