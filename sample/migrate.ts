import { join } from 'node:path';
import pino from 'pino';
import { Database, migrate } from '../src';
import { devDatabase } from '../src/dev-database';
import { SAMPLE_DIR } from './paths';

/** `npm run migrate`: applies the sample's migrations to DATABASE_URL (or the embedded server). */
async function main(): Promise<void> {
  const server = await devDatabase();
  const log = pino();
  const db = Database.create({ url: server.url }, log);
  try {
    const applied = await migrate(db, join(SAMPLE_DIR, 'migrations'));
    log.info(
      applied.length > 0 ? { applied } : {},
      applied.length > 0 ? 'migrations applied' : 'the database is up to date',
    );
  } finally {
    await db.close();
    await server.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
