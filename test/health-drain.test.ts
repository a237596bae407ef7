import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { compileProject } from './helpers/compile';
import { KeptConnection, type KeptReply } from './helpers/kept-connection';

/**
 * Readiness during a drain as it happens in production: the health fixture compiled by tsc,
 * served by a real `rococo serve` master and worker, stopped by a real SIGTERM, probed over
 * connections opened before it (the listener is closed afterwards).
 */

const FIXTURE = 'test/fixtures/health';
let out = '';
let child: ChildProcess | null = null;

beforeAll(async () => {
  out = await compileProject(['src', FIXTURE], 'rococo-health-test-');
}, 90_000);

afterAll(() => {
  if (child !== null && child.exitCode === null && child.signalCode === null)
    process.kill(-(child.pid as number), 'SIGKILL');
  if (out !== '') rmSync(out, { recursive: true, force: true });
});

/** Starts `rococo serve` on the fixture; resolves to its address once a worker serves. */
function serve(): Promise<{ url: string; exited: Promise<number | null> }> {
  const c = spawn(
    process.execPath,
    [join(out, 'src/cli/main.js'), 'serve', `${FIXTURE}/app.js`, '-w', '1', '-b', '127.0.0.1:0'],
    {
      cwd: out,
      env: { ...process.env, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  child = c;
  const exited = new Promise<number | null>((resolve) => c.on('exit', (code) => resolve(code)));
  let url = '';
  let log = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`rococo serve did not start:\n${log}`)),
      15_000,
    );
    c.stderr?.on('data', (d: Buffer) => (log += d));
    c.stdout?.on('data', (d: Buffer) => {
      log += d;
      for (const line of log.split('\n')) {
        const m = /"url":"(http:[^"]+)"/.exec(line);
        if (m) url = m[1];
        if (url !== '' && line.includes('"msg":"worker serving"')) {
          clearTimeout(timer);
          resolve({ url, exited });
          return;
        }
      }
    });
  });
}

test('SIGTERM: /readyz turns 503 at once on an open connection, /healthz stays 200, the request in flight gets its 200', async () => {
  const { url, exited } = await serve();
  const probe = new KeptConnection(url);
  const live = new KeptConnection(url);
  const slowOne = new KeptConnection(url);
  try {
    expect(await probe.get('/readyz')).toMatchObject({
      status: 200,
      body: { status: 'ok', checks: { own: 'up' } },
    });
    expect((await live.get('/healthz')).status).toBe(200);
    expect((await slowOne.get('/slow?ms=1')).status).toBe(200);
    let slowDone = false;
    const slow = slowOne.get('/slow?ms=5000').finally(() => (slowDone = true));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const signalled = Date.now();
    process.kill(child!.pid as number, 'SIGTERM');

    // Until the worker hears of it, the probe says 200 and keeps its connection; then 503.
    let ready: KeptReply;
    for (;;) {
      ready = await probe.get('/readyz');
      expect(ready.reused).toBe(true);
      if (ready.status !== 200) break;
      expect(Date.now() - signalled).toBeLessThan(4000);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ detail: 'The server is shutting down', draining: true });
    const alive = await live.get('/healthz');
    expect(alive).toMatchObject({ status: 200, reused: true, body: { status: 'ok' } });
    expect(slowDone).toBe(false); // both answered while it was in flight

    const done = await slow;
    expect(done).toMatchObject({ status: 200, reused: true, body: { slow: true } });
    expect(await exited).toBe(0);
  } finally {
    for (const c of [probe, live, slowOne]) c.close();
  }
}, 30_000);
