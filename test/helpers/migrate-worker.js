// A separate node process that runs rococo's migrate(): `node migrate-worker.js <url> <dir>`.
// It connects, prints "ready", waits for "go" on stdin (so that two workers start together),
// migrates, and prints one JSON line: { applied } or { error, code }.
'use strict';
const path = require('node:path');
require('ts-node').register({
  transpileOnly: true,
  project: path.join(__dirname, '..', '..', 'tsconfig.json'),
});
const { Database } = require('../../src/database/database');
const { migrate } = require('../../src/database/migrations');

async function main() {
  const [url, dir] = process.argv.slice(2);
  const db = Database.create({ url, max: 2 }, null);
  await db.query('SELECT 1');
  process.stdout.write('ready\n');
  await new Promise((resolve) => {
    let buf = '';
    process.stdin.on('data', (d) => {
      buf += d;
      if (buf.includes('go')) resolve();
    });
  });
  process.stdin.pause();
  let code = 0;
  try {
    const applied = await migrate(db, dir);
    process.stdout.write(JSON.stringify({ applied }) + '\n');
  } catch (err) {
    process.stdout.write(
      JSON.stringify({ error: String(err && err.message), code: err && err.code }) + '\n',
    );
    code = 1;
  }
  await db.close();
  process.exit(code);
}

main().catch((err) => {
  process.stdout.write(
    JSON.stringify({ error: String(err && err.message), code: 'WORKER' }) + '\n',
  );
  process.exit(2);
});
