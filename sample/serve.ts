import { RococoError, type Application } from '../src';
import { createSampleApp } from './app';
import { isDevelopment } from './development';
import { loadSettings } from './settings';
import { startTelemetry } from './telemetry';

/**
 * The sample for `rococo serve dist/sample/serve.js`: each worker builds its app here, with
 * settings from the environment (DEBUG on in development). DATABASE_URL must be set: `npm
 * start` sets it, to an embedded PostgreSQL it starts once for all the workers when the
 * environment has none.
 */
export default function sampleApp(): Application {
  const settings = loadSettings(isDevelopment() ? { DEBUG: true } : {});
  if (settings.DATABASE_URL === '') {
    throw new RococoError(
      'ROCOCO_SETTINGS',
      'DATABASE_URL is not set: set DATABASE_URL=postgres://..., or run npm start, which starts an embedded PostgreSQL',
    );
  }
  // Before the app: tracing() looks for OpenTelemetry's SDK when the app is built.
  const stopTelemetry = startTelemetry();
  const app = createSampleApp(settings);
  if (stopTelemetry !== null) app.on('cleanup', stopTelemetry);
  return app;
}
