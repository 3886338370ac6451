// cases.js — the driver table's cases for node-postgres (t/clients/README.md).
// pg has no pipeline API of its own: the pipeline case writes Parse, Bind
// and Execute three times and one Sync through the client's Connection (pg's
// own protocol writer) and reads what pg makes of the answers.
'use strict';
const { Client } = require('pg');

async function connect() {
  const c = new Client({ host: process.env.PGHOST, port: +process.env.PGPORT, user: process.env.PGUSER,
                         database: process.env.PGDATABASE });
  c.on('error', () => {});        // a lost connection is reported by the query that saw it
  await c.connect();
  return c;
}

// What the driver raised: its class and its code attribute (else its message).
function raised(e) {
  return e.constructor.name + (e.code ? '/' + e.code : '(' + e.message + ')');
}

async function outcome(p) {
  try {
    await p;
    return 'none';
  } catch (e) {
    return raised(e);
  }
}

async function count(c, where) {
  const r = await c.query('SELECT count(*)::int AS n FROM pgf_rows WHERE ' + where);
  return r.rows[0].n;
}

async function commit(row) {
  const k = await connect();
  return outcome((async () => {
    await k.query('BEGIN');
    await k.query('INSERT INTO pgf_rows VALUES (' + row + ')');
    await k.query('COMMIT');
  })());
}

// Three Executes before one Sync; the first error pg reports for them
// (pg's Client then counts the connection as failed: its last use).
function pipeline(c) {
  return new Promise((resolve) => {
    const con = c.connection;
    let first = null;
    const onError = (e) => { if (!first) first = e; };
    con.on('errorMessage', onError);
    con.once('readyForQuery', () => {
      con.removeListener('errorMessage', onError);
      resolve(first ? raised(first) : 'none');
    });
    con.parse({ name: '', text: 'INSERT INTO pgf_rows VALUES ($1) /* pgf-pipe */', types: [] });
    for (const id of [10, 11, 12]) {
      con.bind({ portal: '', statement: '', values: [String(id)] });
      con.execute({ portal: '', rows: 0 });
    }
    con.sync();
  });
}

(async () => {
  const c = await connect();                                    // connection 1
  await c.query('CREATE TABLE IF NOT EXISTS pgf_rows (id int PRIMARY KEY)');
  for (const tag of ['ser', 'dl', 'uv'])
    console.log(tag + '=' + await outcome(c.query('SELECT 1 /* pgf-' + tag + ' */')));
  await c.query('BEGIN');
  await c.query('SELECT 1');
  console.log('intx=' + await outcome(c.query('SELECT 1 /* pgf-ser */')));
  console.log('next=' + await outcome(c.query('SELECT 2')));
  await c.query('ROLLBACK');
  console.log('commit=' + await commit(20));                    // connection 2
  const v = await connect();                                    // connection 3
  console.log('commit_rows=' + await count(v, 'id = 20'));
  const d = await connect();                                    // connection 4
  console.log('drop=' + await outcome(d.query('SELECT 1 /* pgf-drop */')));
  console.log('ambiguous=' + await commit(30));                 // connection 5
  const w = await connect();                                    // connection 6
  console.log('ambiguous_rows=' + await count(w, 'id = 30'));
  const m = await connect();                                    // connection 7
  // query() without values: one simple Query of three statements.
  console.log('multi=' + await outcome(m.query('BEGIN; INSERT INTO pgf_rows VALUES (40); COMMIT')));
  const x = await connect();                                    // connection 8
  console.log('multi_rows=' + await count(x, 'id = 40'));
  // Last on connection 1: pg takes an error it did not ask for as the end
  // of the client.
  console.log('pipeline=' + await pipeline(c));
  console.log('pipeline_rows=' + await count(x, 'id BETWEEN 10 AND 12'));
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
