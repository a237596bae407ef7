import { createSampleApp } from './app';
import { loadSettings } from './settings';

async function main(): Promise<void> {
  const settings = loadSettings();
  const app = createSampleApp(settings);
  const address = await app.listen(settings.PORT, settings.HOST);
  app.log.info(`rococo sample listening on ${address} (try ${address}/api/)`);
  const stop = () => void app.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
