import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The folder of the project's package.json, whether running from the sources or from dist/. */
export function projectRoot(from = __dirname): string {
  if (existsSync(join(from, 'package.json'))) return from;
  const up = dirname(from);
  if (up === from) throw new Error(`no package.json above ${__dirname}`);
  return projectRoot(up);
}

/** The sample's sources: migrations, templates and static files are read from here. */
export const SAMPLE_DIR = join(projectRoot(), 'sample');
