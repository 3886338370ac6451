// worker.js — the Node programs' side of pgrace exec's worker contract
// (examples/README.md): the form from the first argument, a connection from
// the standard environment, one call, its answer as the last line of
// stdout, exit 0 once answered — 1 when the program could not connect, 2
// for a form it does not know.
'use strict';
const { Client } = require('pg');

// An answer other than 200 that the operation gives on purpose (409
// already verified, 404 not found, ...).
class Refused extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// Runs work in one transaction: COMMIT when it resolves (so that its result
// is handed out only once COMMIT succeeded), ROLLBACK when it throws.
async function inTransaction(db, work) {
  await db.query('BEGIN');
  try {
    const result = await work();
    await db.query('COMMIT');
    return result;
  } catch (e) {
    await db.query('ROLLBACK').catch(() => {});
    throw e;
  }
}

// The environment variable name as a number.
function intEnv(name) {
  return Number(process.env[name]);
}

// Runs the form the first argument names once and prints its answer: forms
// maps each form to an async function of the client that resolves to the
// body of its 200 answer. A database or connection error answers dbStatus,
// with the SQLSTATE when there is one (pg's connection errors have none).
function run(name, dbStatus, forms) {
  const form = process.argv.length === 3 && Object.hasOwn(forms, process.argv[2]) ? forms[process.argv[2]] : null;
  if (!form) {
    console.error(`usage: ${name} ${Object.keys(forms).sort().join('|')}`);
    process.exit(2);
  }
  const main = async () => {
    // pg reads the PG* variables; DATABASE_URL, when set, wins.
    const db = new Client(process.env.DATABASE_URL ? { connectionString: process.env.DATABASE_URL } : {});
    // A connection that ends unexpectedly rejects the query in flight and
    // also emits 'error', which would crash the process unheard: the
    // rejection is the answer.
    db.on('error', () => {});
    await db.connect();
    try {
      console.log(`200 ${await form(db)}`);
    } catch (e) {
      if (e instanceof Refused) console.log(`${e.status} ${e.message}`);
      else console.log(`${dbStatus} ${e.code ? `${e.code} ` : ''}${e.message}`);
    } finally {
      await db.end();
    }
  };
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

module.exports = { Refused, intEnv, inTransaction, run };
