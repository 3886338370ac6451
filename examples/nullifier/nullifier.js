#!/usr/bin/env node
// nullifier.js — the submission create of seed 002, in Node over pg: a
// nullifier may be spent once (409 for a second submission), and a retry of
// a request (same idempotency key) gets the submission it created (200)
// (examples/README.md).
//
//   nullifier.js fixed           one transaction: key lookup, nullifier check,
//                                insert, on a table with unique constraints; a
//                                unique violation (23505) resolved by re-reading
//                                the key: the caller's own request (200) or 409
//   nullifier.js no-constraint   the seed's before: check-then-insert in
//                                autocommit statements, no constraints
//                                (run it on setup-no-constraint.sql)
//   nullifier.js unmapped-23505  the seed's fix as written: transaction, key
//                                lookup, constraints, but a 23505 is a 500
'use strict';
const { Refused, intEnv, inTransaction, run } = require('../worker/worker');

const duplicate = () => new Refused(409, 'duplicate nullifier');

// Worker w's submission in iteration i: every worker plays role i % 3 —
// racers (one nullifier, a key each), retriers (one request sent N times)
// or reusers (one key reused for a nullifier each).
function request() {
  const w = intEnv('PGRACE_WORKER');
  switch (intEnv('PGRACE_ITERATION') % 3) {
    case 0: return { nullifier: 'nf-race', key: `key-w${w}` };
    case 1: return { nullifier: 'nf-retry', key: 'key-retry' };
    default: return { nullifier: `nf-reuse-w${w}`, key: 'key-reuse' };
  }
}

async function byKey(db, key) {
  const { rows: [row] } = await db.query('SELECT id FROM submissions WHERE idempotency_key = $1', [key]);
  return row ? row.id : null;
}

// Looks the key up (a retry: its submission), checks the nullifier and
// inserts; returns the submission's id.
async function submit(db, ownKey) {
  const { nullifier, key } = request();
  const mine = await byKey(db, key);
  if (mine !== null) return mine;
  const { rows: [holder] } = await db.query(
    "SELECT id, coalesce(idempotency_key, '') AS key FROM submissions WHERE nullifier = $1", [nullifier]);
  if (holder) {
    // Each statement reads its own snapshot: the caller's own request may
    // have committed since the key lookup. Its row is the caller's
    // submission, not a double spend.
    if (ownKey && holder.key === key) return holder.id;
    throw duplicate();
  }
  const { rows: [{ id }] } = await db.query(
    'INSERT INTO submissions (nullifier, idempotency_key) VALUES ($1, $2) RETURNING id', [nullifier, key]);
  return id;
}

// The fixed form: the submission in one transaction, a unique violation
// resolved by the key.
async function create(db) {
  try {
    return await inTransaction(db, () => submit(db, true));
  } catch (e) {
    if (e.code !== '23505') throw e;
    // A concurrent insert won (it is committed now): the caller's own
    // request when it holds the key, else a double spend.
    const mine = await byKey(db, request().key);
    if (mine === null) throw duplicate();
    return mine;
  }
}

run('nullifier.js', 500, {
  fixed: async (db) => `id=${await create(db)}`,
  'no-constraint': async (db) => `id=${await submit(db, false)}`,
  'unmapped-23505': async (db) => `id=${await inTransaction(db, () => submit(db, false))}`,
});
