import { createSampleApp } from './app';
import { devDatabase } from './dev-database';
import { loadSettings } from './settings';

/** `npm start`: PostgreSQL (DATABASE_URL, or an embedded one), migrations, then the server. */
async function main(): Promise<void> {
  const env = loadSettings();
  const db = await devDatabase();
  const settings = loadSettings({ DATABASE_URL: db.url });
  const app = createSampleApp(settings);
  app.on('cleanup', () => db.stop());
  const address = await app.listen(env.PORT, env.HOST);
  app.log.info(`rococo sample: a project tracker on ${address}/`);
  const stop = () => void app.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
