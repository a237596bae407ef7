import { createSampleApp } from './app';
import { devDatabase } from './dev-database';
import { loadSettings, type AppSettings } from './settings';

/**
 * `npm start`, the development server: PostgreSQL (DATABASE_URL, or an embedded one),
 * migrations, then the server. DEBUG is on unless the environment sets DEBUG or
 * NODE_ENV=production, so that a fresh checkout starts without SESSION_KEYS (a development
 * key is generated into `.rococo/session-key`); in production set SESSION_KEYS or REDIS_URL.
 */
async function main(): Promise<void> {
  const env = loadSettings();
  const db = await devDatabase();
  const development = process.env.DEBUG === undefined && process.env.NODE_ENV !== 'production';
  const overrides: Partial<AppSettings> = { DATABASE_URL: db.url, ...(development ? { DEBUG: true } : {}) };
  let app;
  try {
    app = createSampleApp(loadSettings(overrides));
  } catch (e) {
    await db.stop(); // e.g. no SESSION_KEYS with DEBUG off: the message says how to make one
    throw e;
  }
  app.on('cleanup', () => db.stop());
  const address = await app.listen(env.PORT, env.HOST);
  app.log.info(`rococo sample: a project tracker on ${address}/${development ? ' (DEBUG on: set DEBUG=0 or NODE_ENV=production to turn it off)' : ''}`);
  const stop = () => void app.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
