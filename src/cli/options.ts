import { availableParallelism } from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/**
 * A mistake of the person running the command (a bad option, a missing module, an export that
 * is not an app, an address in use): printed as its message alone, no stack, exit code 1
 * (2 for a bad command line).
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/** An address to serve on. */
export interface Bind {
  host: string;
  port: number;
}

/** What `rococo serve` was asked to do. */
export interface ServeOptions {
  /** The module as given (a path relative to the cwd, or a package name). */
  module: string;
  /** The export named after `:`; the default export (or `module.exports`) otherwise. */
  exportName: string | undefined;
  workers: number;
  binds: Bind[];
  /** Seconds a worker's event loop may stay blocked before it is killed; 0: never. */
  timeout: number;
  /** Seconds a stopping worker has to finish its requests before it is killed. */
  gracefulTimeout: number;
  /** Requests after which a worker is replaced; 0: never. */
  maxRequests: number;
  /** Up to this many more requests, at random, so that workers do not all restart at once. */
  maxRequestsJitter: number;
  reload: boolean;
}

export const SERVE_USAGE = `Usage: rococo serve <module>[:export] [options]

Serves the Application that <module> exports (module.exports, or the default export of an ES
module; :export names another), or that a function it exports returns (sync or async), with
a master process and workers.

Options:
  -w, --workers N|auto        worker processes (default: $WEB_CONCURRENCY or 1; auto: one a CPU)
  -b, --bind HOST:PORT        address to serve on, repeatable (default: $HOST:$PORT or
                              127.0.0.1:8080); also [IPv6]:PORT, :PORT (every interface), PORT
  -t, --timeout S             kill and replace a worker whose event loop stays blocked S
                              seconds (default 30; 0: never)
      --graceful-timeout S    seconds a stopping worker has to finish its requests (default 30)
      --max-requests N        replace a worker after N requests (default 0: never)
      --max-requests-jitter J add up to J requests at random to each worker's limit
                              (default: a tenth of N)
      --reload                restart the workers when code changes (development)
  -h, --help                  this help

Signals to the master: TERM or INT stop gracefully (a second one stops at once); HUP replaces
the workers one by one without dropping a request.`;

type OptionSpecs = NonNullable<ParseArgsConfig['options']>;
type WithHelp<T extends OptionSpecs> = T & { help: { type: 'boolean'; short: 'h' } };
/** What {@link parseCommand} gives: node's parseArgs result for these options. */
export type ParsedCommand<T extends OptionSpecs> = ReturnType<
  typeof parseArgs<{ args: string[]; allowPositionals: true; strict: true; options: WithHelp<T> }>
>;

/**
 * A command's arguments by node's `parseArgs` (strict, positionals allowed, `-h`/`--help`
 * added): a mistake is a {@link UserError} (exit code 2) that says what and where to look.
 */
export function parseCommand<T extends OptionSpecs>(
  command: string,
  args: readonly string[],
  options: T,
): ParsedCommand<T> {
  try {
    return parseArgs({
      args: [...args],
      allowPositionals: true,
      strict: true,
      options: { ...options, help: { type: 'boolean', short: 'h' } } as WithHelp<T>,
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const option = /'([^']+)'/.exec(err.message)?.[1];
    const message =
      err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option !== undefined
        ? `unknown option '${option}'`
        : err.message;
    throw new UserError(`${message} (see rococo ${command} --help)`, 2);
  }
}

/** The options of `rococo serve`, from its arguments (after `serve`) and the environment. */
export function parseServeArgs(
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): ServeOptions | 'help' {
  const { values, positionals } = parseCommand('serve', args, {
    workers: { type: 'string', short: 'w' },
    bind: { type: 'string', short: 'b', multiple: true },
    timeout: { type: 'string', short: 't' },
    'graceful-timeout': { type: 'string' },
    'max-requests': { type: 'string' },
    'max-requests-jitter': { type: 'string' },
    reload: { type: 'boolean' },
  });
  if (values.help) return 'help';
  if (positionals.length === 0)
    throw new UserError(`which app? Give a module: rococo serve dist/app.js\n\n${SERVE_USAGE}`, 2);
  if (positionals.length > 1)
    throw new UserError(`one module only, got ${positionals.map((p) => `'${p}'`).join(', ')}`, 2);
  const { module, exportName } = splitTarget(positionals[0]);

  const workers = parseWorkers(
    values.workers ?? env.WEB_CONCURRENCY ?? '1',
    values.workers === undefined ? 'WEB_CONCURRENCY' : '--workers',
  );
  const binds =
    values.bind !== undefined ? values.bind.map((b) => parseBind(b, '--bind')) : [defaultBind(env)];
  const maxRequests = integer(values['max-requests'] ?? '0', '--max-requests');
  return {
    module,
    exportName,
    workers,
    binds,
    timeout: seconds(values.timeout ?? '30', '--timeout'),
    gracefulTimeout: seconds(values['graceful-timeout'] ?? '30', '--graceful-timeout'),
    maxRequests,
    maxRequestsJitter:
      values['max-requests-jitter'] !== undefined
        ? integer(values['max-requests-jitter'], '--max-requests-jitter')
        : Math.floor(maxRequests / 10),
    reload: values.reload ?? false,
  };
}

/** `dist/app.js:api` into the module and the export; a Windows drive letter is not an export. */
export function splitTarget(target: string): { module: string; exportName: string | undefined } {
  const i = target.lastIndexOf(':');
  if (i > 0) {
    const name = target.slice(i + 1);
    if (
      /^[A-Za-z_$][\w$]*$/.test(name) &&
      !(i === 1 && /^[A-Za-z]$/.test(target[0]) && /^[\\/]/.test(name))
    ) {
      return { module: target.slice(0, i), exportName: name };
    }
    if (name === '')
      throw new UserError(
        `'${target}': name the export after ':' (app.js:app), or leave out the ':'`,
        2,
      );
  }
  return { module: target, exportName: undefined };
}

/** `HOST:PORT`, `[IPv6]:PORT`, `:PORT` (every interface) or `PORT` (127.0.0.1). */
export function parseBind(text: string, what: string): Bind {
  let host: string;
  let port: string;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  if (v6 !== null) [, host, port] = v6;
  else if (/^\d+$/.test(text)) [host, port] = ['127.0.0.1', text];
  else {
    const i = text.lastIndexOf(':');
    if (i === -1 || text.indexOf(':') !== i)
      throw new UserError(`${what} '${text}': expected HOST:PORT, [IPv6]:PORT, :PORT or PORT`, 2);
    host = text.slice(0, i) || '0.0.0.0';
    port = text.slice(i + 1);
  }
  const n = Number(port);
  if (!/^\d+$/.test(port) || n > 65535)
    throw new UserError(`${what} '${text}': the port must be a number from 0 to 65535`, 2);
  return { host, port: n };
}

function defaultBind(env: NodeJS.ProcessEnv): Bind {
  const host = env.HOST || '127.0.0.1';
  const port = env.PORT || '8080';
  return parseBind(host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`, 'HOST and PORT');
}

function parseWorkers(text: string, what: string): number {
  if (text === 'auto') return availableParallelism();
  const n = integer(text, what);
  if (n < 1) throw new UserError(`${what} '${text}': at least 1 worker, or auto`, 2);
  return n;
}

function integer(text: string, what: string): number {
  if (!/^\d+$/.test(text)) throw new UserError(`${what} '${text}': expected a whole number`, 2);
  return Number(text);
}

function seconds(text: string, what: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new UserError(`${what} '${text}': expected seconds (a number, 0 or more)`, 2);
  return n;
}
