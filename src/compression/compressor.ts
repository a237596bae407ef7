import { pipeline, Readable, type Transform } from 'node:stream';
import compressible from 'compressible';
import Negotiator from 'negotiator';
import { RococoError } from '../core/errors';
import type { Request } from '../core/request';
import type { Response } from '../core/response';
import { appendVary } from '../core/vary';
import { encoders, ENCODINGS, type Encoder, type Encoding } from './encoders';

/** Options of `compression()`. Unknown keys are refused. */
export interface CompressionOptions {
  /** Bodies in memory smaller than this many bytes are sent as they are: 1024. */
  threshold?: number;
  /**
   * The codings offered, the server's preference first where the client's q-values tie:
   * `['br', 'gzip']`; `'deflate'` may be added.
   */
  encodings?: readonly Encoding[];
  /** brotli's quality, 0 to 11: 4 (11, brotli's own default, costs 60 to 80 times more: docs/compression.md). */
  brotliQuality?: number;
  /** zlib's level for gzip and deflate, 1 to 9: 6 (zlib's default). */
  gzipLevel?: number;
}

/** The keys {@link CompressionOptions} accepts. */
export const COMPRESSION_OPTION_KEYS = ['threshold', 'encodings', 'brotliQuality', 'gzipLevel'];

/**
 * Bodies in memory up to this size are compressed synchronously, at once (80 to 90 µs for the
 * sample's 2.7 KB page at brotli 4, 130 µs for its 8 KB of CSS: no stream to build, no
 * threadpool round trip); larger ones go through a zlib stream on the threadpool, so that one
 * big answer does not hold the event loop for a millisecond or more.
 */
const SYNC_LIMIT = 16 * 1024;

// RFC 9111 5.2.2.6: a proxy (and a server's own transformer) must not transform such a response.
const NO_TRANSFORM = /(?:^|,)\s*no-transform\s*(?:,|$)/i;

type EncodingOf = (
  available: readonly string[],
  options: { preferred: readonly string[] },
) => string | undefined;

/**
 * What the compression plugin decides for each response, and does to bodies in memory and
 * streams. Options are checked once, at construction.
 *
 * @example
 * const c = new Compressor({ threshold: 2048 });
 * app.onSend((req, response) => void c.compress(req, response));
 */
export class Compressor {
  readonly threshold: number;
  private readonly offered: readonly string[];
  private readonly preferred: readonly Encoding[];
  private readonly encoders: Record<Encoding, Encoder>;

  constructor(options: CompressionOptions = {}) {
    const { threshold = 1024, encodings = ['br', 'gzip'] } = options;
    const { brotliQuality = 4, gzipLevel = 6 } = options;
    if (!Number.isInteger(threshold) || threshold < 0)
      refuse(`threshold must be a whole number of bytes, got ${String(threshold)}`);
    if (
      !Array.isArray(encodings) ||
      encodings.length === 0 ||
      encodings.some((e) => !ENCODINGS.includes(e))
    )
      refuse(
        `encodings must list some of ${ENCODINGS.join(', ')}, got ${JSON.stringify(encodings)}`,
      );
    if (!Number.isInteger(brotliQuality) || brotliQuality < 0 || brotliQuality > 11)
      refuse(`brotliQuality must be a whole number from 0 to 11, got ${String(brotliQuality)}`);
    if (!Number.isInteger(gzipLevel) || gzipLevel < 1 || gzipLevel > 9)
      refuse(`gzipLevel must be a whole number from 1 to 9, got ${String(gzipLevel)}`);
    this.threshold = threshold;
    this.preferred = [...new Set(encodings)];
    this.offered = [...this.preferred, 'identity'];
    this.encoders = encoders(brotliQuality, gzipLevel);
  }

  /**
   * Compresses a response's body in memory, or its stream, when {@link choose} says so. (A
   * response that writes itself, a file, is `CompressedWrites`'s.)
   */
  compress(req: Request, response: Response): void {
    const body = response.body;
    if (body === null) {
      // A 304 without its body still carries the Vary of its 200, when it names its type.
      if (response.status === 304) this.choose(req, 304, response.headers, undefined);
      return;
    }
    const h = response.headers;
    const length = body instanceof Readable ? undefined : byteLength(body);
    const encoding = this.choose(req, response.status, h, length);
    if (encoding === null) return;
    const encoder = this.encoders[encoding];
    if (body instanceof Readable) {
      response.body = pipeline(body, encoder.stream(), noop);
      delete h['content-length'];
    } else {
      const bytes = typeof body === 'string' ? Buffer.from(body) : body;
      if (bytes.byteLength <= SYNC_LIMIT) {
        response.body = encoder.compress(bytes);
        h['content-length'] = String(response.body.byteLength);
      } else {
        const stream = encoder.stream();
        stream.end(bytes);
        response.body = stream;
        delete h['content-length'];
      }
    }
    encoded(h, encoding);
  }

  /**
   * Whether a response is compressed, and how: null when not. A response whose type could be
   * compressed gets `Vary: Accept-Encoding` whatever the answer, since the same URL may be
   * compressed for another client, a 304 and a 206 too (they carry the Vary of their 200: RFC
   * 9110, 15.4.5 and 15.3.7); one that must not be transformed is left alone entirely. `length`
   * is the body's size when known.
   */
  choose(
    req: Request,
    status: number,
    headers: { vary?: string | string[]; [name: string]: string | string[] | number | undefined },
    length: number | undefined,
  ): Encoding | null {
    if (status < 200 || status === 204) return null;
    const coding = headers['content-encoding'];
    if (coding !== undefined && coding !== 'identity') return null;
    const type = headers['content-type'];
    if (typeof type !== 'string' || compressible(type) !== true) return null;
    const cacheControl = headers['cache-control'];
    if (cacheControl !== undefined && NO_TRANSFORM.test(String(cacheControl))) return null;
    headers.vary = appendVary(headers.vary, 'Accept-Encoding');
    if (status === 206 || status === 304 || headers['content-range'] !== undefined) return null;
    // The offsets of a Range refer to the bytes as they are; HEAD answers describe what GET sends
    // and compressing nothing is no saving.
    if (req.method === 'HEAD' || req.headers.range !== undefined) return null;
    if (length !== undefined && length < this.threshold) return null;
    return this.negotiate(req);
  }

  /** A compressing stream of `encoding`, flushed chunk by chunk. */
  stream(encoding: Encoding): Transform {
    return this.encoders[encoding].stream();
  }

  /**
   * The client's choice among the codings offered, by its q-values, then by the order of
   * `encodings`; null for identity, or when the client accepts none of them (`*;q=0`): then the
   * body goes as it is, which every client understands (as express's and Fastify's do).
   */
  private negotiate(req: Request): Encoding | null {
    if (req.headers['accept-encoding'] === undefined) return null;
    // negotiator 1.x takes the server's preference; @types/negotiator (0.6) does not know it.
    const negotiator = new Negotiator(req.raw) as unknown as { encoding: EncodingOf };
    const choice = negotiator.encoding(this.offered, { preferred: this.preferred });
    return choice === undefined || choice === 'identity' ? null : (choice as Encoding);
  }
}

/**
 * Marks headers as those of a body compressed with `encoding`, weakening a strong ETag.
 *
 * @example
 * encoded(response.headers, 'br'); // content-encoding: br, etag: "v1" -> W/"v1"
 */
export function encoded(
  headers: { [name: string]: string | string[] | number | undefined },
  encoding: Encoding,
): void {
  headers['content-encoding'] = encoding;
  // The bytes differ now: a strong ETag would promise byte equality (and ranges over them).
  // Weakened as nginx, Django and Varnish do; express's compression and @fastify/compress leave it.
  const etag = headers.etag;
  if (typeof etag === 'string' && etag.startsWith('"')) headers.etag = `W/${etag}`;
}

function byteLength(body: string | Uint8Array): number {
  return typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
}

function noop(): void {}

function refuse(message: string): never {
  throw new RococoError('ROCOCO_OPTIONS', `compression: ${message}`);
}
