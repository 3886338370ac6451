#!/usr/bin/env node
// envmerge.js — PATCH /stacks/:slug/env of seed 003, in Node over pg: merge
// a delta into a stack's env (a jsonb object; an empty value deletes its
// key), 64 KiB cap, no change to a stack being torn down (examples/README.md).
//
//   envmerge.js fixed   one transaction (#235 + #238): SET LOCAL lock_timeout,
//                       SELECT status, env ... FOR UPDATE, refuse a deleting
//                       stack under the lock, merge here, the cap before the
//                       write, write, commit; the count counts real upserts
//   envmerge.js rmw     before #235: the handler's status pre-read, an unlocked
//                       env read, merge here, a blind overwrite (concurrent
//                       merges lose each other's keys); count len(delta) - deletes
'use strict';
const { Refused, intEnv, inTransaction, run } = require('../worker/worker');

const SLUG = 'stack';
const ENV_CAP = 64 * 1024; // bytes of the env as compact JSON

// Worker w's PATCH body: sets k<w>, deletes old<w> (present) and gone<w>
// (never present). Near the cap (every 5th iteration) values are big, so
// that about half of the merges fit.
function delta() {
  const w = intEnv('PGRACE_WORKER');
  let value = `v${w}-`;
  if (intEnv('PGRACE_ITERATION') % 5 === 0) {
    value = value.padEnd(Math.min(Math.floor(ENV_CAP / (4 * intEnv('PGRACE_WORKERS'))), 2048), 'x');
  }
  return { [`k${w}`]: value, [`old${w}`]: '', [`gone${w}`]: '' };
}

// Applies d to env and returns its counts: the keys set and the deleted
// keys that were present (honest), or len(d) - deletes as before #238.
function merge(env, d, honest) {
  let set = 0;
  let deleted = 0;
  for (const [k, v] of Object.entries(d)) {
    if (v !== '') {
      env[k] = v;
      set += 1;
    } else if (k in env) {
      delete env[k];
      deleted += 1;
    }
  }
  return `set=${honest ? set : Object.keys(d).length - deleted} deleted=${deleted}`;
}

// Reads the stack's env with sql; refuses a stack that is gone (404) or,
// with checkStatus, being deleted (409).
async function readEnv(db, sql, checkStatus) {
  const { rows: [stack] } = await db.query(sql, [SLUG]);
  if (!stack) throw new Refused(404, 'stack not found');
  if (checkStatus && stack.status === 'deleting') throw new Refused(409, 'stack is being deleted');
  return stack.env;
}

// Checks the cap, then overwrites the env.
async function write(db, env) {
  const text = JSON.stringify(env);
  if (Buffer.byteLength(text) > ENV_CAP) throw new Refused(413, 'env too large');
  const { rowCount } = await db.query('UPDATE stacks SET env = $2 WHERE slug = $1', [SLUG, text]);
  if (rowCount === 0) throw new Refused(404, 'stack not found');
}

function mergeFixed(db) {
  return inTransaction(db, async () => {
    // First: a merge queued behind a long-held row lock fails fast (503).
    await db.query("SET LOCAL lock_timeout = '3s'");
    const env = await readEnv(db, 'SELECT status, env FROM stacks WHERE slug = $1 FOR UPDATE', true);
    const counts = merge(env, delta(), true);
    await write(db, env);
    return counts;
  });
}

async function mergeRmw(db) {
  const { rows: [stack] } = await db.query('SELECT status FROM stacks WHERE slug = $1', [SLUG]);
  if (!stack) throw new Refused(404, 'stack not found');
  if (stack.status === 'deleting') throw new Refused(409, 'stack is being deleted');
  const env = await readEnv(db, 'SELECT status, env FROM stacks WHERE slug = $1', false);
  const counts = merge(env, delta(), false);
  await write(db, env);
  return counts;
}

run('envmerge.js', 503, { fixed: mergeFixed, rmw: mergeRmw });
