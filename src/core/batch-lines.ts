import type pino from 'pino';

type Destination = ReturnType<typeof pino.destination>;

/** Bytes of lines kept before they go to the destination in one write. */
const BATCH = 8192;
/** Bytes of the buffers batches are encoded into, one after the other. */
const SLAB = 65536;

/** node's encoders into a buffer (what `buf.write()` calls), without its argument checks. */
type Encoding = Buffer & {
  latin1Write(s: string, offset: number): number;
  utf8Write(s: string, offset: number): number;
};

const slab = (size: number) => Buffer.allocUnsafeSlow(size) as Encoding;

const ASCII_WRITE = Symbol('rococo.asciiWrite');

/**
 * The writer of lines known to be ASCII that `stream` takes, if it is a destination of
 * {@link batchLines}: the line is copied into the batch as is, not encoded to UTF-8.
 */
export function asciiWriter(stream: object): ((line: string) => unknown) | null {
  const w = (stream as { [ASCII_WRITE]?: (line: string) => unknown })[ASCII_WRITE];
  return typeof w === 'function' ? w : null;
}

/**
 * Gathers the lines written to `destination` (in `contentMode: 'buffer'`) into batches of
 * {@link BATCH} bytes, each handed to it in one write. Each line is encoded into the batch as it
 * comes, one call into node: sonic-boom with strings measured the UTF-8 length of its batch so
 * far at every line (6k instructions a line), and a batch of strings joined (a tree of a few
 * hundred strings, flattened then encoded twice: ~4k a line). Batches follow each other in a
 * slab of {@link SLAB} bytes: the part handed over is never written again, so sonic-boom keeps
 * it without a copy. Every line of the logger goes through here, access lines and others, so
 * they stay in order. Its methods are wrapped on the instance, not a subclass: pino.destination()
 * makes it and registers it for the flush at exit (which calls flushSync), and with an EPIPE it
 * replaces them with no-ops.
 */
export function batchLines(destination: Destination): Destination {
  const { flush, flushSync, end } = destination;
  // In `contentMode: 'buffer'`, what it takes.
  const write = destination.write as unknown as (this: Destination, data: Buffer) => boolean;
  let buf = slab(SLAB);
  let start = 0;
  let used = 0;
  const take = () => {
    const b = buf.subarray(start, used);
    start = used;
    return b;
  };
  // What is left of the slab is too small for `bytes` more: the batch so far goes first.
  const renew = (bytes: number) => {
    if (used !== start) write.call(destination, take());
    buf = slab(Math.max(SLAB, bytes));
    start = used = 0;
  };
  const own = (line: string) => {
    if (used + line.length * 3 > buf.length) renew(line.length * 3);
    used += buf.utf8Write(line, used);
    if (used - start >= BATCH) return write.call(destination, take());
    return true;
  };
  destination.write = own;
  (destination as { [ASCII_WRITE]?: (line: string) => unknown })[ASCII_WRITE] = (line: string) => {
    // After an EPIPE, pino's no-op.
    if (destination.write !== own) return destination.write(line);
    if (used + line.length > buf.length) renew(line.length);
    used += buf.latin1Write(line, used);
    if (used - start >= BATCH) return write.call(destination, take());
    return true;
  };
  destination.flush = (cb?: (err?: Error) => unknown) => {
    if (used !== start) write.call(destination, take());
    flush.call(destination, cb);
  };
  destination.flushSync = () => {
    if (used !== start) {
      // Handed over as a synchronous write: an asynchronous one started now would not be done
      // when the process exits, and flushSync() leaves a write in progress to itself.
      const boom = destination as Destination & { sync: boolean };
      const sync = boom.sync;
      boom.sync = true;
      try {
        write.call(destination, take());
      } finally {
        boom.sync = sync;
      }
    }
    flushSync.call(destination);
  };
  destination.end = () => {
    if (used !== start) write.call(destination, take());
    end.call(destination);
  };
  return destination;
}
