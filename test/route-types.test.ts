import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { compileProject } from './helpers/compile';

/**
 * `rococo routes`: the table it prints, and the declaration `--types` writes, judged by tsc:
 * with it, every marked misuse of `app.url()` fails to compile on its own line and every
 * right call compiles.
 */

const ROOT = join(__dirname, '..');
const FIXTURE = join(__dirname, 'fixtures', 'route-types');

/** The compiled project of this run: rococo's CLI and the fixture app, as JavaScript. */
let built: string;
beforeAll(async () => {
  built = await compileProject(['src', 'test/fixtures/route-types'], 'route-types-');
}, 120_000);
afterAll(() => rmSync(built, { recursive: true, force: true }));

/** `rococo <args>` in a process of its own, from the compiled CLI. */
async function rococo(
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [
      join(built, 'src', 'cli', 'main.js'),
      ...args,
    ]);
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}
const app = () => relative(process.cwd(), join(built, 'test', 'fixtures', 'route-types', 'app.js'));

async function tsc(dir: string): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [
      require.resolve('typescript/bin/tsc'),
      '-p',
      join(dir, 'tsconfig.json'),
    ]);
    return { code: 0, out: stdout };
  } catch (e) {
    const err = e as { code: number; stdout: string };
    return { code: err.code, out: err.stdout };
  }
}

describe('rococo routes', () => {
  it('prints method, pattern, name, handler, middlewares and plugins', async () => {
    const { code, stdout } = await rococo('routes', app());
    expect(code).toBe(0);
    const rows = stdout.trimEnd().split('\n');
    expect(rows[0].split(/\s{2,}/)).toEqual([
      'METHOD',
      'PATTERN',
      'NAME',
      'HANDLER',
      'MIDDLEWARES',
      'PLUGINS',
    ]);
    expect(rows.slice(1).map((r) => r.split(/\s{2,}/))).toEqual([
      ['GET', '/projects', 'projects.list', 'Projects.list', '-', '-'],
      ['GET', '/projects/<project_id:int>', 'projects.show', 'Projects.show', '-', '-'],
      ['GET', '/files/<path:path>', 'misc.file', 'Misc.file', '-', '-'],
      ['GET', '/tags/<tag>', 'misc.tag', 'Misc.tag', '-', '-'],
      ['GET', '/unnamed', '-', 'Misc.unnamed', '-', '-'],
    ]);
  });

  it('says what is wrong with its arguments', async () => {
    const none = await rococo('routes');
    expect([none.code, none.stderr.split('\n')[0]]).toEqual([2, 'rococo routes: give one module']);
    const typo = await rococo('routes', app(), '--typo');
    expect(typo.code).toBe(2);
    expect(typo.stderr).toBe("rococo routes: unknown option '--typo' (see rococo routes --help)\n");
    const missing = await rococo('routes', 'no/such/module.js');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^rococo routes: .*no\/such\/module\.js/);
  });
});

describe('rococo routes --types', () => {
  let dir: string;
  beforeAll(async () => {
    mkdirSync(join(ROOT, 'node_modules', '.cache'), { recursive: true });
    dir = mkdtempSync(join(ROOT, 'node_modules', '.cache', 'route-types-'));
    const src = relative(dir, join(ROOT, 'src')).split('\\').join('/');
    const written = await rococo(
      'routes',
      app(),
      '--types',
      join(dir, 'routes.d.ts'),
      '--module',
      src,
    );
    expect(written.code).toBe(0);
    writeFileSync(
      join(dir, 'usage.ts'),
      readFileSync(join(FIXTURE, 'usage.ts.txt'), 'utf8').replace('{{SRC}}', src),
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        extends: relative(dir, join(ROOT, 'tsconfig.json')),
        compilerOptions: { noEmit: true, types: ['node'] },
        include: ['usage.ts', 'routes.d.ts'],
      }),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes each named route with its parameter types', () => {
    const text = readFileSync(join(dir, 'routes.d.ts'), 'utf8');
    expect(text).toContain('"projects.show": { "project_id": number };');
    expect(text).toContain('"projects.list": Record<string, never>;');
    expect(text).toContain('"misc.file": { "path": string };');
    expect(text).toContain('"misc.tag": { "tag": string | number };');
    expect(text).not.toContain('unnamed');
  });

  it('makes every marked misuse a compile error, and the right calls compile', async () => {
    // As written: each @ts-expect-error has its error, and nothing else fails.
    const marked = await tsc(dir);
    expect([marked.code, marked.out]).toEqual([0, '']);
    // Without the markers, tsc reports exactly the marked lines.
    const usage = readFileSync(join(dir, 'usage.ts'), 'utf8').split('\n');
    const expected = usage.flatMap((line, i) =>
      line.trim().startsWith('// @ts-expect-error') ? [i + 2] : [],
    );
    writeFileSync(
      join(dir, 'usage.ts'),
      usage.map((l) => (l.trim().startsWith('// @ts-expect-error') ? '' : l)).join('\n'),
    );
    const bare = await tsc(dir);
    const lines = [...bare.out.matchAll(/usage\.ts\((\d+),\d+\): error/g)].map((m) => Number(m[1]));
    expect(expected).toHaveLength(7);
    expect([...new Set(lines)]).toEqual(expected);
  }, 180_000);
});
