/**
 * rococo as an npm package: `npm pack` on a clean copy of the checkout gives a tarball with the
 * built JavaScript, its declarations and nothing else; a new project (test/fixtures/package-app)
 * installs it next to reflect-metadata, offline, from that tarball; `tsc` compiles a hello app
 * against it under strict settings; node runs it, over HTTP and with `rococo/testing`.
 *
 * Offline: npm 11's `npm install <name>@<version>` asks the registry for each package's full
 * document, which `npm ci` never caches, so it cannot run offline on a machine whose cache only
 * `npm ci` has filled. The new project gets a lock file instead, made here from the tarball's own
 * dependencies pinned as the root lock file pins them (registry URL and integrity), and
 * `npm ci --offline` installs it from the tarballs the root's `npm ci` cached. A package missing
 * from the cache fails the test with its name: nothing is fetched.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative, resolve, sep } from 'node:path';

import { createTestDatabase } from './helpers/database';

const ROOT = resolve(__dirname, '..');
const FIXTURE = join(__dirname, 'fixtures', 'package-app');

jest.setTimeout(60_000);

interface PackageJson {
  name: string;
  version: string;
  main?: string;
  types?: string;
  bin?: string | Record<string, string>;
  exports?: Record<string, { types?: string; default?: string } | string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  optionalDependencies?: Record<string, string>;
  scripts?: Record<string, string>;
}

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
  dev?: boolean;
  devOptional?: boolean;
  peer?: boolean;
  optional?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [key: string]: unknown;
}

interface Run {
  stdout: string;
  stderr: string;
}

/** The environment of every child: the caller's, less what `npm test` says about the root project. */
const childEnv: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries({
    ...process.env,
    npm_config_update_notifier: 'false',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
  }).filter(
    ([k]) =>
      !/^npm_(package|lifecycle)_/.test(k) &&
      k !== 'npm_config_local_prefix' &&
      k !== 'INIT_CWD' &&
      k !== 'JEST_WORKER_ID',
  ),
);

function run(
  file: string,
  args: string[],
  cwd: string,
  timeout = 45_000,
  env: NodeJS.ProcessEnv = {},
): Promise<Run> {
  return new Promise((done, fail) => {
    execFile(
      file,
      args,
      { cwd, env: { ...childEnv, ...env }, timeout, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          fail(
            new Error(
              `${file} ${args.join(' ')} (in ${cwd}) failed: ${error.message}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`,
            ),
          );
        } else {
          done({ stdout, stderr });
        }
      },
    );
  });
}

/** `name` as node finds it from the package at `from` (a lock file key): its own node_modules, then up. */
function resolveInLock(
  packages: Record<string, LockEntry>,
  name: string,
  from: string,
): string | undefined {
  let dir = from;
  for (;;) {
    const key = dir === '' ? `node_modules/${name}` : `${dir}/node_modules/${name}`;
    if (packages[key] !== undefined) return key;
    if (dir === '') return undefined;
    const up = dir.lastIndexOf('/node_modules/');
    dir = up < 0 ? '' : dir.slice(0, up);
  }
}

/** Every file in the tarball, without the `package/` prefix. */
function tarList(tarball: string): Promise<string[]> {
  return run('tar', ['-tzf', tarball], dirname(tarball)).then(({ stdout }) =>
    stdout
      .split('\n')
      .filter((l) => l !== '' && !l.endsWith('/'))
      .map((l) => l.replace(/^package\//, ''))
      .sort(),
  );
}

function sourceFiles(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    if (d.isDirectory()) return sourceFiles(p, base);
    return d.name.endsWith('.ts') && !d.name.endsWith('.d.ts')
      ? [relative(base, p).split(sep).join('/')]
      : [];
  });
}

const exact = (range: string) => /^\d+\.\d+\.\d+(-[\w.]+)?$/.test(range);

/**
 * Installs `direct` into the project at `dir`, offline: a lock file made from the tarball's
 * manifest (rococo) and the root lock file (everything else, found the way node finds it), then
 * `npm ci --offline` from the tarballs the root's `npm ci` cached.
 */
async function installOffline(
  dir: string,
  project: { name: string; version: string },
  direct: Record<string, string>,
  devDirect: Record<string, string>,
  tarball: string,
  tarballSpec: string,
  manifest: PackageJson,
  lock: Record<string, LockEntry>,
): Promise<void> {
  const app = project;
  const appDir = dir;
  // Its lock file: rococo's entry from the tarball's package.json, every other package as the
  // root lock file has it, found the way node finds it.
  const tarballIntegrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  const packages: Record<string, LockEntry> = {
    '': {
      name: app.name,
      version: app.version,
      dependencies: direct,
      ...(Object.keys(devDirect).length > 0 ? { devDependencies: devDirect } : {}),
    },
    'node_modules/rococo': {
      version: manifest.version,
      resolved: tarballSpec,
      integrity: tarballIntegrity,
      ...(manifest.dependencies ? { dependencies: manifest.dependencies } : {}),
      ...(manifest.optionalDependencies
        ? { optionalDependencies: manifest.optionalDependencies }
        : {}),
      ...(manifest.peerDependencies ? { peerDependencies: manifest.peerDependencies } : {}),
      ...(manifest.peerDependenciesMeta
        ? { peerDependenciesMeta: manifest.peerDependenciesMeta }
        : {}),
      ...(manifest.bin ? { bin: manifest.bin } : {}),
    },
  };
  const problems: string[] = [];
  const queue: Array<[from: string, deps: Record<string, string>, optional: Set<string>]> = [
    [
      '',
      Object.fromEntries(
        [...Object.keys(direct), ...Object.keys(devDirect)]
          .filter((n) => n !== 'rococo')
          .map((n) => [n, '']),
      ),
      new Set(),
    ],
    [
      'node_modules/rococo',
      {
        ...manifest.dependencies,
        ...manifest.optionalDependencies,
        ...manifest.peerDependencies,
      },
      new Set([
        ...Object.keys(manifest.optionalDependencies ?? {}),
        ...Object.entries(manifest.peerDependenciesMeta ?? {})
          .filter(([, m]) => m.optional)
          .map(([n]) => n),
      ]),
    ],
  ];
  while (queue.length > 0) {
    const [from, deps, optional] = queue.shift()!;
    for (const [name, range] of Object.entries(deps)) {
      const key = resolveInLock(lock, name, from);
      if (key === undefined) {
        if (!optional.has(name))
          problems.push(
            `${name}@${range}, needed by ${from || 'the project'}, is not in the root package-lock.json`,
          );
        continue;
      }
      if (from === 'node_modules/rococo' && exact(range) && lock[key].version !== range) {
        problems.push(
          `rococo needs ${name}@${range}; the root package-lock.json has ${lock[key].version}`,
        );
      }
      if (packages[key] !== undefined) continue;
      const { dev: _dev, devOptional: _devOptional, peer: _peer, ...entry } = lock[key];
      // The root lock file may omit registry URLs (omit-lockfile-registry-resolved); with the URL
      // and the integrity, npm takes the tarball from its cache without the package's document.
      if (entry.resolved === undefined && entry.integrity !== undefined && !entry.link) {
        const pkgName = key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
        entry.resolved = `https://registry.npmjs.org/${pkgName}/-/${pkgName.split('/').pop()}-${entry.version}.tgz`;
      }
      packages[key] = entry;
      const ownOptional = new Set([
        ...Object.keys(entry.optionalDependencies ?? {}),
        ...Object.entries(entry.peerDependenciesMeta ?? {})
          .filter(([, m]) => m.optional)
          .map(([n]) => n),
      ]);
      queue.push([
        key,
        { ...entry.dependencies, ...entry.optionalDependencies, ...entry.peerDependencies },
        ownOptional,
      ]);
    }
  }
  expect(problems).toEqual([]);
  writeFileSync(
    join(appDir, 'package-lock.json'),
    JSON.stringify(
      { name: app.name, version: app.version, lockfileVersion: 3, requires: true, packages },
      null,
      2,
    ) + '\n',
  );

  try {
    await run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], appDir);
  } catch (e) {
    const message = (e as Error).message;
    const uncached = [
      ...new Set(
        [...message.matchAll(/request to (\S+) failed: cache mode is 'only-if-cached'/g)].map(
          (m) => m[1],
        ),
      ),
    ];
    if (uncached.length > 0) {
      throw new Error(
        `npm's cache lacks ${uncached.join(', ')}: run \`npm ci\` at the root first (this test never goes online)\n${message}`,
        { cause: e },
      );
    }
    throw e;
  }
}

describe('the npm package', () => {
  let work: string;
  let checkout: string; // the copy of the checkout that was packed
  let tarball: string; // absolute path
  let files: string[]; // in the tarball
  let manifest: PackageJson; // the tarball's package.json
  let unpacked: string; // the tarball, extracted
  let appDir: string;
  let compiled = false;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'rococo-package-'));
    // A clean copy of the checkout, as a fresh clone has it: no dist/ (so `npm pack` must build,
    // and the dist/ other suites may read is never rewritten), the root's node_modules linked.
    checkout = join(work, 'checkout');
    const ignored = new Set(['node_modules', 'dist', 'coverage', '.data', '.rococo', '.git']);
    cpSync(ROOT, checkout, {
      recursive: true,
      filter: (src) => {
        const rel = relative(ROOT, src).split(sep).join('/');
        const name = posix.basename(rel);
        return !ignored.has(name) && rel !== 'test/artifacts' && !name.endsWith('.log');
      },
    });
    symlinkSync(join(ROOT, 'node_modules'), join(checkout, 'node_modules'), 'dir');

    await run('npm', ['pack', '--pack-destination', work], checkout, 50_000);
    const tgz = readdirSync(work).filter((f) => f.endsWith('.tgz'));
    expect(tgz).toHaveLength(1);
    tarball = join(work, tgz[0]);
    files = await tarList(tarball);
    mkdirSync(join(work, 'unpacked'));
    await run('tar', ['-xzf', tarball, '-C', join(work, 'unpacked')], work);
    unpacked = join(work, 'unpacked', 'package');
    manifest = JSON.parse(readFileSync(join(unpacked, 'package.json'), 'utf8')) as PackageJson;
  }, 60_000);

  afterAll(() => {
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  test('the tarball holds the built JavaScript and declarations of src/, package.json and README, nothing else', () => {
    const outside = files.filter(
      (f) =>
        !f.startsWith('dist/src/') &&
        !['package.json', 'README.md'].includes(f) &&
        !/^LICEN[CS]E(\.\w+)?$/i.test(f),
    );
    expect(outside).toEqual([]);
    expect(
      files.filter(
        (f) => /^(test|sample|bench|src)\//.test(f) || /(^|\/)(node_modules|fixtures)\//.test(f),
      ),
    ).toEqual([]);
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);

    // `npm pack` built dist/ (a fresh clone has none): every module of src/ is there, compiled.
    const missing = sourceFiles(join(checkout, 'src'))
      .map((f) => f.replace(/\.ts$/, ''))
      .flatMap((m) => [`dist/src/${m}.js`, `dist/src/${m}.d.ts`])
      .filter((f) => !files.includes(f));
    expect({
      missing,
      hint:
        missing.length > 0
          ? 'npm pack packs dist/src as it is: a "prepack" script must build it'
          : '',
    }).toEqual({ missing: [], hint: '' });
    expect(files).toEqual(
      expect.arrayContaining([
        'dist/src/index.js',
        'dist/src/index.d.ts',
        'dist/src/testing.js',
        'dist/src/testing.d.ts',
        'package.json',
        'README.md',
      ]),
    );
  });

  test('package.json points at files in the tarball: main, types, exports of rococo and rococo/testing, bin', () => {
    const target = (p: string) => posix.normalize(p).replace(/^\.\//, '');
    expect(manifest.exports).toMatchObject({
      '.': { types: './dist/src/index.d.ts', default: './dist/src/index.js' },
      './testing': { types: './dist/src/testing.d.ts', default: './dist/src/testing.js' },
    });
    const pointed = [
      manifest.main,
      manifest.types,
      ...Object.values(manifest.exports ?? {}).flatMap((e) =>
        typeof e === 'string' ? [e] : [e.types, e.default],
      ),
    ];
    const bins =
      typeof manifest.bin === 'string' ? [manifest.bin] : Object.values(manifest.bin ?? {});
    const absent = [...pointed, ...bins]
      .filter((p): p is string => p !== undefined)
      .map(target)
      .filter((p) => !files.includes(p));
    expect(absent).toEqual([]);
    for (const bin of bins) {
      expect(readFileSync(join(unpacked, target(bin)), 'utf8')).toMatch(
        /^#!\/usr\/bin\/env node\n/,
      );
    }
  });

  test('source maps point at nothing that is missing from the tarball', () => {
    const dangling: string[] = [];
    for (const f of files.filter((f) => f.endsWith('.js') || f.endsWith('.d.ts'))) {
      const text = readFileSync(join(unpacked, f), 'utf8');
      const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(text)?.[1];
      if (
        url !== undefined &&
        !url.startsWith('data:') &&
        !files.includes(posix.join(posix.dirname(f), url))
      )
        dangling.push(`${f} -> ${url}`);
    }
    for (const f of files.filter((f) => f.endsWith('.map'))) {
      const map = JSON.parse(readFileSync(join(unpacked, f), 'utf8')) as {
        sources: string[];
        sourcesContent?: (string | null)[];
        sourceRoot?: string;
      };
      map.sources.forEach((s, i) => {
        const p = posix.join(posix.dirname(f), map.sourceRoot ?? '', s);
        if (!files.includes(p) && typeof map.sourcesContent?.[i] !== 'string')
          dangling.push(`${f} -> ${s}`);
      });
    }
    expect(dangling).toEqual([]);
  });

  test('every package the JavaScript requires is a node builtin or declared in dependencies or peerDependencies', () => {
    const declared = new Set([
      ...Object.keys(manifest.dependencies ?? {}),
      ...Object.keys(manifest.peerDependencies ?? {}),
      ...Object.keys(manifest.optionalDependencies ?? {}),
    ]);
    const builtins = new Set(builtinModules);
    const undeclared = new Set<string>();
    for (const f of files.filter((f) => f.endsWith('.js'))) {
      const text = readFileSync(join(unpacked, f), 'utf8');
      for (const m of text.matchAll(/\b(?:require|import)\(\s*['"]([^'"]+)['"]\s*\)/g)) {
        const spec = m[1];
        if (spec.startsWith('.') || spec.startsWith('node:') || builtins.has(spec)) continue;
        const name = spec.startsWith('@')
          ? spec.split('/').slice(0, 2).join('/')
          : spec.split('/')[0];
        if (!declared.has(name)) undeclared.add(`${name} (${f})`);
      }
    }
    expect([...undeclared]).toEqual([]);
  });

  test('a new project installs the tarball next to reflect-metadata offline, and tsc compiles a hello app against it', async () => {
    const rootLock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, LockEntry>;
    };
    const lock = rootLock.packages;
    const version = (name: string) => {
      const v = lock[`node_modules/${name}`]?.version;
      if (v === undefined) throw new Error(`${name} is not in the root package-lock.json`);
      return v;
    };

    appDir = join(work, 'app');
    mkdirSync(join(appDir, 'src'), { recursive: true });
    for (const f of ['tsconfig.json', 'package.json']) cpSync(join(FIXTURE, f), join(appDir, f));
    // The fixture's sources are .ts.txt so that the root's `tsc -p .` (which includes test/) skips them.
    for (const f of readdirSync(join(FIXTURE, 'src')))
      cpSync(join(FIXTURE, 'src', f), join(appDir, 'src', f.replace(/\.txt$/, '')));

    // The project's dependencies: rococo from the tarball, reflect-metadata, and the compiler.
    const tarballSpec = `file:${relative(appDir, tarball).split(sep).join('/')}`;
    const direct: Record<string, string> = {
      rococo: tarballSpec,
      'reflect-metadata': version('reflect-metadata'),
      typescript: version('typescript'),
      '@types/node': version('@types/node'),
    };
    const app = JSON.parse(readFileSync(join(appDir, 'package.json'), 'utf8')) as PackageJson;
    app.dependencies = direct;
    writeFileSync(join(appDir, 'package.json'), JSON.stringify(app, null, 2) + '\n');

    await installOffline(appDir, app, direct, {}, tarball, tarballSpec, manifest, lock);
    const installedManifest = JSON.parse(
      readFileSync(join(appDir, 'node_modules', 'rococo', 'package.json'), 'utf8'),
    ) as PackageJson;
    expect(installedManifest.version).toBe(manifest.version);
    const absent = [...Object.keys(manifest.dependencies ?? {}), 'reflect-metadata'].filter(
      (name) => !existsSync(join(appDir, 'node_modules', name, 'package.json')),
    );
    expect(absent).toEqual([]);
    const bins =
      typeof manifest.bin === 'string' ? [manifest.name] : Object.keys(manifest.bin ?? {});
    for (const bin of bins)
      expect(existsSync(join(appDir, 'node_modules', '.bin', bin))).toBe(true);

    // Strict, decorators with metadata, library declarations checked too (skipLibCheck: false),
    // node16 resolution (through `exports`).
    const tsc = join(appDir, 'node_modules', 'typescript', 'bin', 'tsc');
    await run(process.execPath, [tsc, '-p', '.'], appDir);
    // The resolution of `"module": "commonjs"` (node10), which reads `types`, not `exports`.
    await run(
      process.execPath,
      [
        tsc,
        '-p',
        '.',
        '--noEmit',
        '--module',
        'commonjs',
        '--moduleResolution',
        'node10',
        '--esModuleInterop',
      ],
      appDir,
    );
    expect(readdirSync(join(appDir, 'dist')).sort()).toEqual([
      'app.js',
      'audit.js',
      'check.js',
      'server.js',
    ]);
    compiled = true;
  });

  test('the compiled hello app serves GET /hello/<name> over HTTP', async () => {
    if (!compiled) throw new Error('the hello app was not compiled: see the test before');
    const child = spawn(process.execPath, ['dist/server.js'], {
      cwd: appDir,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    try {
      const base = await new Promise<string>((done, fail) => {
        let out = '';
        child.stdout.on('data', (b: Buffer) => {
          out += b.toString();
          const m = /^listening (http:\/\/\S+)$/m.exec(out);
          if (m) done(m[1]);
        });
        void exited.then((code) =>
          fail(new Error(`the hello app exited (${code}) before listening:\n${out}\n${stderr}`)),
        );
      });
      const res = await fetch(`${base}/hello/world`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await res.json()).toEqual({ hello: 'world' });
      expect(await (await fetch(`${base}/hello/%C3%A9t%C3%A9`)).json()).toEqual({ hello: 'été' });
      expect((await fetch(`${base}/nowhere`)).status).toBe(404);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
  });

  test('a test of the app written with rococo/testing runs, and ESM code imports both entry points', async () => {
    if (!compiled) throw new Error('the hello app was not compiled: see the test before');
    const { stdout, stderr } = await run(process.execPath, ['dist/check.js'], appDir);
    expect({ stdout, stderr }).toEqual({ stdout: 'check ok\n', stderr: '' });

    const esm = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "import { createApp, Controller, HTTPNotFound } from 'rococo'; import { testClient } from 'rococo/testing'; console.log([createApp, Controller, HTTPNotFound, testClient].map((f) => typeof f).join(' '));",
      ],
      appDir,
    );
    expect(esm.stdout).toBe('function function function function\n');
  });

  test('rococo new makes a project that installs offline and passes its own npm test', async () => {
    if (!compiled) throw new Error('the hello app was not installed: see the tests before');
    const dir = join(work, 'greeter');
    const cli = join(appDir, 'node_modules', 'rococo', 'dist', 'src', 'cli', 'main.js');
    const made = await run(process.execPath, [cli, 'new', dir], work);
    expect(made.stdout).toContain('Made greeter in');
    // A folder with something in it is refused.
    await expect(run(process.execPath, [cli, 'new', dir], work)).rejects.toThrow(/is not empty/);

    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson & {
      devDependencies: Record<string, string>;
    };
    // Every version the project pins is rococo's own (its package.json), rococo at its version.
    expect(pkg.dependencies?.rococo).toBe(manifest.version);
    for (const [name, v] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies }))
      expect([name, exact(v)]).toEqual([name, true]);
    // Installed from the tarball rather than the registry, as `npm install ../rococo.tgz` would.
    const dependencies = {
      ...pkg.dependencies,
      rococo: `file:${relative(dir, tarball).split(sep).join('/')}`,
    };
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ ...pkg, dependencies }, null, 2) + '\n',
    );
    const rootLock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, LockEntry>;
    };
    await installOffline(
      dir,
      pkg,
      dependencies,
      pkg.devDependencies,
      tarball,
      dependencies.rococo,
      manifest,
      rootLock.packages,
    );
    // Its own `npm test` (tsc, then jest over real HTTP), on a database of its own.
    const db = await createTestDatabase();
    try {
      const { stdout, stderr } = await run('npm', ['test'], dir, 170_000, {
        DATABASE_URL: db.url,
      });
      expect(`${stdout}\n${stderr}`).toMatch(/Tests:\s+2 passed, 2 total/);
    } finally {
      await db.drop();
    }
  }, 240_000);
});
