-- attestation verify (seed 000): the seed's schema and one iteration's rows.
-- Unqualified names: the runner points search_path at the iteration's
-- schema. pgrace.iteration is set by the runner (1 when run by hand).
--
-- Every worker verifies record 1 of identity 1 (the seed's N=8 test: one
-- 200, the rest 409). Every fourth iteration the identity is inactive: then
-- every verify is refused with 403 and nothing is written.

CREATE TABLE identities (
    id          bigint PRIMARY KEY,
    trust_level int NOT NULL DEFAULT 0,
    active      boolean NOT NULL DEFAULT true
);

CREATE TABLE attestation_records (
    id          bigint PRIMARY KEY,
    identity_id bigint NOT NULL REFERENCES identities,
    proof       text NOT NULL,
    is_verified boolean NOT NULL DEFAULT false,
    credential_id bigint
);

-- No unique constraint on record_id: the seed's schema had none, which is
-- why the bug could mint two.
CREATE TABLE issued_credentials (
    id          bigserial PRIMARY KEY,
    identity_id bigint NOT NULL REFERENCES identities,
    record_id   bigint NOT NULL,
    token       text NOT NULL,
    issued_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON issued_credentials (record_id);
-- The link is the relation it always was (scenarios/attestation.c has the
-- same key): the serial oracle then names a credential's generated id alike
-- where the record links it (README: the serial oracle under pgrace exec).
ALTER TABLE attestation_records ADD FOREIGN KEY (credential_id) REFERENCES issued_credentials;

INSERT INTO identities (id, active)
VALUES (1, coalesce(nullif(current_setting('pgrace.iteration', true), ''), '1')::int % 4 <> 0);
INSERT INTO attestation_records (id, identity_id, proof) VALUES (1, 1, 'proof-1');
