-- The attestation tables for pgbench (mirrors scenarios/attestation.c).
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;
CREATE TABLE bench.identities (id bigint PRIMARY KEY, trust_level int NOT NULL DEFAULT 0,
                               active boolean NOT NULL DEFAULT true);
CREATE TABLE bench.attestation_records (id bigint PRIMARY KEY, identity_id bigint NOT NULL REFERENCES bench.identities,
                                        proof text NOT NULL, is_verified boolean NOT NULL DEFAULT false,
                                        credential_id bigint);
CREATE TABLE bench.issued_credentials (id bigserial PRIMARY KEY, identity_id bigint NOT NULL REFERENCES bench.identities,
                                       record_id bigint NOT NULL, token text NOT NULL,
                                       issued_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX ON bench.issued_credentials (record_id);
