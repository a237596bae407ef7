import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, get as httpGet } from 'node:http';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { compileProject } from './helpers/compile';
import { checkExposition, valueOf } from './helpers/exposition';

/**
 * `rococo serve` as users run it: the CLI and the fixture apps compiled by tsc (decorator
 * metadata) into a folder of this run, a real master with real workers, real HTTP clients,
 * real signals.
 */

const ROOT = join(__dirname, '..');
const FIXTURES = 'test/fixtures/serve';
let out = '';
const running = new Set<Served>();

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  out = await compileProject(['src', FIXTURES], 'rococo-serve-test-');
  copyFileSync(join(ROOT, FIXTURES, 'esm.mjs'), join(out, FIXTURES, 'esm.mjs'));
}, 90_000);

afterAll(async () => {
  await Promise.all([...running].map((s) => s.kill()));
  if (out !== '') rmSync(out, { recursive: true, force: true });
});

interface Line {
  pid: number;
  msg: string;
  [key: string]: unknown;
}

/** A `rococo serve` master: its log lines (pino JSON on stdout), stderr and exit. */
class Served {
  readonly child: ChildProcess;
  readonly lines: Line[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  private waiters = new Set<() => void>();

  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [join(out, 'src/cli/main.js'), 'serve', ...args], {
      cwd: out,
      env: { ...process.env, LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group: afterAll can kill the master and its workers
    });
    running.add(this);
    let buffered = '';
    this.child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk;
      const parts = buffered.split('\n');
      buffered = parts.pop() as string;
      for (const part of parts) {
        try {
          this.lines.push(JSON.parse(part) as Line);
        } catch {
          // not a log line
        }
      }
      this.wake();
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk;
      this.wake();
    });
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code, signal) => {
        running.delete(this);
        resolve({ code, signal });
        this.wake();
      }),
    );
  }

  private wake(): void {
    for (const w of this.waiters) w();
  }

  /** The master's own log lines with this message. */
  master(msg: string | RegExp): Line[] {
    return this.lines.filter(
      (l) =>
        l.pid === this.child.pid && (typeof msg === 'string' ? l.msg === msg : msg.test(l.msg)),
    );
  }

  /** Waits until `ok()` holds, or fails after `ms` with the log. */
  async until<T>(ok: () => T | undefined | false, what: string, ms = 8000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = ok();
      if (v !== undefined && v !== false) return v;
      if (Date.now() > deadline)
        throw new Error(
          `timed out waiting for ${what}\nstderr: ${this.stderr}\nlog:\n${this.lines.map((l) => JSON.stringify(l)).join('\n')}`,
        );
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.waiters.delete(wake);
          clearTimeout(t);
          resolve();
        };
        const t = setTimeout(wake, 50);
        this.waiters.add(wake);
      });
    }
  }

  /** Waits for `n` workers serving; resolves to the first address. */
  async ready(n = 1): Promise<string> {
    await this.until(() => this.master('worker serving').length >= n, `${n} workers serving`);
    return this.urls()[0];
  }

  urls(): string[] {
    return this.master(/^listening at /).map((l) => l.url as string);
  }

  /** Pids of the workers that reported serving and have not exited since. */
  workerPids(): number[] {
    const gone = new Set(this.master(/^worker (stopped|killed|died)$/).map((l) => l.workerPid));
    return this.master('worker serving')
      .map((l) => l.workerPid as number)
      .filter((p) => !gone.has(p));
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    try {
      process.kill(-(this.child.pid as number), 'SIGKILL');
    } catch {
      // gone
    }
    await this.exited;
  }
}

interface Reply {
  status?: number;
  body?: { name?: string; pid: number; message?: string };
  error?: NodeJS.ErrnoException;
  reused?: boolean;
}

function request(url: string, agent?: Agent, timeoutMs = 10_000): Promise<Reply> {
  return new Promise((resolve) => {
    const req = httpGet(url, { agent: agent ?? false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        let body;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode, body });
      });
      res.on('error', (error) => resolve({ error, reused: req.reusedSocket }));
    });
    req.on('error', (error) => resolve({ error, reused: req.reusedSocket }));
    req.setTimeout(timeoutMs, () => req.destroy(new Error('client timeout')));
  });
}

/**
 * Clients each sending keep-alive requests one after another (or each on a new connection:
 * `keepAlive: false`), each given up after `timeoutMs`. `refusedAfter()` says from when a
 * refused connection is the server being gone (the client then stops); anything else that is
 * not a 200 is a failed request.
 */
function load(
  url: string,
  clients = 4,
  refusedAfter: () => boolean = () => false,
  { keepAlive = true, timeoutMs = 10_000, maxFailed = 20 } = {},
) {
  const agent = keepAlive ? new Agent({ keepAlive: true, maxSockets: clients }) : undefined;
  const stats = { ok: 0, refused: 0, failed: [] as string[], pids: [] as number[] };
  let running = true;
  const loop = async () => {
    while (running) {
      const r = await request(`${url}/`, agent, timeoutMs);
      if (r.status === 200 && r.body !== undefined) {
        stats.ok++;
        stats.pids.push(r.body.pid);
      } else if (r.error?.code === 'ECONNREFUSED' && refusedAfter()) {
        stats.refused++;
        return;
      } else {
        stats.failed.push(
          r.error
            ? `${r.error.code ?? r.error.message} (reused connection: ${r.reused})`
            : `status ${r.status}`,
        );
        if (stats.failed.length > maxFailed) return;
      }
    }
  };
  const loops = Array.from({ length: clients }, loop);
  return {
    stats,
    async stop() {
      running = false;
      await Promise.all(loops);
      agent?.destroy();
      return stats;
    },
  };
}

const fixture = (name: string) => `${FIXTURES}/${name}`;

describe('rococo serve', () => {
  test('serves a CommonJS factory, an async factory, an ES module default export, a named export, on several binds', async () => {
    const servers = {
      factory: new Served([fixture('factory.js'), '-b', '127.0.0.1:0']),
      async: new Served([fixture('async-factory.js'), '-b', '127.0.0.1:0']),
      esm: new Served([fixture('esm.mjs'), '-b', '127.0.0.1:0']),
      named: new Served([`${fixture('named.js')}:api`, '-b', '127.0.0.1:0', '-b', '127.0.0.1:0']),
    };
    for (const [name, s] of Object.entries(servers)) {
      const url = await s.ready();
      const r = await request(`${url}/`);
      expect(r).toEqual({ status: 200, body: { name, pid: s.workerPids()[0] } });
    }
    const [a, b] = servers.named.urls();
    expect(a).not.toBe(b);
    expect((await request(`${b}/`)).body?.name).toBe('named');
    for (const s of Object.values(servers)) s.signal('SIGTERM');
    for (const s of Object.values(servers))
      expect(await s.exited).toEqual({ code: 0, signal: null });
  }, 20_000);

  test('a module it cannot serve stops it at once: exit code 1 and a message, without a stack', async () => {
    const cases: [string[], RegExp][] = [
      [['nope.js'], /^rococo serve: cannot find the module 'nope\.js': no file .*nope\.js/],
      [
        [fixture('not-an-app.js')],
        /the default export of '.*not-an-app\.js' is an object \(keys: hello\), not an Application nor a function that returns one/,
      ],
      [
        [fixture('named.js')],
        /'.*named\.js' has no default export .*it exports api; name one: rococo serve .*named\.js:<export>/,
      ],
      [[`${fixture('named.js')}:nothing`], /'.*named\.js' has no export 'nothing'; it exports api/],
      [
        [`${fixture('named.js')}:version`],
        /export 'version' of '.*named\.js' is a string \("1\.0"\), not an Application/,
      ],
    ];
    const runs = cases.map(([args]) => new Served([...args, '-b', '127.0.0.1:0', '-w', '2']));
    for (const [i, s] of runs.entries()) {
      expect(await s.exited).toEqual({ code: 1, signal: null });
      expect(s.stderr).toMatch(cases[i][1]);
      expect(s.stderr).not.toMatch(/\n\s+at /); // no stack
      expect(s.stderr.trim().split('\n')).toHaveLength(1); // said once, with 2 workers
    }

    // The app's own error (a factory that throws) comes with its stack; a bad option is a 2.
    const broken = new Served([fixture('throws.js'), '-b', '127.0.0.1:0']);
    const badOption = new Served([fixture('factory.js'), '--workers', 'many']);
    expect(await broken.exited).toEqual({ code: 1, signal: null });
    expect(broken.stderr).toMatch(
      /^rococo serve: TypeError: the fixture cannot start\n\s+at broken /,
    );
    expect(await badOption.exited).toEqual({ code: 2, signal: null });
    expect(badOption.stderr).toMatch(/^rococo serve: --workers 'many': expected a whole number/);
  }, 20_000);

  test('-w 2 serves from two processes, and a worker killed with SIGKILL is replaced', async () => {
    const s = new Served([fixture('factory.js'), '-w', '2', '-b', '127.0.0.1:0']);
    const url = await s.ready(2);
    const pids = new Set<number>();
    for (let i = 0; i < 20 && pids.size < 2; i++)
      pids.add((await request(`${url}/`)).body?.pid as number);
    expect([...pids].sort()).toEqual(s.workerPids().sort());

    const [victim, survivor] = s.workerPids();
    process.kill(victim, 'SIGKILL');
    await s.until(
      () => s.master('worker died').some((l) => l.workerPid === victim && l.signal === 'SIGKILL'),
      'the death logged',
    );
    const replacement = await s.until(
      () => s.workerPids().find((p) => p !== survivor && p !== victim),
      'a replacement',
    );
    const after = new Set<number>();
    for (let i = 0; i < 20 && after.size < 2; i++)
      after.add((await request(`${url}/`)).body?.pid as number);
    expect([...after].sort()).toEqual([survivor, replacement].sort());
    s.signal('SIGTERM');
    expect(await s.exited).toEqual({ code: 0, signal: null });
  }, 20_000);

  test('a worker killed with SIGKILL under load: its requests fail at once, none waits for the client to give up', async () => {
    // Ten keep-alive clients (the report's case) and ten on a new connection a request: a reset
    // client connects again at once, before the master has heard of the death. When the master
    // handed each connection to a worker in turn, nearly every kill left one with the dead
    // worker: open in the master, unanswered until the client gave up.
    const s = new Served([fixture('factory.js'), '-w', '2', '-b', '127.0.0.1:0']);
    const url = await s.ready(2);
    const options = { timeoutMs: 5000, maxFailed: 100 };
    const clients = [
      load(url, 10, undefined, options),
      load(url, 10, undefined, { ...options, keepAlive: false }),
    ];
    for (const victim of s.workerPids()) {
      await sleep(200);
      process.kill(victim, 'SIGKILL');
      await s.until(
        () => s.master('worker died').some((l) => l.workerPid === victim),
        'the death logged',
      );
      await s.until(() => s.workerPids().length === 2, 'a replacement');
    }
    const served = clients.map((c) => c.stats.pids.length);
    await sleep(300);
    const [keepAlive, fresh] = await Promise.all(clients.map((c) => c.stop()));
    const failed = [...keepAlive.failed, ...fresh.failed];
    // A request the dead worker had taken is reset (each client has one at a time): an answer.
    expect(failed.filter((f) => !/^(ECONNRESET|EPIPE) /.test(f))).toEqual([]);
    expect(failed.length).toBeLessThanOrEqual(2 * 20);
    // The workers serving now served what came after.
    const now = s.workerPids();
    for (const [i, stats] of [keepAlive, fresh].entries()) {
      const lately = new Set(stats.pids.slice(served[i]));
      expect(lately.size).toBeGreaterThan(0);
      for (const p of lately) expect(now).toContain(p);
    }
    s.signal('SIGTERM');
    expect(await s.exited).toEqual({ code: 0, signal: null });
  }, 20_000);

  test('SIGTERM under load: no request fails, in-flight ones finish, the shutdown hooks run, exit 0', async () => {
    const marker = join(out, 'marker-sigterm');
    const s = new Served([fixture('factory.js'), '-w', '2', '-b', '127.0.0.1:0'], {
      SERVE_MARKER: marker,
    });
    const url = await s.ready(2);
    const pids = s.workerPids();
    let signalled = false;
    const clients = load(url, 4, () => signalled);
    await sleep(300);
    const slow = request(`${url}/slow?ms=600`);
    await sleep(50);
    signalled = true;
    s.signal('SIGTERM');
    expect(await s.exited).toEqual({ code: 0, signal: null });
    const stats = await clients.stop();
    expect(stats.failed).toEqual([]);
    expect(stats.ok).toBeGreaterThan(50);
    expect(stats.refused).toBe(4); // each client, once the server was gone
    expect((await slow).status).toBe(200);
    const events = readFileSync(marker, 'utf8').trim().split('\n').sort();
    expect(events).toEqual(pids.flatMap((p) => [`cleanup ${p}`, `shutdown ${p}`]).sort());
    expect(s.master('SIGTERM: stopping gracefully')).toHaveLength(1);
  }, 20_000);

  test('SIGHUP under load: the workers are replaced one by one and no request fails', async () => {
    const s = new Served([fixture('factory.js'), '-w', '2', '-b', '127.0.0.1:0']);
    const url = await s.ready(2);
    const old = s.workerPids();
    const clients = load(url, 4);
    await sleep(200);
    s.signal('SIGHUP');
    await s.until(
      () => old.every((p) => s.master('worker stopped').some((l) => l.workerPid === p)),
      'the old workers stopped',
      10_000,
    );
    const served = clients.stats.pids.length;
    await sleep(200);
    const stats = await clients.stop();
    expect(stats.failed).toEqual([]);
    const fresh = s.workerPids();
    expect(fresh).toHaveLength(2);
    expect(fresh.filter((p) => old.includes(p))).toEqual([]);
    const lately = new Set(stats.pids.slice(served));
    expect(lately.size).toBeGreaterThan(0);
    for (const p of lately) expect(fresh).toContain(p);
    s.signal('SIGTERM');
    expect(await s.exited).toEqual({ code: 0, signal: null });
  }, 20_000);

  test('--timeout: a worker whose event loop stays blocked is killed, and another serves', async () => {
    const s = new Served([fixture('factory.js'), '--timeout', '1', '-b', '127.0.0.1:0']);
    const url = await s.ready();
    const [blocked] = s.workerPids();
    const stuck = request(`${url}/block?ms=15000`);
    await s.until(
      () => s.master(/^worker timed out/).some((l) => l.workerPid === blocked),
      'the timeout',
      5000,
    );
    expect((await stuck).error).toBeDefined(); // its connection died with it
    const next = await s.until(() => s.workerPids().find((p) => p !== blocked), 'a new worker');
    expect((await request(`${url}/`)).body?.pid).toBe(next);
    s.signal('SIGTERM');
    expect(await s.exited).toEqual({ code: 0, signal: null });
  }, 20_000);

  test('-w 2 --timeout: the other worker answers the connections that come while one is blocked, and none is lost when it is killed', async () => {
    // 3 s: a worker still loading the app on a busy machine is not taken for a blocked one.
    const s = new Served([fixture('factory.js'), '-w', '2', '--timeout', '3', '-b', '127.0.0.1:0']);
    const url = await s.ready(2);
    const workers = s.workerPids();
    const stuck = request(`${url}/block?ms=15000`);
    await sleep(1000); // its worker is blocked by now, even on a busy machine
    // A worker blocked takes no connection; handed one in turn by the master, it held it until
    // killed, and its client waited until it gave up.
    const replies = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        await sleep(i * 50);
        return request(`${url}/`, undefined, 5000);
      }),
    );
    const killed = (
      await s.until(
        () => s.master(/^worker timed out/).find((l) => workers.includes(l.workerPid as number)),
        'the blocked worker killed',
      )
    ).workerPid;
    expect((await stuck).error).toBeDefined();
    const other = workers.find((p) => p !== killed);
    expect(replies.map((r) => r.error?.message ?? r.body?.pid)).toEqual(replies.map(() => other));
    s.signal('SIGTERM');
    expect(await s.exited).toEqual({ code: 0, signal: null });
  }, 20_000);

  test('--max-requests: a worker is replaced after its requests, gracefully', async () => {
    const s = new Served([
      fixture('factory.js'),
      '--max-requests',
      '20',
      '--max-requests-jitter',
      '0',
      '-b',
      '127.0.0.1:0',
    ]);
    const url = await s.ready();
    const first = s.workerPids()[0];
    const clients = load(url, 2);
    await s.until(
      () => s.master('worker stopped').some((l) => l.workerPid === first),
      'the first worker replaced',
    );
    await sleep(100);
    const stats = await clients.stop();
    expect(stats.failed).toEqual([]);
    expect(s.master('worker reached --max-requests: replacing it')[0]).toMatchObject({
      workerPid: first,
      requests: 20,
    });
    expect(new Set(stats.pids).size).toBeGreaterThanOrEqual(2);
    expect(stats.pids.filter((p) => p === first).length).toBeGreaterThanOrEqual(20);
    s.signal('SIGTERM');
    expect(await s.exited).toEqual({ code: 0, signal: null });
  }, 20_000);

  test("--reload: a change to a file in the module's folder restarts the workers", async () => {
    const dir = mkdtempSync(join(out, FIXTURES, 'reload-')); // the same depth: the same relative imports
    cpSync(join(out, FIXTURES, 'reload'), dir, { recursive: true });
    const s = new Served([relative(out, join(dir, 'main.js')), '--reload', '-b', '127.0.0.1:0']);
    const url = await s.ready();
    expect((await request(`${url}/`)).body?.message).toBe('before');
    await sleep(100);
    const message = join(dir, 'message.js');
    writeFileSync(message, readFileSync(message, 'utf8').replace("'before'", "'after'"));
    const deadline = Date.now() + 8000;
    let seen: string | undefined;
    while (Date.now() < deadline && seen !== 'after') {
      seen = (await request(`${url}/`)).body?.message;
      if (seen !== 'after') await sleep(100);
    }
    expect(seen).toBe('after');
    expect(s.master('files changed: reloading the workers')[0]).toMatchObject({ files: [message] });
    s.signal('SIGTERM');
    expect(await s.exited).toEqual({ code: 0, signal: null });
  }, 20_000);

  test('--graceful-timeout: a request slower than it is cut, and the master still exits', async () => {
    const s = new Served([fixture('factory.js'), '--graceful-timeout', '0.5', '-b', '127.0.0.1:0']);
    const url = await s.ready();
    const slow = request(`${url}/slow?ms=10000`);
    await sleep(100);
    const t0 = Date.now();
    s.signal('SIGTERM');
    expect(await s.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - t0).toBeLessThan(3000);
    expect((await slow).error).toBeDefined();
    expect(s.master('worker did not stop within --graceful-timeout: killing it')).toHaveLength(1);
  }, 20_000);
});

describe('rococo serve and metrics()', () => {
  /** The text of a scrape, through whichever worker takes the connection. */
  const scrape = (url: string): Promise<string> =>
    new Promise((resolve, reject) => {
      httpGet(`${url}/metrics`, { agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(text))));
      }).on('error', reject);
    });
  const home = (t: string) =>
    valueOf(t, 'http_request_duration_seconds_count', { route: 'home', status: '2xx' }) ?? 0;
  const scrapes = (t: string) =>
    valueOf(t, 'http_request_duration_seconds_count', { route: 'metrics' }) ?? 0;
  const send = async (url: string, n: number) => {
    const replies = await Promise.all(Array.from({ length: n }, () => request(`${url}/`)));
    expect(replies.map((r) => r.status)).toEqual(replies.map(() => 200));
    return new Set(replies.map((r) => r.body?.pid));
  };

  test('a scrape of any worker sums them all, and replaced or killed workers never make a counter drop', async () => {
    // Round robin: the master hands connections to the workers in turn, so both serve some.
    const s = new Served([`${fixture('metrics-app.js')}:app`, '-w', '2', '-b', '127.0.0.1:0'], {
      NODE_CLUSTER_SCHED_POLICY: 'rr',
    });
    const url = await s.ready(2);
    expect((await send(url, 30)).size).toBe(2);
    let t = await scrape(url);
    checkExposition(t);
    expect(home(t)).toBe(30);
    expect(scrapes(t)).toBe(0); // a scrape is counted once its response is done
    expect(valueOf(t, 'rococo_metrics_workers', { state: 'answered' })).toBe(2);
    expect(valueOf(t, 'http_requests_in_flight')).toBe(1); // the scrape itself, in one worker
    t = await scrape(url);
    expect(home(t)).toBe(30);
    expect(scrapes(t)).toBe(1);

    // SIGHUP: both workers replaced gracefully; their final counts stay in the sums.
    const old = s.workerPids();
    s.signal('SIGHUP');
    await s.until(
      () => old.every((p) => s.master('worker stopped').some((l) => l.workerPid === p)),
      'the old workers stopped',
      10_000,
    );
    await s.until(() => s.workerPids().length === 2, 'two new workers');
    t = await scrape(url);
    checkExposition(t);
    expect(home(t)).toBe(30);
    expect(scrapes(t)).toBe(2);
    await send(url, 10);
    t = await scrape(url);
    expect(home(t)).toBe(40);
    const before = scrapes(t);

    // A worker killed outright: what it counted until the last scrape stays.
    const [victim] = s.workerPids();
    process.kill(victim, 'SIGKILL');
    await s.until(
      () => s.workerPids().length === 2 && !s.workerPids().includes(victim),
      'a replacement',
    );
    t = await scrape(url);
    checkExposition(t);
    expect(home(t)).toBe(40);
    // Its last scrape may have finished after it reported: lost, but nothing drops below before.
    expect(scrapes(t)).toBeGreaterThanOrEqual(before);
    expect(valueOf(t, 'rococo_metrics_workers', { state: 'answered' })).toBe(2);

    // A worker whose event loop is blocked: the scrape (round robin: the other worker) does not
    // wait for it, and counts it with its last known counters.
    const blocked = request(`${url}/block`);
    await sleep(300);
    const started = Date.now();
    t = await scrape(url);
    expect(Date.now() - started).toBeLessThan(2500);
    expect(valueOf(t, 'rococo_metrics_workers', { state: 'late' })).toBe(1);
    expect(home(t)).toBe(40);
    checkExposition(t);
    expect((await blocked).status).toBe(200);
    s.signal('SIGTERM');
    expect(await s.exited).toEqual({ code: 0, signal: null });
  }, 30_000);
});

describe('the server process', () => {
  // V8 prints its pretenuring decisions with this flag; when pretenuring is off it has none to print.
  const probe = `
    const { createApp } = require(${JSON.stringify('__INDEX__')});
    createApp({ controllers: [] }).createServer();
    const keep = [];
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 5000; i++) keep.push([i, i + 1]);
      globalThis.gc({ type: 'minor' });
    }`;
  const decisions = async (flags: string[]) => {
    const script = probe.replace('__INDEX__', join(out, 'src/index.js'));
    const { stdout } = await promisify(execFile)(process.execPath, [
      ...flags,
      '--expose-gc',
      '--trace-pretenuring-statistics',
      '-e',
      script,
    ]);
    // Sites of the loop above: thousands of objects a collection (node's startup has a few of ~100).
    return stdout
      .split('\n')
      .filter((line) =>
        /pretenuring: AllocationSite\(\w+\): \(created, found, ratio\) \(\d{4,},/.test(line),
      );
  };

  test('createServer() turns V8 pretenuring off; node --allocation-site-pretenuring keeps it', async () => {
    expect(await decisions([])).toEqual([]);
    expect((await decisions(['--allocation-site-pretenuring'])).length).toBeGreaterThan(0);
  });
});
