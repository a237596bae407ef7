import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/**
 * Stoplight Prism as a validating proxy (`prism proxy <document> <upstream>`): it forwards each
 * request to the upstream server and reports what breaks the document in the response header
 * `sl-violations`, the request's side and the response's side apart.
 */

const PRISM = join(
  __dirname,
  '..',
  '..',
  'node_modules',
  '@stoplight',
  'prism-cli',
  'dist',
  'index.js',
);

/** One violation Prism found in an exchange. */
export interface PrismViolation {
  /** `['request', 'query', 'locale']`, `['response', 'body', 'id']`, `['response']`... */
  location: string[];
  severity: string;
  code?: string | number;
  message: string;
}

/** A running proxy. */
export interface PrismProxy {
  /** `http://127.0.0.1:<port>`, with no trailing slash. */
  url: string;
  /** What Prism printed, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/** Starts `prism proxy document upstream` on a free port of 127.0.0.1; rejects with its output if it does not listen in `timeoutMs`. */
export function startPrismProxy(
  document: string,
  upstream: string,
  timeoutMs = 20_000,
): Promise<PrismProxy> {
  const child = spawn(
    process.execPath,
    [PRISM, 'proxy', document, upstream, '--host', '127.0.0.1', '--port', '0'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    },
  );
  let out = '';
  const append = (chunk: Buffer) => {
    // The log has a line per exchange: keep the last 64 KiB for messages.
    out = (out + chunk.toString('utf8')).slice(-65_536);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const proxy = (url: string): PrismProxy => ({ url, output: () => out, stop: () => stop(child) });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop(child);
      reject(new Error(`prism proxy did not listen within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const onData = () => {
      const url = /Prism is listening on (http:\/\/[\d.:]+)/.exec(out)?.[1];
      if (url === undefined) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      resolve(proxy(url));
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`prism proxy exited (${code ?? signal}) before listening:\n${out}`));
    });
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

/** The violations of an exchange, from the proxy's `sl-violations` header (none without it). */
export function violationsOf(headers: Headers): PrismViolation[] {
  const header = headers.get('sl-violations');
  return header === null ? [] : (JSON.parse(header) as PrismViolation[]);
}
