import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Transform } from 'node:stream';
import type { Request } from '../core/request';
import { Response } from '../core/response';
import { encoded, type Compressor } from './compressor';

/** The headers {@link Compressor.choose} reads, from node's response. */
const READ = ['content-encoding', 'content-range', 'content-type', 'cache-control', 'vary', 'etag'];

type Head = OutgoingHttpHeaders & { vary?: string | string[] };

/**
 * A response that writes itself to node's `ServerResponse` (a file streamed by `send`, which
 * sets its status and headers as it goes: 200, 206, 304, 416, its type) wrapped so that it is
 * compressed too. Its status and headers are known only when it writes its head, so the choice
 * is made there, and its writes are sent through the compressor when it is made: the way
 * express's `compression` patches `res.write`, `res.end` and the head, for this one response.
 *
 * @example
 * app.onSend((req, response) => new CompressedWrites(response, req, compressor));
 */
export class CompressedWrites extends Response {
  constructor(
    readonly inner: Response,
    private readonly req: Request,
    private readonly compressor: Compressor,
  ) {
    super(null, { status: inner.status });
    this.headers = inner.headers;
  }

  override writeTo(res: ServerResponse): void {
    // Hooks after this one changed the wrapper: the inner response writes what they left.
    this.inner.status = this.status;
    this.inner.headers = this.headers;
    const { req, compressor } = this;
    const writeHead = res.writeHead;
    const write = res.write;
    const end = res.end;
    const removeHeader = res.removeHeader;
    // send drops the content headers of a 304 before its head: the type it had still decides
    // whether the 304 carries the Vary of its 200.
    let removedType: OutgoingHttpHeaders[string];
    res.removeHeader = function (this: ServerResponse, name: string): void {
      if (name.toLowerCase() === 'content-type') removedType ??= res.getHeader(name);
      removeHeader.call(this, name);
    };
    let stream: Transform | null = null;
    /** The size of a body given at once to end() before any head: its threshold applies. */
    let ending: number | undefined;

    res.writeHead = function (this: ServerResponse, status: number, ...rest: unknown[]) {
      res.writeHead = writeHead;
      res.removeHeader = removeHeader;
      // Headers given here join those set before, so that the choice sees them all.
      const last = rest[rest.length - 1];
      if (last !== null && typeof last === 'object') {
        rest.pop();
        adopt(res, last as OutgoingHttpHeaders | unknown[]);
      }
      const head: Head = {};
      for (const name of READ) {
        const v = res.getHeader(name);
        if (v !== undefined) head[name] = v;
      }
      if (status === 304 && head['content-type'] === undefined && removedType !== undefined)
        head['content-type'] = removedType;
      const declared = res.getHeader('content-length');
      const length = declared === undefined ? ending : Number(declared);
      const encoding = compressor.choose(req, status, head, length);
      if (head.vary !== undefined) res.setHeader('vary', head.vary);
      if (encoding !== null) {
        encoded(head, encoding);
        res.setHeader('content-encoding', encoding);
        if (head.etag !== undefined) res.setHeader('etag', head.etag);
        res.removeHeader('content-length');
        stream = compressor.stream(encoding);
        pipeOut(res, stream, write, end);
      }
      return writeHead.call(this, status, ...(rest as [])) as ServerResponse;
    } as ServerResponse['writeHead'];

    res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]): boolean {
      if (!res.headersSent) res.writeHead(res.statusCode);
      return stream === null
        ? (write as (...a: unknown[]) => boolean).call(res, chunk, ...rest)
        : (stream.write as (...a: unknown[]) => boolean).call(stream, chunk, ...rest);
    } as ServerResponse['write'];

    res.end = function (this: ServerResponse, ...args: unknown[]): ServerResponse {
      if (!res.headersSent) {
        const chunk = args[0];
        ending =
          typeof chunk === 'string'
            ? Buffer.byteLength(chunk)
            : chunk instanceof Uint8Array
              ? chunk.byteLength
              : 0;
        res.writeHead(res.statusCode);
      }
      if (stream === null) return (end as (...a: unknown[]) => ServerResponse).apply(res, args);
      (stream.end as (...a: unknown[]) => void).apply(stream, args);
      return res;
    } as ServerResponse['end'];

    this.inner.writeTo(res);
  }
}

/** Headers given to `writeHead` (an object, or node's flat list) set on the response. */
function adopt(res: ServerResponse, headers: OutgoingHttpHeaders | unknown[]): void {
  if (!Array.isArray(headers)) {
    for (const name of Object.keys(headers)) {
      const v = headers[name];
      if (v !== undefined) res.setHeader(name, v);
    }
    return;
  }
  for (let i = 0; i < headers.length; i += 2) res.removeHeader(String(headers[i]));
  for (let i = 0; i < headers.length; i += 2)
    res.appendHeader(String(headers[i]), headers[i + 1] as string | string[]);
}

/**
 * The compressed bytes to the client, with backpressure both ways: the socket's (the stream
 * pauses while node's buffer is full) and the stream's (whoever writes to `res` waits for a
 * `drain`, which the stream's own drain stands for unless the socket is what is full; the
 * socket's own `drain` comes then).
 */
function pipeOut(
  res: ServerResponse,
  stream: Transform,
  write: ServerResponse['write'],
  end: ServerResponse['end'],
): void {
  let paused = false;
  stream.on('data', (chunk: Buffer) => {
    if (!(write as (c: Buffer) => boolean).call(res, chunk)) {
      paused = true;
      stream.pause();
    }
  });
  res.on('drain', () => {
    if (!paused) return;
    paused = false;
    stream.resume();
  });
  stream.on('drain', () => paused || res.emit('drain'));
  stream.on('end', () => (end as () => void).call(res));
  stream.on('error', (err) => res.destroy(err));
  res.on('close', () => stream.destroy());
}
