import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/** A database of its own for one suite, on the server of DATABASE_URL; `drop()` removes it. */
export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** Creates an empty database so that suites running in parallel never see each other's rows. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const base = process.env.DATABASE_URL;
  if (!base) throw new Error('DATABASE_URL is not set: jest global-setup should have set it');
  const name = `rococo_t_${randomBytes(6).toString('hex')}`;
  await admin(base, `CREATE DATABASE ${name}`);
  const url = new URL(base);
  url.pathname = '/' + name;
  return {
    url: url.toString(),
    drop: () => admin(base, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

async function admin(url: string, statement: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
