import type { Server } from 'node:http';
import { sep } from 'node:path';
import { loadApp, type ServableApp } from './load';
import { workerMetrics, type MasterMetricsMessage, type WorkerMetricsMessage } from './metrics';
import { UserError, type Bind } from './options';

/** The environment variable that carries a worker's {@link WorkerConfig} (JSON). */
export const WORKER_ENV = 'ROCOCO_SERVE_WORKER';

/** What the master tells a worker when it forks it. */
export interface WorkerConfig {
  /** The resolved file of the module, and the module as the user gave it (for messages). */
  file: string;
  spec: string;
  exportName: string | undefined;
  binds: Bind[];
  /** Milliseconds between heartbeats; 0: none. */
  heartbeat: number;
  /** Requests after which to ask to be replaced (jitter included); 0: never. */
  maxRequests: number;
  /** Report the files loaded, for the master to watch them. */
  reload: boolean;
}

/** Messages from a worker to the master. */
export type WorkerMessage =
  | { rococo: 'heartbeat' }
  | { rococo: 'listening'; files?: string[] }
  | { rococo: 'boot-error'; message: string }
  | { rococo: 'recycle'; requests: number }
  | WorkerMetricsMessage;

/** Messages from the master to a worker. */
export type MasterMessage = { rococo: 'stop' } | MasterMetricsMessage;

/**
 * The worker's HTTP servers, one a bind, each made by `app.createServer()`: `app.close()` drains
 * them (stop accepting, let requests in flight finish, close keep-alive connections).
 */
export class Servers {
  private readonly servers: Server[] = [];

  constructor(
    private readonly app: ServableApp,
    private readonly binds: readonly Bind[],
    /** Called for every request; none: no listener (a second one slows every request's emit). */
    private readonly onRequest?: () => void,
  ) {}

  /** Listens on every bind; an address in use, or not allowed, is a {@link UserError}. */
  async listen(): Promise<void> {
    for (const bind of this.binds) {
      const server = this.app.createServer();
      if (this.onRequest !== undefined) {
        server.on('request', this.onRequest);
        server.on('checkContinue', this.onRequest);
      }
      this.servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(bind.port, bind.host, () => {
          server.off('error', reject);
          resolve();
        });
      }).catch((e: NodeJS.ErrnoException) => {
        const why: Record<string, string> = {
          EADDRINUSE: 'the address is in use (another server?)',
          EACCES: 'permission denied (ports below 1024 need privileges)',
          EADDRNOTAVAIL: 'this machine has no such address',
          ENOTFOUND: 'no such host',
        };
        if (e.code !== undefined && e.code in why)
          throw new UserError(`cannot listen on ${bind.host}:${bind.port}: ${why[e.code]}`);
        throw e;
      });
    }
  }
}

/** Sends a message to the master; resolves once it is written (or at once without a master). */
function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

/** A boot failure as the master prints it: the message of a user's mistake, else the stack. */
export function describeError(e: unknown): string {
  if (e instanceof UserError || (e instanceof Error && e.name === 'RococoError')) return e.message;
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}

/**
 * A worker of `rococo serve`: loads the app, runs its startup hooks, serves the binds, sends
 * heartbeats, and stops gracefully when the master says so (or on SIGTERM: the master then
 * starts another).
 */
export async function runWorker(config: WorkerConfig): Promise<void> {
  // The terminal sends Ctrl-C (SIGINT) and hang-ups (SIGHUP) to the whole process group: the
  // master decides what they mean.
  process.on('SIGINT', () => {});
  process.on('SIGHUP', () => {});
  if (config.heartbeat > 0) setInterval(() => void send({ rococo: 'heartbeat' }), config.heartbeat);

  let app: ServableApp | null = null;
  let servers: Servers | null = null;
  let serving = false;
  let stopWanted = false;
  let stopping = false;
  /** Sends the app's last metrics (after its last request), when it has metrics. */
  let finalMetrics: (() => Promise<void>) | null = null;
  const exit = (code: number) => process.exit(code);
  const stop = () => {
    stopWanted = true;
    if (!serving || stopping || app === null || servers === null) return;
    stopping = true;
    app
      .close()
      .then(() => finalMetrics?.())
      .then(
        () => exit(0),
        (err) => {
          app?.log.error({ err }, 'rococo serve: closing the app failed');
          exit(1);
        },
      );
  };
  process.on('message', (m: MasterMessage) => {
    if (m?.rococo === 'stop') stop();
  });
  process.on('SIGTERM', stop);

  let requests = 0;
  const onRequest = () => {
    if (++requests === config.maxRequests) void send({ rococo: 'recycle', requests });
  };
  try {
    app = await loadApp(config.file, config.spec, config.exportName);
    if (app.server !== null) {
      throw new UserError(
        `the app of '${config.spec}' is already listening (its module called listen()): export the app, or a function that builds it, and let rococo serve listen`,
      );
    }
    // A scrape of any worker answers with every worker's series, which the master sums.
    finalMetrics = workerMetrics(app, send);
    servers = new Servers(app, config.binds, config.maxRequests > 0 ? onRequest : undefined);
    await app.startup();
    if (stopWanted) {
      await app.close();
      return exit(0);
    }
    await servers.listen();
  } catch (e) {
    await send({ rococo: 'boot-error', message: describeError(e) });
    return exit(1);
  }
  serving = true;
  const files = config.reload
    ? Object.keys(require.cache).filter((f) => !f.includes(`${sep}node_modules${sep}`))
    : undefined;
  await send({ rococo: 'listening', files });
  if (stopWanted) stop();
}
