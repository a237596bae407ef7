import { devDatabase } from '../src/testing';

/**
 * Without DATABASE_URL (a fresh laptop), the suites run against an embedded PostgreSQL started
 * here once; with it (CI), against that server. Each suite then makes a database of its own.
 */
export default async function globalSetup(): Promise<void> {
  const db = await devDatabase('rococo_test', 54330);
  process.env.DATABASE_URL = db.url;
  (globalThis as { __ROCOCO_DB_STOP__?: () => Promise<void> }).__ROCOCO_DB_STOP__ = db.stop;
}
