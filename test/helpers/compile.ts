import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';

const ROOT = join(__dirname, '..', '..');

/**
 * Compiles folders of the project (`src`, `sample`, a fixture) with tsc into a new folder of
 * this run, as `npm run build` would, for tests that run the compiled code in processes of
 * their own (`rococo serve`). Under the project, so that the compiled code finds node_modules;
 * a folder per run, so that suites running at the same time do not race. Returns the folder.
 */
export async function compileProject(folders: readonly string[], prefix: string): Promise<string> {
  mkdirSync(join(ROOT, 'node_modules', '.cache'), { recursive: true });
  const out = mkdtempSync(join(ROOT, 'node_modules', '.cache', prefix));
  const rel = (p: string) => relative(out, join(ROOT, p));
  writeFileSync(
    join(out, 'tsconfig.json'),
    JSON.stringify({
      extends: rel('tsconfig.json'),
      compilerOptions: {
        outDir: '.',
        rootDir: rel('.'),
        types: ['node'],
        declaration: false,
        sourceMap: false,
      },
      include: folders.map(rel),
    }),
  );
  // --noCheck: emit only (decorator metadata included); `tsc --noEmit -p .` is the type check.
  await promisify(execFile)(process.execPath, [
    require.resolve('typescript/bin/tsc'),
    '-p',
    join(out, 'tsconfig.json'),
    '--noCheck',
  ]);
  return out;
}
