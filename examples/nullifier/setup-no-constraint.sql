-- nullifier submission (seed 002), the schema before the fix: the columns
-- are indexed for the lookups, not unique (the no-constraint form runs on it).
CREATE TABLE submissions (id bigserial PRIMARY KEY, nullifier text NOT NULL, idempotency_key text,
                          created_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX ON submissions (nullifier);
CREATE INDEX ON submissions (idempotency_key);
