-- pgbench's side of `make bench`: one attestation verify on a fresh record,
-- the same statements the fixed form in scenarios/attestation.c runs on its
-- ok path (setup of the record included, as pgrace's iterations do).
\set id random(1, 1000000000)
INSERT INTO bench.identities (id) VALUES (:id) ON CONFLICT DO NOTHING;
INSERT INTO bench.attestation_records (id, identity_id, proof) VALUES (:id, :id, 'proof') ON CONFLICT DO NOTHING;
SELECT is_verified, credential_id IS NOT NULL, identity_id FROM bench.attestation_records WHERE id = :id;
BEGIN;
SELECT is_verified, credential_id IS NOT NULL, identity_id FROM bench.attestation_records WHERE id = :id FOR UPDATE;
SELECT active FROM bench.identities WHERE id = :id;
INSERT INTO bench.issued_credentials (identity_id, record_id, token) VALUES (:id, :id, 'tok') RETURNING id \gset cred_
UPDATE bench.identities SET trust_level = GREATEST(trust_level, 2) WHERE id = :id;
UPDATE bench.attestation_records SET is_verified = true, credential_id = :cred_id WHERE id = :id;
COMMIT;
