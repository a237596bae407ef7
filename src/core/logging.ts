import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import pino, { type Logger } from 'pino';
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
  // Buffered and written asynchronously, in batches of 1-2 KiB (or each second): a write per
  // access-log line cost ~10k instructions a request. pino flushes it when the process exits.
  // The batch is kept small because sonic-boom measures the UTF-8 length of the batch so far at
  // every line (its default 16 KiB batches: 2.2 µs a line, 1.0 µs with these).
  const destination = pino.destination({ dest: 1, sync: false, minLength: 1024, maxWrite: 2048 });
  // A quiet server still writes within a second: an error line must not wait for 4 KiB more.
  setInterval(() => destination.flush(), 1000).unref();
  return pino(options, destination);
}

// Ids a client may choose: short, and nothing a log line or a header could be abused with.
const GIVEN_ID = /^[\w.:@/+=-]{1,128}$/;

/**
 * Request ids: the client's `X-Request-Id` when it is well-formed (a proxy's, to follow a request
 * across services), else `<8 random hex>-<counter>`, unique per process and cheap to make.
 */
export class RequestIds {
  private readonly prefix = randomBytes(4).toString('hex') + '-';
  private n = 0;

  /** The id of a request whose `X-Request-Id` header is `given`. */
  next(given: string | string[] | undefined): string {
    if (typeof given === 'string' && GIVEN_ID.test(given)) return given;
    return this.prefix + (++this.n).toString(36);
  }
}

/**
 * The logger of access lines: the app's, without its redaction. An access line holds only the
 * fields below, none of them secret, and the redaction's wildcard paths (`*.password`...)
 * tripled the cost of each line (9.1 against 3.5 µs).
 */
export function accessLogger(log: Logger): Logger {
  return log.child({}, { redact: [] });
}

/** Logs one line for a request when its response is done (or the client went away). */
export function logAccess(log: Logger, req: Request, res: ServerResponse, start: bigint): void {
  // A probe's lines (a plugin's quiet route) go at debug level: none at all unless it is on.
  const quiet = req.route?.handler.quiet === true;
  if (quiet && !log.isLevelEnabled('debug')) return;
  // Read now: once a client has gone away, its socket no longer knows the peer's address.
  const remote = req.ip;
  // 'close' comes after 'finish' too, or alone when the client went away: one listener.
  res.once('close', () => {
    // Headers given to writeHead as a list are not kept for getHeader(): read the head node wrote.
    const length =
      res.getHeader('content-length') ??
      /\r\ncontent-length: *(\d+)/i.exec((res as { _header?: string })._header ?? '')?.[1];
    const line = {
      reqId: req.id,
      method: req.method,
      path: req.path,
      status: res.statusCode,
      bytes: length === undefined ? undefined : Number(length),
      ms: Math.round(Number(process.hrtime.bigint() - start) / 1e4) / 100,
      remote,
      aborted: res.writableFinished ? undefined : true,
    };
    const fields = req.app.fieldsOf(req);
    if (quiet) log.debug(fields === null ? line : Object.assign(line, fields), 'request');
    else log.info(fields === null ? line : Object.assign(line, fields), 'request');
  });
}
