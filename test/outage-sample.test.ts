import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import WebSocket from 'ws';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { waitFor } from './helpers/pg-admin';
import { freePort, RedisServer, redisServerBinary } from './helpers/redis-server';
import { BROWSER, DEMO, TEST_SESSION_KEY } from './helpers/sample';
import { TcpProxy } from './helpers/tcp-proxy';
import { compileProject } from './helpers/compile';

/**
 * Issue 15 as it was found: the sample under `rococo serve -w 2` and steady load (pages of a
 * logged-in user, the API, a live page's WebSocket), PostgreSQL cut through a TCP proxy, then
 * its redis-server (sessions, hub, viewer counts) killed; each for 3 s. It wrote some 1.7 log
 * lines per failed request (a warning with the stack, then "the error page could not be
 * rendered" with another); now each worker writes a line with the stack and an "is back" line
 * per dependency. The sample and the CLI are compiled by tsc into a folder of this run.
 */

const OUTAGE_MS = 3000;

interface Line {
  time: number;
  pid: number;
  level: number;
  msg: string;
  err?: { stack?: string };
  [key: string]: unknown;
}

let out = '';
let tdb: TestDatabase;
let redis: RedisServer;
let master: ChildProcess | null = null;

const describeRedis = redisServerBinary() === null ? describe.skip : describe;

describeRedis(
  'the sample under rococo serve -w 2: PostgreSQL cut, then Redis killed, under load',
  () => {
    beforeAll(async () => {
      out = await compileProject(['src', 'sample'], 'rococo-outage-test-');
      tdb = await createTestDatabase();
      redis = await RedisServer.start();
    }, 120_000);

    afterAll(async () => {
      if (master !== null && master.exitCode === null && master.signalCode === null) {
        const exited = new Promise((resolve) => master?.once('exit', resolve));
        try {
          process.kill(-(master.pid as number), 'SIGKILL');
        } catch {
          // gone
        }
        await exited;
      }
      await redis?.dispose();
      await tdb?.drop();
      if (out !== '') rmSync(out, { recursive: true, force: true });
    });

    test('each outage: a line with the stack and an "is back" line per worker and dependency, nothing per request', async () => {
      const pg = new URL(process.env.DATABASE_URL as string);
      const proxy = new TcpProxy(pg.hostname, Number(pg.port || 5432));
      const url = new URL(tdb.url);
      url.hostname = '127.0.0.1';
      url.port = String(await proxy.start());
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const lines: Line[] = [];
      const child = spawn(
        process.execPath,
        [
          join(out, 'src/cli/main.js'),
          'serve',
          'sample/serve.js',
          '-w',
          '2',
          '-b',
          `127.0.0.1:${port}`,
        ],
        {
          cwd: out,
          env: {
            ...process.env,
            NODE_ENV: 'production',
            LOG_LEVEL: 'info',
            DATABASE_URL: url.toString(),
            REDIS_URL: redis.url,
            SESSION_KEYS: TEST_SESSION_KEY,
            SESSION_MAX_AGE: '600',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true, // its own process group: afterAll can kill the master and its workers
        },
      );
      master = child;
      let buffered = '';
      let stderr = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        buffered += chunk;
        const parts = buffered.split('\n');
        buffered = parts.pop() as string;
        for (const part of parts) {
          try {
            lines.push(JSON.parse(part) as Line);
          } catch {
            // not a log line
          }
        }
      });
      child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk));
      const agent = new Agent({ keepAlive: true, maxSockets: 16 });
      let ws: WebSocket | null = null;
      // The clients' loops run until this is false: a failing assertion must stop them too, or
      // they would keep the test process alive after the server is gone.
      let running = true;
      let clients: Promise<void>[] = [];
      try {
        await waitFor(
          () => lines.filter((l) => l.msg === 'worker serving').length === 2,
          30_000,
          `two workers serving (stderr: ${stderr})`,
        );
        const cookie = await logIn(base, agent);

        // A live page open: its worker's hub subscribes and counts the viewer in Redis.
        ws = new WebSocket(`ws://127.0.0.1:${port}/projects/1/live`, {
          headers: { cookie, origin: base },
        });
        ws.on('error', () => {});
        const viewers = new Promise((resolve) => ws?.once('message', resolve));
        await viewers;

        // 12 clients, one request after another each: a logged-in user's pages, a visitor's page, the API.
        const mix: [string, Record<string, string>][] = [
          ['/projects', { ...BROWSER, cookie }],
          ['/projects/1', { ...BROWSER, cookie }],
          ['/', BROWSER],
          ['/api/projects', {}],
        ];
        const answers: { t: number; status: number }[] = [];
        clients = Array.from({ length: 12 }, async (_, i) => {
          for (let n = i; running; n++) {
            const [path, headers] = mix[n % mix.length];
            const { status } = await send(base, agent, 'GET', path, headers);
            answers.push({ t: Date.now(), status });
          }
        });
        const ok = (from: number) => answers.some((a) => a.t > from && a.status === 200);
        const back = (name: string, from: number) =>
          lines.filter((l) => l.time > from && l.msg.startsWith(`${name} is back`)).length;

        await sleep(1000);
        const pgCut = Date.now();
        await proxy.stop();
        await sleep(OUTAGE_MS);
        const pgRestored = Date.now();
        await proxy.start();
        await waitFor(() => ok(pgRestored), 10_000, 'pages to work again after PostgreSQL');
        // Every worker whose requests failed says the database is back. A worker whose only line
        // is an idle connection's failure says so at its next query, which under load may never
        // come in this test: the kernel hands connections to workers, and all of the clients'
        // may sit on the other one (seen in CI, with the lines below).
        const pgFirst = () =>
          lines.filter(
            (l) => l.time > pgCut && l.err !== undefined && /^database unavailable/.test(l.msg),
          );
        const backFrom = () =>
          new Set(
            lines
              .filter((l) => l.time > pgCut && l.msg.startsWith('database is back'))
              .map((l) => l.pid),
          );
        // The line waits for a second without failures; on a loaded machine requests of the outage
        // may still fail for a while after the first success.
        // 30 s: under the full suite's load the last failing request of a worker may come late.
        const databaseLines = () =>
          lines
            .filter((l) => l.time > pgCut && /database/.test(l.msg))
            .map((l) => `${l.pid}: ${l.msg}`)
            .join('; ');
        // At least one worker's requests failed, so at least one "back"; a worker whose first
        // line of the outage was an idle connection's logs no "database unavailable" line even
        // when its requests failed after it (seen in CI: two idle lines, then two "back" lines).
        await waitFor(
          () => backFrom().size > 0 && pgFirst().every((l) => backFrom().has(l.pid)),
          30_000,
          '"database is back" lines',
          databaseLines,
        );
        await sleep(1000);

        const redisCut = Date.now();
        await redis.stop();
        await sleep(OUTAGE_MS);
        const redisRestored = Date.now();
        await redis.start();
        // ioredis tries again every 2 s at most.
        await waitFor(
          () => back('sessions: Redis', redisCut) >= 1 && ok(redisRestored + 1000),
          10_000,
          'sessions to work again after Redis',
        );
        await sleep(1500);
        running = false;
        await Promise.all(clients);
        const end = Date.now();

        const report = (from: number, to: number) => {
          const all = lines.filter((l) => l.time >= from && l.time < to);
          const other = all.filter((l) => l.msg !== 'request');
          const failed = answers.filter((a) => a.t >= from && a.t < to && a.status === 503).length;
          return { requests: all.length - other.length, failed, other };
        };
        const pgWindow = report(pgCut, redisCut);
        const redisWindow = report(redisCut, end);
        const show = (w: { other: Line[] }) =>
          w.other.map((l) => `${l.pid} ${l.level} ${l.msg}`).join('\n');

        // Hundreds of requests refused with a 503 in each outage...
        expect(pgWindow.failed).toBeGreaterThanOrEqual(100);
        expect(redisWindow.failed).toBeGreaterThanOrEqual(100);
        expect(answers.filter((a) => a.status !== 200 && a.status !== 503)).toEqual([]);
        // ...and a handful of lines: nothing per request, no second line for the error page.
        for (const w of [pgWindow, redisWindow]) {
          // Counts, not records: a failure must not pretty-print thousands of lines.
          expect(
            w.other.filter((l) => l.msg === 'the error page could not be rendered').length,
          ).toBe(0);
          expect(w.other.filter((l) => l.level > 40).length).toBe(0);
          for (const l of w.other.filter((x) => x.err !== undefined))
            expect(l.err?.stack).toMatch(/\n\s+at /);
        }
        // PostgreSQL: per worker, "database unavailable" (or an idle connection's failure) with
        // its stack, and "database is back"; the 10 s interval is longer than the outage.
        const pgStacks = pgWindow.other.filter((l) => l.err !== undefined);
        expect(pgStacks.length).toBeGreaterThanOrEqual(1);
        expect(pgStacks.length).toBeLessThanOrEqual(2);
        expect(new Set(pgStacks.map((l) => l.pid)).size).toBe(pgStacks.length);
        // "Back" from each worker whose requests failed (an idle-only worker: see pgFirst above).
        const pgBack = pgWindow.other.filter((l) => l.msg.startsWith('database is back after'));
        const requestFailures = pgStacks.filter((l) => /^database unavailable/.test(l.msg));
        expect(pgBack.length).toBeGreaterThanOrEqual(requestFailures.length);
        expect(pgBack.length).toBeLessThanOrEqual(pgStacks.length);
        expect(pgWindow.other.length).toBeLessThanOrEqual(6);
        // Redis: sessions in both workers, the hub and the live page's counts in the worker with
        // the socket: each with a line with the stack, then "is back" once it answers again.
        const redisStacks = redisWindow.other.filter((l) => l.err !== undefined);
        expect(
          redisStacks.filter((l) => l.msg === 'sessions: Redis failed').length,
        ).toBeGreaterThanOrEqual(1);
        expect(redisStacks.length).toBeLessThanOrEqual(2 * 3);
        expect(
          redisWindow.other.filter((l) => /^sessions: Redis is back after/.test(l.msg)).length,
        ).toBeGreaterThanOrEqual(1);
        expect(redisWindow.other.length).toBeLessThanOrEqual(16);
        // Printed for the record (issue 15 asks for the numbers).
        process.stdout.write(
          `outage-sample: PostgreSQL ${pgWindow.requests} requests, ${pgWindow.failed} 503s, ${pgWindow.other.length} other lines:\n${show(pgWindow)}\n` +
            `outage-sample: Redis ${redisWindow.requests} requests, ${redisWindow.failed} 503s, ${redisWindow.other.length} other lines:\n${show(redisWindow)}\n`,
        );
      } finally {
        running = false;
        ws?.terminate();
        agent.destroy();
        child.kill('SIGTERM');
        await new Promise((resolve) =>
          child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve),
        );
        master = null;
        await proxy.stop();
        await Promise.all(clients);
      }
    }, 120_000);
  },
);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One request; status 0 when the connection failed. */
function send(
  base: string,
  agent: Agent,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}> {
  return new Promise((resolve) => {
    const req = httpRequest(base + path, { method, agent, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      res.on('error', () => resolve({ status: 0, headers: {}, text: '' }));
    });
    req.on('error', () => resolve({ status: 0, headers: {}, text: '' }));
    req.setTimeout(15_000, () => req.destroy());
    req.end(body);
  });
}

const cookiesOf = (headers: Record<string, string | string[] | undefined>) =>
  ((headers['set-cookie'] as string[] | undefined) ?? []).map((c) => c.split(';')[0]).join('; ');

/** Logs the demo user in through the form; its session cookie. */
async function logIn(base: string, agent: Agent): Promise<string> {
  const page = await send(base, agent, 'GET', '/login', BROWSER);
  const token = /name="csrf_token" value="([^"]+)"/.exec(page.text)?.[1] as string;
  const form = new URLSearchParams({
    csrf_token: token,
    email: DEMO.email,
    password: DEMO.password,
  }).toString();
  const res = await send(
    base,
    agent,
    'POST',
    '/login',
    {
      ...BROWSER,
      cookie: cookiesOf(page.headers),
      'content-type': 'application/x-www-form-urlencoded',
      'content-length': String(Buffer.byteLength(form)),
    },
    form,
  );
  if (res.status !== 303) throw new Error(`logging in: ${res.status} ${res.text.slice(0, 300)}`);
  return cookiesOf(res.headers);
}
