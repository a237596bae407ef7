import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../src/cli/main';

/**
 * `rococo new`'s command line. That the project it makes installs and passes its own `npm test`
 * is shown end to end in test/package.test.ts, from the npm tarball.
 */
describe('rococo new', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'rococo-new-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const cli = async (...args: string[]) => {
    let err = '';
    const out: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((t: string) => out.push(t) > 0) as typeof process.stdout.write;
    try {
      const code = await runCli(args, { stderr: (t) => void (err += t) });
      return { code, out: out.join(''), err };
    } finally {
      process.stdout.write = write;
    }
  };

  it('makes the project in a new folder, named after it', async () => {
    const { code, out } = await cli('new', join(dir, 'Tracker'));
    expect(code).toBe(0);
    expect(out).toContain('Made tracker in');
    expect(readdirSync(join(dir, 'Tracker')).sort()).toEqual([
      '.gitignore',
      'README.md',
      'jest.config.js',
      'migrations',
      'package.json',
      'src',
      'templates',
      'test',
      'tsconfig.json',
    ]);
  });

  it('refuses a folder that is not empty, a bad name, and a bad command line', async () => {
    await cli('new', join(dir, 'a'));
    const twice = await cli('new', join(dir, 'a'));
    expect([twice.code, twice.err]).toEqual([
      1,
      `rococo new: ${join(dir, 'a')} is not empty: rococo new makes a project in a new or empty folder\n`,
    ]);
    const badName = await cli('new', join(dir, 'b'), '--name', 'Not A Name');
    expect(badName.code).toBe(1);
    expect(badName.err).toMatch(/'Not A Name' is not a package name/);
    const none = await cli('new');
    expect([none.code, none.err.split('\n')[0]]).toEqual([2, 'rococo new: give one folder']);
    const help = await cli('new', '--help');
    expect([help.code, help.out.split('\n')[0]]).toEqual([0, 'Usage: rococo new <dir> [options]']);
  });
});
