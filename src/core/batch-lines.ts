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

const BATCH_OF = Symbol('rococo.lineBatch');

/**
 * The batch of a destination of {@link batchLines}: where a writer that knows its line's bytes
 * (the access line) puts them itself, with no string in between.
 */
export class LineBatch {
  /** The slab lines are written into: the next one from {@link used} on. */
  buf = slab(SLAB);
  /** The slab written before {@link buf}, to take turns with; null when there is none. */
  private spare: Encoding | null = null;
  /** Where the batch not handed over yet starts. */
  private start = 0;
  /** Where the next line starts. */
  used = 0;

  constructor(
    private readonly destination: Destination,
    /** The destination's own write, in `contentMode: 'buffer'`. */
    private readonly put: (this: Destination, data: Buffer) => boolean,
  ) {}

  /** The slab, with room for `bytes` more from {@link used}: then written, then {@link done}. */
  room(bytes: number): Encoding {
    if (this.used + bytes > this.buf.length) {
      // The batch so far goes first: what comes next is written in a new slab, or in this one
      // again once the destination holds none of it (a synchronous one has written it by now):
      // a new slab is memory the kernel maps page by page, a fault every 4 KiB.
      this.hand();
      this.buf = this.next(bytes);
      this.start = this.used = 0;
    }
    return this.buf;
  }

  /**
   * The line just written into the slab ends at `end`. A batch of {@link BATCH} bytes or more
   * goes to the destination unless it is still writing the one before: sonic-boom would queue
   * it, then join the queue with `Buffer.concat` (a copy, and a new buffer of up to 16 KiB)
   * when the write completes. It goes with the next line after the write instead, larger.
   */
  done(end: number): unknown {
    this.used = end;
    if (end - this.start < BATCH) return true;
    if ((this.destination as { _writing?: unknown })._writing === true) return true;
    return this.hand();
  }

  /**
   * The slab to write on in, once this one is full and handed over: this one again if the
   * destination holds none of it (a synchronous one has written it), else the one before if
   * all the destination still holds came from this one (it writes in order), else a new one.
   * Two slabs take turns while writes keep up: a new slab is memory the kernel maps page by
   * page (a fault every 4 KiB, ~0.04 a line) and the collector frees later.
   */
  private next(bytes: number): Encoding {
    const pending = (this.destination as { _len?: unknown })._len;
    const done = this.buf;
    if (typeof pending === 'number' && bytes <= SLAB) {
      if (pending === 0) return done;
      const spare = this.spare;
      if (spare !== null && pending <= this.used) {
        this.spare = done;
        return spare;
      }
    }
    this.spare = done.length === SLAB ? done : null;
    return slab(Math.max(SLAB, bytes));
  }

  /** A line as a string. */
  line(line: string): unknown {
    return this.done(this.room(line.length * 3).utf8Write(line, this.used) + this.used);
  }

  /** A line as a string known to be ASCII: copied, not encoded. */
  ascii(line: string): unknown {
    return this.done(this.room(line.length).latin1Write(line, this.used) + this.used);
  }

  /**
   * Hands the batch so far to the destination, if there is one, and if the destination still
   * takes lines: after an EPIPE pino replaces its write with a no-op, and the lines are dropped
   * here. Checked a batch, not a line: two loads of a large object's properties.
   */
  hand(): unknown {
    if (this.used === this.start) return true;
    const b = this.buf.subarray(this.start, this.used);
    this.start = this.used;
    if ((this.destination as { [BATCH_OF]?: unknown })[BATCH_OF] !== this.destination.write)
      return true;
    return this.put.call(this.destination, b);
  }
}

/** The batch of `stream`, if it is a destination of {@link batchLines}. */
export function lineBatch(stream: object): LineBatch | null {
  const write = (stream as { write?: { [BATCH_OF]?: LineBatch } }).write;
  return typeof write === 'function' ? (write[BATCH_OF] ?? null) : null;
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
  const batch = new LineBatch(
    destination,
    destination.write as unknown as (this: Destination, data: Buffer) => boolean,
  );
  const own = (line: string) => batch.line(line) as boolean;
  (own as { [BATCH_OF]?: LineBatch })[BATCH_OF] = batch;
  (destination as { [BATCH_OF]?: unknown })[BATCH_OF] = own;
  destination.write = own;
  destination.flush = (cb?: (err?: Error) => unknown) => {
    batch.hand();
    flush.call(destination, cb);
  };
  destination.flushSync = () => {
    // Handed over as a synchronous write: an asynchronous one started now would not be done
    // when the process exits, and flushSync() leaves a write in progress to itself.
    const boom = destination as Destination & { sync: boolean };
    const sync = boom.sync;
    boom.sync = true;
    try {
      batch.hand();
    } finally {
      boom.sync = sync;
    }
    flushSync.call(destination);
  };
  destination.end = () => {
    batch.hand();
    end.call(destination);
  };
  return destination;
}
