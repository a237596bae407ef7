import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSampleApp } from '../sample/app';
import { routeTypes } from '../src/cli/routes';
import { sampleSettings } from './helpers/sample';

/**
 * The sample's route types (`sample/routes.d.ts`, checked by `tsc -p sample` in `npm test`)
 * are what `npm run routes` writes from its routes today: a route renamed or added without
 * running it fails here.
 */
test('sample/routes.d.ts is up to date (npm run routes writes it)', async () => {
  const app = createSampleApp(sampleSettings('postgres://127.0.0.1/unused', { REDIS_URL: '' }));
  try {
    expect(readFileSync(join(__dirname, '..', 'sample', 'routes.d.ts'), 'utf8')).toBe(
      routeTypes(app, '../src', 'dist/sample/serve.js'),
    );
  } finally {
    await app.close();
  }
});
