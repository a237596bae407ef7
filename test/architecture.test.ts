// The architecture rules of .dependency-cruiser.cjs (`npm run arch`), run by dependency-cruiser
// itself on small trees laid out like src/: each forbidden import must fail the check, and each
// allowed one must pass it. Without this, a rule whose path pattern no longer matches the
// layout would pass forever.
import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = resolve(__dirname, '..');
const depcruise = join(root, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
const config = join(root, '.dependency-cruiser.cjs');

/** Writes `files` (path under the tree -> source) and runs the project's rules on them. */
async function cruise(files: Record<string, string>): Promise<{ ok: boolean; output: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'rococo-arch-'));
  try {
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true } }),
    );
    for (const [path, source] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), source);
    }
    try {
      const { stdout } = await run(process.execPath, [depcruise, 'src', '--config', config], {
        cwd: dir,
      });
      return { ok: true, output: stdout };
    } catch (err) {
      const { stdout, stderr } = err as { stdout: string; stderr: string };
      return { ok: false, output: stdout + stderr };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const engine = { 'src/database/engine.ts': 'export class Engine {}\n' };

describe('architecture rules (npm run arch)', () => {
  test('the real tree passes', async () => {
    const { stdout } = await run(process.execPath, [depcruise, 'src', '--config', config], {
      cwd: root,
    });
    expect(stdout).toMatch(/no dependency violations found/);
  });

  test('the kernel importing a feature fails, naming the rule', async () => {
    const result = await cruise({
      ...engine,
      'src/core/application.ts': "import { Engine } from '../database/engine';\nnew Engine();\n",
    });
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/kernel-imports-no-feature/);
    expect(result.output).toMatch(/src\/core\/application\.ts → src\/database\/engine\.ts/);
  });

  test('a type-only import of a feature by the kernel passes: it vanishes at build', async () => {
    const result = await cruise({
      ...engine,
      'src/core/application.ts':
        "import type { Engine } from '../database/engine';\nexport let e: Engine | undefined;\n",
    });
    expect(result).toMatchObject({ ok: true });
  });

  test('a decorator importing a feature fails', async () => {
    const result = await cruise({
      ...engine,
      'src/decorators/template.ts': "import { Engine } from '../database/engine';\nnew Engine();\n",
    });
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/decorators-only-record/);
  });

  test('a feature importing another fails, unless the config allows that pair', async () => {
    const denied = await cruise({
      ...engine,
      'src/templates/render.ts': "import { Engine } from '../database/engine';\nnew Engine();\n",
    });
    expect(denied.ok).toBe(false);
    expect(denied.output).toMatch(/templates-imports-no-other-feature/);

    const allowed = await cruise({
      'src/static/files.ts': 'export class StaticFiles {}\n',
      'src/openapi/docs.ts': "import { StaticFiles } from '../static/files';\nnew StaticFiles();\n",
    });
    expect(allowed).toMatchObject({ ok: true });
  });

  test('a cycle fails', async () => {
    const result = await cruise({
      'src/core/a.ts': "import { b } from './b';\nexport const a = () => b();\n",
      'src/core/b.ts': "import { a } from './a';\nexport const b = () => a();\n",
    });
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/no-cycles/);
  });
});
