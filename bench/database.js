'use strict';
// The table of the /db scenario (common.js's DB_QUERY): DB_ROWS rows, made once. run.js and
// callgrind.js call this before any server serves /db.
const { DATABASE_URL, DB_ROWS } = require('./servers/common');

async function prepareDatabase(url = DATABASE_URL) {
  // Required here: bench/node_modules may not be installed yet when this file is loaded.
  const { Client } = require('pg');
  const client = new Client({ connectionString: url });
  try {
    await client.connect();
  } catch (e) {
    throw new Error(
      `cannot reach PostgreSQL at ${url.replace(/\/\/[^@]*@/, '//')} (set DATABASE_URL): ${e.message}`,
      { cause: e },
    );
  }
  await client.query(
    'CREATE TABLE IF NOT EXISTS bench_items (id integer PRIMARY KEY, name text NOT NULL)',
  );
  const { rows } = await client.query('SELECT count(*)::int AS n FROM bench_items');
  if (rows[0].n !== DB_ROWS) {
    await client.query('TRUNCATE bench_items');
    await client.query(
      "INSERT INTO bench_items SELECT i, 'item ' || i FROM generate_series(1, $1::int) AS i",
      [DB_ROWS],
    );
  }
  await client.end();
}

module.exports = { prepareDatabase };
