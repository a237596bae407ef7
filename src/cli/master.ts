import cluster, { type Worker } from 'node:cluster';
import { randomInt } from 'node:crypto';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { dirname, extname, join } from 'node:path';
import pino, { type Logger } from 'pino';
import { resolveModule } from './load';
import { UserError, type Bind, type ServeOptions } from './options';
import { MetricsAggregation } from './metrics';
import { Watcher } from './watch';
import { WORKER_ENV, type MasterMessage, type WorkerConfig, type WorkerMessage } from './worker';

/** The script a worker runs: the CLI's entry, which sees WORKER_ENV and becomes a worker. */
const WORKER_ENTRY = join(__dirname, `main${extname(__filename)}`);

/** A worker that dies within this long of serving (or before) counts towards the backoff. */
const QUICK_CRASH_MS = 1000;
const BACKOFF_FIRST_MS = 250;
const BACKOFF_MAX_MS = 16_000;
/** Changes closer together than this make one reload. */
const RELOAD_DEBOUNCE_MS = 200;

interface Slot {
  worker: Worker;
  id: number;
  pid: number;
  /** The code generation it loaded: SIGHUP and reloads start a new one. */
  generation: number;
  state: 'booting' | 'serving' | 'stopping';
  startedAt: number;
  listeningAt: number;
  lastBeat: number;
  /** Asked to be replaced (--max-requests). */
  retire: boolean;
  /** Why the master killed it, if it did. */
  killed: string | null;
  bootError: string | null;
  killTimer: NodeJS.Timeout | null;
}

/** Where the master reports: pino for events, `stderr` for the error that stops it. */
export interface MasterOutput {
  log: Logger;
  stderr(text: string): void;
}

/**
 * `rococo serve`: checks the module and the addresses, then runs the master until it is
 * stopped. Resolves to the exit code: 0 after a graceful stop, 1 when the app cannot start.
 */
export async function serve(
  options: ServeOptions,
  output: Partial<MasterOutput> = {},
): Promise<number> {
  const log = output.log ?? masterLogger();
  const stderr = output.stderr ?? ((text: string) => void process.stderr.write(text));
  let file: string;
  let binds: Bind[];
  try {
    file = resolveModule(options.module);
    binds = await probe(options.binds);
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    stderr(`rococo serve: ${e.message}\n`);
    return e.exitCode;
  }
  return new Master(options, file, binds, { log, stderr }).run();
}

/**
 * The master's logger: few lines, written at once (a supervisor and tests read them as they
 * come); JSON lines, or readable ones on a terminal outside production, as the apps' own.
 */
export function masterLogger(level = process.env.LOG_LEVEL || 'info'): Logger {
  if (process.stdout.isTTY && process.env.NODE_ENV !== 'production') {
    const pretty = require('pino-pretty') as typeof import('pino-pretty');
    return pino(
      { level },
      pretty({ colorize: true, sync: true, translateTime: 'HH:MM:ss.l', ignore: 'hostname' }),
    );
  }
  return pino({ level }, pino.destination({ dest: 1, sync: true }));
}

/**
 * Binds each address once, then lets it go: an address in use or not allowed stops the
 * command before any worker starts, and port 0 becomes a real port that every worker (and a
 * replacement) then shares.
 */
async function probe(binds: readonly Bind[]): Promise<Bind[]> {
  const servers: Server[] = [];
  try {
    const out: Bind[] = [];
    for (const bind of binds) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: bind.host, port: bind.port, exclusive: true }, () => resolve());
      }).catch((e: NodeJS.ErrnoException) => {
        const twice = binds.filter((b) => b.host === bind.host && b.port === bind.port).length > 1;
        const why: Record<string, string> = {
          EADDRINUSE: twice ? 'given twice' : 'the address is in use (another server?)',
          EACCES: 'permission denied (ports below 1024 need privileges)',
          EADDRNOTAVAIL: 'this machine has no such address',
          ENOTFOUND: 'no such host',
          EAI_AGAIN: 'no such host',
        };
        throw new UserError(
          `cannot listen on ${bind.host}:${bind.port}: ${(e.code && why[e.code]) ?? e.message}`,
        );
      });
      out.push({ host: bind.host, port: (server.address() as AddressInfo).port });
    }
    return out;
  } finally {
    await Promise.all(
      servers.map(
        (s) => new Promise((resolve) => (s.listening ? s.close(resolve) : resolve(undefined))),
      ),
    );
  }
}

function urlOf(bind: Bind): string {
  return `http://${bind.host.includes(':') ? `[${bind.host}]` : bind.host}:${bind.port}`;
}

/**
 * The master: forks the workers, never serves. Replaces a worker that dies (waiting longer
 * each time when they keep dying at once), kills one whose heartbeats stop (`--timeout`),
 * replaces workers one by one on SIGHUP, after `--max-requests`, and on code changes
 * (`--reload`), and stops them all gracefully on SIGTERM or SIGINT.
 */
class Master {
  private readonly slots = new Map<number, Slot>();
  /** The workers' metrics, summed for a scrape of any of them (apps with metrics() only). */
  private readonly metrics = new MetricsAggregation();
  private generation = 0;
  private stopping = false;
  private finished = false;
  private everServed = false;
  private fatal: string | null = null;
  private exitCode = 0;
  private crashes = 0;
  private lastCrashAt = 0;
  private nextSpawnAt = 0;
  private spawnTimer: NodeJS.Timeout | null = null;
  private tick: NodeJS.Timeout | null = null;
  private watcher: Watcher | null = null;
  private reloadTimer: NodeJS.Timeout | null = null;
  private readonly changed = new Set<string>();
  private readonly handlers: [NodeJS.Signals, () => void][] = [];
  private resolve!: (code: number) => void;
  private readonly log: Logger;

  constructor(
    private readonly options: ServeOptions,
    private readonly file: string,
    private readonly binds: Bind[],
    private readonly output: MasterOutput,
  ) {
    this.log = output.log;
  }

  run(): Promise<number> {
    const done = new Promise<number>((resolve) => (this.resolve = resolve));
    // The workers accept on the shared listening sockets, as gunicorn's do, rather than the
    // master accepting and handing each connection over (node's default on Linux): a connection
    // handed to a worker that dies before it acknowledges stays open in the master, unread and
    // never closed, and its client waits until it gives up. The kernel's queue has no such
    // hole: what a dead worker did not accept, another does. NODE_CLUSTER_SCHED_POLICY=rr, node's
    // own variable, still brings round robin back.
    if (process.env.NODE_CLUSTER_SCHED_POLICY !== 'rr')
      cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({ exec: WORKER_ENTRY, args: [] });
    const { workers, timeout, gracefulTimeout, maxRequests, reload } = this.options;
    this.log.info(
      {
        module: this.options.module,
        workers,
        binds: this.binds.map(urlOf),
        timeout,
        gracefulTimeout,
        maxRequests,
        reload,
      },
      'rococo serve: starting',
    );
    this.on('SIGTERM', () => this.stopAll('SIGTERM'));
    this.on('SIGINT', () => this.stopAll('SIGINT'));
    this.on('SIGHUP', () => this.replaceAll('SIGHUP: replacing the workers one by one'));
    const every = timeout > 0 ? Math.min(500, Math.max(50, (timeout * 1000) / 4)) : 500;
    this.tick = setInterval(() => this.check(), every);
    if (reload) this.watch();
    this.maintain();
    return done;
  }

  private on(signal: NodeJS.Signals, handler: () => void): void {
    process.on(signal, handler);
    this.handlers.push([signal, handler]);
  }

  /** Starts or stops workers so that `workers` serve, plus one while others are being replaced. */
  private maintain(): void {
    if (this.stopping) return;
    const active = [...this.slots.values()].filter((s) => s.state !== 'stopping');
    const serving = active.filter((s) => s.state === 'serving');
    const outdated = serving
      .filter((s) => s.generation < this.generation || s.retire)
      .sort((a, b) => a.startedAt - b.startedAt);
    // A replacement is serving: stop the oldest worker it replaces.
    let stopped = 0;
    for (
      let extra = serving.length - this.options.workers;
      extra > 0 && outdated.length > 0;
      extra--
    ) {
      const slot = outdated.shift() as Slot;
      this.stop(slot, slot.retire ? 'replaced after --max-requests' : 'replaced');
      stopped++;
    }
    const wanted = this.options.workers + (outdated.length > 0 ? 1 : 0);
    const missing = wanted - (active.length - stopped);
    if (missing <= 0) return;
    const wait = this.nextSpawnAt - Date.now();
    if (wait > 0) {
      this.spawnTimer ??= setTimeout(() => {
        this.spawnTimer = null;
        this.maintain();
      }, wait);
      return;
    }
    for (let i = 0; i < missing; i++) this.spawn();
  }

  private spawn(): void {
    const { timeout, maxRequests, maxRequestsJitter, reload } = this.options;
    const config: WorkerConfig = {
      file: this.file,
      spec: this.options.module,
      exportName: this.options.exportName,
      binds: this.binds,
      heartbeat: timeout > 0 ? Math.min(1000, Math.max(50, (timeout * 1000) / 4)) : 0,
      maxRequests: maxRequests > 0 ? maxRequests + randomInt(0, maxRequestsJitter + 1) : 0,
      reload,
    };
    const worker = cluster.fork({ [WORKER_ENV]: JSON.stringify(config) });
    const now = Date.now();
    const slot: Slot = {
      worker,
      id: worker.id,
      pid: worker.process.pid as number,
      generation: this.generation,
      state: 'booting',
      startedAt: now,
      listeningAt: 0,
      lastBeat: now,
      retire: false,
      killed: null,
      bootError: null,
      killTimer: null,
    };
    this.slots.set(worker.id, slot);
    worker.on('message', (m: WorkerMessage) => this.onMessage(slot, m));
    worker.on('exit', (code, signal) => this.onExit(slot, code, signal));
    worker.on('error', () => {}); // IPC to a worker that just died
  }

  private onMessage(slot: Slot, m: WorkerMessage): void {
    if (m === null || typeof m !== 'object') return;
    if (this.metrics.onMessage(slot.id, slot.worker, m)) return;
    switch (m.rococo) {
      case 'heartbeat':
        slot.lastBeat = Date.now();
        return;
      case 'boot-error':
        slot.bootError = m.message;
        return;
      case 'recycle':
        if (slot.state !== 'serving') return;
        this.log.info(
          { worker: slot.id, workerPid: slot.pid, requests: m.requests },
          'worker reached --max-requests: replacing it',
        );
        slot.retire = true;
        this.maintain();
        return;
      case 'listening': {
        slot.lastBeat = slot.listeningAt = Date.now();
        for (const f of m.files ?? []) this.watcher?.addDir(dirname(f));
        if (slot.state !== 'booting') return;
        slot.state = 'serving';
        this.metrics.add(slot.id, slot.worker);
        if (!this.everServed) {
          this.everServed = true;
          for (const b of this.binds) this.log.info({ url: urlOf(b) }, `listening at ${urlOf(b)}`);
        }
        this.log.info({ worker: slot.id, workerPid: slot.pid }, 'worker serving');
        this.maintain();
        return;
      }
    }
  }

  private onExit(slot: Slot, code: number | null, signal: string | null): void {
    this.slots.delete(slot.id);
    this.metrics.remove(slot.id);
    if (slot.killTimer !== null) clearTimeout(slot.killTimer);
    const who = { worker: slot.id, workerPid: slot.pid, code, signal };
    const now = Date.now();
    if (slot.state === 'stopping') {
      this.log.info(who, slot.killed === null ? 'worker stopped' : 'worker killed');
    } else {
      const bootError =
        slot.bootError ??
        (slot.listeningAt === 0
          ? `a worker exited (${signal ?? `code ${code}`}) before it could serve${slot.killed === 'timeout' ? `: it did not answer for ${this.options.timeout} s (--timeout)` : ''}`
          : null);
      if (bootError !== null && !this.everServed && !this.options.reload && !this.stopping) {
        // The app cannot start at all: say why, once, and stop.
        if (this.fatal === null) this.output.stderr(`rococo serve: ${bootError}\n`);
        this.fatal ??= bootError;
        this.exitCode = 1;
        this.stopAll(null);
      } else if (slot.bootError !== null) {
        this.log.error({ ...who, error: slot.bootError }, 'worker failed to start');
      } else if (slot.killed === null) {
        this.log.error(who, 'worker died');
      }
      if (slot.listeningAt === 0 || now - slot.listeningAt < QUICK_CRASH_MS) {
        this.crashes++;
        this.lastCrashAt = now;
        const wait =
          this.crashes <= 1
            ? 0
            : Math.min(BACKOFF_FIRST_MS * 2 ** (this.crashes - 2), BACKOFF_MAX_MS);
        this.nextSpawnAt = now + wait;
        if (wait > 0 && !this.stopping)
          this.log.warn(
            { crashes: this.crashes, waitMs: wait },
            'workers keep failing: waiting before starting another',
          );
      } else {
        this.crashes = 0;
      }
    }
    if (this.stopping && this.slots.size === 0) this.finish();
    else this.maintain();
  }

  /** Kills workers whose heartbeats stopped; forgets past crashes once a new worker lasts. */
  private check(): void {
    const now = Date.now();
    const timeout = this.options.timeout * 1000;
    for (const slot of this.slots.values()) {
      if (timeout > 0 && slot.killed === null && now - slot.lastBeat > timeout) {
        slot.killed = 'timeout';
        this.log.error(
          { worker: slot.id, workerPid: slot.pid, timeout: this.options.timeout },
          `worker timed out: no heartbeat for ${this.options.timeout} s (event loop blocked?): killing it`,
        );
        slot.worker.process.kill('SIGKILL');
      }
    }
    if (this.crashes > 0) {
      for (const s of this.slots.values()) {
        if (
          s.state === 'serving' &&
          s.startedAt > this.lastCrashAt &&
          now - s.listeningAt >= QUICK_CRASH_MS
        ) {
          this.crashes = 0;
          this.nextSpawnAt = 0;
          break;
        }
      }
    }
  }

  /** Asks a worker to stop gracefully; kills it after --graceful-timeout. */
  private stop(slot: Slot, reason: string): void {
    if (slot.state === 'stopping') return;
    slot.state = 'stopping';
    this.log.info({ worker: slot.id, workerPid: slot.pid, reason }, 'stopping worker');
    try {
      slot.worker.send({ rococo: 'stop' } satisfies MasterMessage);
    } catch {
      // already gone: its exit follows
    }
    slot.killTimer = setTimeout(() => {
      if (!this.slots.has(slot.id)) return;
      slot.killed = 'graceful-timeout';
      this.log.warn(
        { worker: slot.id, workerPid: slot.pid, gracefulTimeout: this.options.gracefulTimeout },
        'worker did not stop within --graceful-timeout: killing it',
      );
      slot.worker.process.kill('SIGKILL');
    }, this.options.gracefulTimeout * 1000);
  }

  /** SIGHUP or changed files: a new generation replaces the workers one by one. */
  private replaceAll(why: string, files?: string[]): void {
    if (this.stopping) return;
    this.log.info(files ? { files } : {}, why);
    this.generation++;
    this.crashes = 0;
    this.nextSpawnAt = 0;
    if (this.spawnTimer !== null) clearTimeout(this.spawnTimer);
    this.spawnTimer = null;
    this.maintain();
  }

  /** SIGTERM or SIGINT (or an app that cannot start): stop every worker gracefully; twice: at once. */
  private stopAll(signal: NodeJS.Signals | null): void {
    if (this.stopping) {
      if (signal === null) return;
      this.log.warn({ signal }, 'second signal: killing the workers');
      this.exitCode = 1;
      for (const slot of this.slots.values()) {
        slot.killed ??= signal;
        slot.worker.process.kill('SIGKILL');
      }
      return;
    }
    this.stopping = true;
    if (signal !== null) this.log.info({ signal }, `${signal}: stopping gracefully`);
    for (const t of [this.spawnTimer, this.reloadTimer]) if (t !== null) clearTimeout(t);
    this.watcher?.close();
    for (const slot of this.slots.values()) this.stop(slot, signal ?? 'the app cannot start');
    if (this.slots.size === 0) this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.tick !== null) clearInterval(this.tick);
    for (const [signal, handler] of this.handlers) process.off(signal, handler);
    this.log.info({ exitCode: this.exitCode }, 'rococo serve: stopped');
    this.resolve(this.exitCode);
  }

  /**
   * --reload: watches the module's folder tree and the folders of the files the workers load
   * (not node_modules, nor dot-folders), for files of the module's kind (.js, .mjs, .cjs; or
   * .ts, .mts, .cts when TypeScript is served through a loader) and .json.
   */
  private watch(): void {
    const typescript = ['.ts', '.mts', '.cts', '.tsx'].includes(extname(this.file));
    const kinds = typescript
      ? ['.ts', '.mts', '.cts', '.tsx', '.json']
      : ['.js', '.mjs', '.cjs', '.json'];
    const relevant = (f: string) => kinds.includes(extname(f)) && !/\.d\.[mc]?ts$/.test(f);
    this.watcher = new Watcher((f) => {
      this.changed.add(f);
      if (this.reloadTimer !== null) clearTimeout(this.reloadTimer);
      this.reloadTimer = setTimeout(() => {
        this.reloadTimer = null;
        const files = [...this.changed];
        this.changed.clear();
        this.replaceAll('files changed: reloading the workers', files);
      }, RELOAD_DEBOUNCE_MS);
    }, relevant);
    this.watcher.addTree(dirname(this.file));
    this.log.info({ folders: this.watcher.size }, `--reload: watching ${dirname(this.file)}`);
  }
}
