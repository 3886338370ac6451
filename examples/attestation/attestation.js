#!/usr/bin/env node
// attestation.js — the attestation verify of seed 000, in Node over pg:
// issue a credential, promote the identity, mark the record verified and
// link the credential (examples/README.md).
//
//   attestation.js fixed     one transaction: SELECT ... FOR UPDATE on the record
//                            first, the guard (verified or a linked credential)
//                            re-checked under the lock, the identity read inside,
//                            three writes, the credential handed out after COMMIT
//   attestation.js no-lock   the same transaction without FOR UPDATE
//   attestation.js no-tx     three autocommit writes behind an is_verified-only guard
'use strict';
const { Refused, intEnv, inTransaction, run } = require('../worker/worker');

const RECORD_ID = 1;
const GUARD = 'SELECT is_verified, credential_id IS NOT NULL AS linked, identity_id FROM attestation_records WHERE id = $1';

// Reads the record; refuses it when verified (or, with credential, when it
// holds a linked credential). Returns its identity.
async function guard(db, sql, credential) {
  const { rows: [record] } = await db.query(sql, [RECORD_ID]);
  if (!record) throw new Refused(404, 'record not found');
  if (record.is_verified || (credential && record.linked)) throw new Refused(409, 'already verified');
  return record.identity_id;
}

// Checks the identity, then makes the three writes; returns the credential.
async function writes(db, identity) {
  const { rows: [who] } = await db.query('SELECT active FROM identities WHERE id = $1', [identity]);
  if (!who || !who.active) throw new Refused(403, 'identity inactive');
  const token = `tok-${intEnv('PGRACE_ITERATION')}-${intEnv('PGRACE_WORKER')}`;
  const { rows: [{ id }] } = await db.query(
    'INSERT INTO issued_credentials (identity_id, record_id, token) VALUES ($1, $2, $3) RETURNING id',
    [identity, RECORD_ID, token]);
  await db.query('UPDATE identities SET trust_level = GREATEST(trust_level, 2) WHERE id = $1', [identity]);
  await db.query('UPDATE attestation_records SET is_verified = true, credential_id = $2 WHERE id = $1', [RECORD_ID, id]);
  return id;
}

async function verify(db, { tx, lock }) {
  // Fast-fail before the transaction (no-tx: its only guard, on is_verified
  // alone); the guard under the lock is the one that counts.
  const identity = await guard(db, GUARD, tx);
  const credential = !tx ? await writes(db, identity) : await inTransaction(db, async () =>
    writes(db, await guard(db, lock ? `${GUARD} FOR UPDATE` : GUARD, true)));
  return `credential=${credential}`;
}

run('attestation.js', 500, {
  fixed: (db) => verify(db, { tx: true, lock: true }),
  'no-lock': (db) => verify(db, { tx: true, lock: false }),
  'no-tx': (db) => verify(db, { tx: false, lock: false }),
});
