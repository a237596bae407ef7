import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { hrtime } from 'node:process';
import pino, { type Logger } from 'pino';
import { AccessLine, type AccessFields } from './access-line';
import { batchLines } from './batch-lines';
import type { Request } from './request';

/**
 * What never reaches a log line, however it was logged: credentials in headers, cookies, and
 * anything under a `session` key.
 */
export const REDACT = [
  'headers.cookie',
  'headers.authorization',
  'headers["proxy-authorization"]',
  'headers["x-api-key"]',
  'headers["set-cookie"]',
  'req.headers.cookie',
  'req.headers.authorization',
  'res.headers["set-cookie"]',
  '*.headers.cookie',
  '*.headers.authorization',
  'session',
  '*.session',
  'password',
  '*.password',
];

/**
 * The app's default logger: JSON lines (one object per line, for a log collector) unless DEBUG
 * on a terminal, where pino-pretty makes them readable; always with {@link REDACT}.
 */
export function createLogger(level: string, debug: boolean): Logger {
  const options = { level, redact: { paths: REDACT, censor: '[redacted]' } };
  if (debug && process.stdout.isTTY) {
    const pretty = require('pino-pretty') as typeof import('pino-pretty'); // only DEBUG on a terminal loads it
    return pino(
      options,
      pretty({ colorize: true, sync: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' }),
    );
  }
  return pino(options, stdoutLines());
}

let stdout: ReturnType<typeof pino.destination> | undefined;

/**
 * The destination of every default logger of the process: stdout, a write for many lines (or
 * each second: a write per access-log line cost ~10k instructions a request). One for all the
 * apps of a process, made once: their lines stay in order in one batch, and an app made and
 * dropped (a test suite makes hundreds) leaves no buffer, timer or exit hook behind.
 *
 * Synchronous, as pino's default and node's own stdout on Linux: an asynchronous write ends at
 * the earliest in the next turn of the event loop, and sonic-boom writes one batch a turn, where
 * a busy server logs several (1,000 pipelined requests a turn, ~200 KB). Its queue grew by ~8 MB
 * a second under load, and a new 64 KiB buffer a batch made V8 run a full collection every
 * second. A reader slower than the server (a full pipe) now slows the server down instead of
 * filling its memory.
 */
function stdoutLines(): ReturnType<typeof pino.destination> {
  if (stdout !== undefined) return stdout;
  // Bytes, not strings: batchLines() encodes each line as it comes.
  const destination = batchLines(
    pino.destination({ dest: 1, sync: true, minLength: 1024, contentMode: 'buffer' }),
  );
  // A quiet server still writes within a second: an error line must not wait for more lines.
  setInterval(() => destination.flush(), 1000).unref();
  // What the batch holds (pino writes out an asynchronous destination at exit, not this one).
  process.once('exit', () => {
    try {
      destination.flushSync();
    } catch {
      // A write that fails at exit has nowhere to be reported.
    }
  });
  return (stdout = destination);
}

// Ids a client may choose: short, and nothing a log line or a header could be abused with.
const GIVEN_ID = /^[\w.:@/+=-]{1,128}$/;

/**
 * Request ids: the client's `X-Request-Id` when it is well-formed (a proxy's, to follow a request
 * across services), else 12 characters of base64url (a random prefix, a counter), unique per
 * process and cheap to make.
 */
export class RequestIds {
  // 48 random bits in 8 characters, then a counter of 4 (base 64url), the first 2 kept in
  // `head`: an id is one concatenation with a constant. Always 12 characters: V8 copies a
  // string that short into a flat one, where a longer one is a tree of the two joined, and
  // reading its characters (the access line does) first flattens it: base 36 ids grew to 13
  // characters at the 46,656th request, and a line then cost ~1.6k instructions more
  // (callgrind, GET /). The counter wraps after 16.7M ids with a new random prefix.
  private prefix = newPrefix();
  private high = 0;
  private low = 0;
  private head = this.prefix + PAIRS[0];

  /** The id of a request whose `X-Request-Id` header is `given`. */
  next(given: string | string[] | undefined): string {
    if (typeof given === 'string' && GIVEN_ID.test(given)) return given;
    if (++this.low === 4096) {
      this.low = 0;
      if (++this.high === 4096) {
        this.high = 0;
        this.prefix = newPrefix();
      }
      this.head = this.prefix + PAIRS[this.high];
    }
    return this.head + PAIRS[this.low];
  }
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** Every two-digit number in base 64url, 0 to 4095. */
const PAIRS = Array.from({ length: 4096 }, (_, i) => BASE64URL[i >> 6] + BASE64URL[i & 63]);
const newPrefix = (): string => randomBytes(6).toString('base64url');

/** The access log of an app: its logger, and the fast writer of its lines when it has one. */
export interface AccessLog {
  readonly log: Logger;
  readonly line: AccessLine | null;
}

/**
 * The access log of an app's logger: the app's, without its redaction. An access line holds
 * only the fields below, none of them secret, and the redaction's wildcard paths (`*.password`...)
 * tripled the cost of each line (9.1 against 3.5 µs).
 */
export function accessLogger(log: Logger): AccessLog {
  const child = log.child({}, { redact: [] });
  return { log: child, line: AccessLine.of(child) };
}

/**
 * What writes the access line of a request once its response is done (or the client went
 * away); null when it gets none (a quiet route below debug level).
 */
export function accessLine(
  access: AccessLog,
  req: Request,
  res: ServerResponse,
  start: bigint,
): (() => void) | null {
  // A probe's lines (a plugin's quiet route) go at debug level: none at all unless it is on.
  const quiet = req.route?.handler.quiet === true;
  if (quiet && !access.log.isLevelEnabled('debug')) return null;
  // Read now: once a client has gone away, its socket no longer knows the peer's address.
  const remote = req.ip;
  return () => writeAccess(access, req, res, start, remote, quiet);
}

function writeAccess(
  access: AccessLog,
  req: Request,
  res: ServerResponse,
  start: bigint,
  remote: string | undefined,
  quiet: boolean,
): void {
  const { log, line: fast } = access;
  // What pino's level methods do (they are no-ops below the level), for the line written here.
  if (fast !== null && !fast.enabled(quiet)) return;
  let bytes: number | undefined = req.sentLength;
  if (bytes === -1) {
    const length = res.getHeader('content-length');
    bytes = length === undefined ? lengthOf(res) : Number(length);
  }
  // node:process's hrtime: the global `process` is an accessor, each load a getter call (~150).
  const ms = Math.round(Number(hrtime.bigint() - start) / 1e4) / 100;
  const aborted = res.writableFinished ? undefined : true;
  const fields = req.app.fieldsOf(req);
  // The object only for pino: the fast writer takes the values.
  const { id, method, path } = req;
  const status = res.statusCode;
  if (fast?.write(quiet, id, method, path, status, bytes, ms, remote, aborted, fields)) return;
  const line: AccessFields = { reqId: id, method, path, status, bytes, ms, remote, aborted };
  const obj = fields === null ? line : Object.assign(line, fields);
  if (quiet) log.debug(obj, 'request');
  else log.info(obj, 'request');
}

const CONTENT_LENGTH = '\r\ncontent-length: ';

/**
 * The Content-Length of the head node wrote: headers given to writeHead as a list are not kept
 * for getHeader(). node writes `name: value`; rococo writes its names in lower case, found
 * with indexOf, others' in any case with a regular expression.
 */
function lengthOf(res: ServerResponse): number | undefined {
  const head = (res as { _header?: string | null })._header;
  if (typeof head !== 'string') return undefined;
  const at = head.indexOf(CONTENT_LENGTH);
  if (at === -1) {
    const m = /\r\ncontent-length: *(\d+)/i.exec(head);
    return m === null ? undefined : Number(m[1]);
  }
  let n = 0;
  let i = at + CONTENT_LENGTH.length;
  for (let c = head.charCodeAt(i); c >= 48 && c <= 57; c = head.charCodeAt(++i))
    n = n * 10 + c - 48;
  return i === at + CONTENT_LENGTH.length ? undefined : n;
}
