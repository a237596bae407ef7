import { existsSync } from 'node:fs';
import { extname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Application } from '../core/application';
import { UserError } from './options';

/**
 * What a worker serves: the public surface of {@link Application} it uses. An app built with
 * another copy of rococo (one in the app's node_modules, this CLI from another) is still an app.
 */
export type ServableApp = Pick<
  Application,
  'startup' | 'close' | 'on' | 'createServer' | 'router' | 'server' | 'log'
>;

// A real import() (tsc would turn `import()` into `require()` under CommonJS): ES modules.
const importModule = new Function('specifier', 'return import(specifier)') as (
  specifier: string,
) => Promise<Record<string, unknown>>;

const TYPESCRIPT = new Set(['.ts', '.mts', '.cts', '.tsx']);

/**
 * The file of `spec`: a path relative to `cwd` (extension optional: `dist/app` finds
 * `dist/app.js` or `dist/app/index.js`), else a package installed for `cwd`.
 */
export function resolveModule(spec: string, cwd: string = process.cwd()): string {
  const path = resolve(cwd, spec);
  try {
    return require.resolve(path);
  } catch {
    // not a file: maybe a package
  }
  if (!spec.startsWith('.') && !isAbsolute(spec)) {
    try {
      return require.resolve(spec, { paths: [cwd] });
    } catch {
      // neither
    }
  }
  const hint =
    existsSync(resolve(cwd, 'dist')) && !spec.startsWith('dist')
      ? '; compiled code is usually under dist/'
      : '';
  throw new UserError(
    `cannot find the module '${spec}': no file ${path} (nor with .js, nor a folder with index.js)${hint}`,
  );
}

/** Loads a module: `require`, or `import()` for an ES module. */
export async function loadModule(file: string, spec: string): Promise<Record<string, unknown>> {
  const ext = extname(file);
  if (TYPESCRIPT.has(ext) && require.extensions[ext === '.tsx' ? '.tsx' : '.ts'] === undefined) {
    throw new UserError(
      `'${spec}' is TypeScript and no loader is registered: compile it (tsc) and serve the .js, or run node -r ts-node/register .../rococo serve ${spec}`,
    );
  }
  if (ext === '.mjs') return importModule(pathToFileURL(file).href);
  try {
    return require(file) as Record<string, unknown>;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_REQUIRE_ESM' || code === 'ERR_REQUIRE_ASYNC_MODULE')
      return importModule(pathToFileURL(file).href);
    throw e;
  }
}

/** Whether `value` is an Application (of this copy of rococo, or of another one). */
export function isApp(value: unknown): value is ServableApp {
  // Not instanceof: the master loads no framework code, and an app may come from another copy.
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return (
    ['startup', 'close', 'on', 'createServer'].every((k) => typeof v[k] === 'function') &&
    typeof v.router === 'object'
  );
}

/**
 * The app of `spec` (`module[:export]`): the named export, or the default export
 * (`module.exports`, or an ES module's or tsc's `default`); an Application, or a function
 * that returns one or a promise of one.
 */
export async function loadApp(
  file: string,
  spec: string,
  exportName: string | undefined,
): Promise<ServableApp> {
  const mod = await loadModule(file, spec);
  let value: unknown;
  let what: string;
  if (exportName !== undefined) {
    value =
      exportName in Object(mod)
        ? mod[exportName]
        : (mod.default as Record<string, unknown> | undefined)?.[exportName];
    what = `export '${exportName}' of '${spec}'`;
    if (value === undefined)
      throw new UserError(`'${spec}' has no export '${exportName}'${exportsList(mod)}`);
  } else {
    value = defaultExport(mod);
    what = `the default export of '${spec}'`;
    if (value === undefined) {
      throw new UserError(
        `'${spec}' has no default export (module.exports or export default)${exportsList(mod)}; name one: rococo serve ${spec}:<export>`,
      );
    }
  }
  if (isApp(value)) return value;
  if (typeof value !== 'function') {
    throw new UserError(
      `${what} is ${describe(value)}, not an Application nor a function that returns one`,
    );
  }
  if (/^class[\s{]/.test(Function.prototype.toString.call(value))) {
    throw new UserError(
      `${what} is the class ${(value as { name: string }).name || '(anonymous)'}: export an app (createApp(...)) or a function that returns one`,
    );
  }
  const app: unknown = await (value as () => unknown)();
  if (!isApp(app)) {
    throw new UserError(`${what} is a function that returned ${describe(app)}, not an Application`);
  }
  return app;
}

function defaultExport(mod: Record<string, unknown>): unknown {
  if (isApp(mod) || typeof mod === 'function') return mod; // module.exports = app, or = factory
  if (mod === null || typeof mod !== 'object') return mod;
  if ('default' in mod) {
    const value = mod.default;
    // import() of a CommonJS module that tsc wrote wraps once more: { default: { default } }
    if (
      value !== null &&
      typeof value === 'object' &&
      !isApp(value) &&
      '__esModule' in value &&
      'default' in value
    )
      return (value as { default: unknown }).default;
    return value;
  }
  // An ES module (or tsc's output) without a default export; else module.exports is the value.
  return (mod as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'Module' ||
    '__esModule' in mod
    ? undefined
    : mod;
}

/** `; it exports api, build` (the names that could be an app first). */
function exportsList(mod: Record<string, unknown>): string {
  const names = Object.keys(Object(mod)).filter((k) => k !== '__esModule' && k !== 'default');
  if (names.length === 0) return '';
  const likely = names.filter((k) => isApp(mod[k]) || typeof mod[k] === 'function');
  return `; it exports ${(likely.length > 0 ? likely : names).slice(0, 10).join(', ')}`;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'object') {
    const name = (value as object).constructor?.name;
    const keys = Object.keys(value as object).slice(0, 5);
    return `${name && name !== 'Object' ? `a ${name}` : 'an object'}${keys.length > 0 ? ` (keys: ${keys.join(', ')})` : ''}`;
  }
  return `a ${typeof value} (${JSON.stringify(value)?.slice(0, 40)})`;
}
