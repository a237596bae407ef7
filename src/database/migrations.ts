import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Database } from './database';
import { RococoError } from '../core/errors';

// One fixed advisory lock key for every rococo migration run: workers and hosts starting at
// once queue here, and each file is applied by exactly one of them.
const LOCK_KEY = 7_272_727_001;

const TABLE = 'rococo_migrations';

/**
 * Applies the `.sql` files of `dir` not applied yet, in name order (`001_users.sql`,
 * `002_projects.sql`...), each in its own transaction, and records them with a checksum.
 * Holds a PostgreSQL advisory lock meanwhile, so concurrent runs apply each file once.
 * A file changed after it was applied stops the run rather than be silently ignored.
 * Resolves to the names it applied (none when the database is up to date).
 *
 * @example
 * await migrate(db, join(__dirname, 'migrations'));
 */
export async function migrate(db: Database, dir: string): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const client = await db.pool.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (
        name text PRIMARY KEY,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now())`);
      const done = new Map<string, string>();
      for (const row of (
        await client.query<{ name: string; checksum: string }>(
          `SELECT name, checksum FROM ${TABLE}`,
        )
      ).rows) {
        done.set(row.name, row.checksum);
      }
      for (const file of files) {
        const text = await readFile(join(dir, file), 'utf8');
        const checksum = createHash('sha256').update(text).digest('hex');
        const previous = done.get(file);
        if (previous !== undefined) {
          if (previous !== checksum) {
            throw new RococoError(
              'ROCOCO_MIGRATION',
              `${file} was changed after it was applied; add a new migration instead`,
            );
          }
          continue;
        }
        try {
          await client.query('BEGIN');
          await client.query(text);
          await client.query(`INSERT INTO ${TABLE} (name, checksum) VALUES ($1, $2)`, [
            file,
            checksum,
          ]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw new RococoError(
            'ROCOCO_MIGRATION',
            `${file} failed and was rolled back: ${(err as Error).message}`,
          );
        }
        applied.push(file);
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]);
    }
  } finally {
    client.release();
  }
  return applied;
}
