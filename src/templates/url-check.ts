import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { RococoError } from '../core/errors';

// `url('name'` or `url("name"`: a literal name. A name built at render time (`url(x)`) is not checked.
const URL_CALL = /\burl\(\s*(['"])([^'"\n]*)\1/g;

/**
 * Checks every `url('name', ...)` with a literal name in every template under `dirs` against
 * the route table: templates cannot be type-checked, so a misspelled or renamed route stops
 * startup naming the file and line, instead of failing on the page that builds the link.
 */
export function checkTemplateUrls(
  dirs: readonly string[],
  unknownName: (name: string) => string | undefined,
): void {
  const problems: string[] = [];
  for (const dir of dirs) {
    for (const file of filesUnder(dir)) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(URL_CALL)) {
        const problem = unknownName(m[2]);
        if (problem === undefined) continue;
        const line = text.slice(0, m.index).split('\n').length;
        problems.push(`${relative(process.cwd(), file)}:${line}: url('${m[2]}'): ${problem}`);
      }
    }
  }
  if (problems.length > 0)
    throw new RococoError(
      'ROCOCO_TEMPLATE_URL',
      `templates name routes that do not exist:\n  ${problems.join('\n  ')}`,
    );
}

function filesUnder(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return []; // a missing folder is the loader's to report, when a template is asked for
  }
  return entries.flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : [],
  );
}
