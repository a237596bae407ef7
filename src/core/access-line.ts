import { tracingChannel } from 'node:diagnostics_channel';
import pino, { type Logger } from 'pino';
import { putBytes, putEpoch, putHundredths, putPlain, putSix, putUint } from './ascii-bytes';
import { lineBatch, type LineBatch } from './batch-lines';

/** What an access line holds besides the fields of `app.logFields`, in this order. */
export interface AccessFields {
  reqId: string;
  method: string | undefined;
  path: string;
  status: number;
  bytes: number | undefined;
  ms: number;
  remote: string | undefined;
  aborted: true | undefined;
}

const KEYS: readonly (keyof AccessFields)[] = [
  'reqId',
  'method',
  'path',
  'status',
  'bytes',
  'ms',
  'remote',
  'aborted',
];

const S = pino.symbols;
// Not in pino's types, though in its symbols since 8.14.
const msgPrefixSym = (S as unknown as Record<string, symbol>).msgPrefixSym;
// pino's own diagnostics: a subscriber expects every line through pino's asJson.
const asJsonChannel = tracingChannel('pino_asJson');
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

// What quote() escapes. One test a string: reading it a character at a time with charCodeAt
// cost a generic property load a character (~140 instructions; 4k a line).
const ESCAPED = /["\\\u0000-\u001f]/;
// What is not printable ASCII, or is escaped: a string without any goes into a line as it is,
// and a line of such strings is copied into a batch, not encoded.
const NOT_PLAIN = /[^ !#-[\]-~]/;
const NON_ASCII = /[^\u0000-\u007f]/;

/**
 * pino's way of quoting a string in a line (lib/tools.js, `asString`), to the byte: up to 100
 * characters, `"` and `\` get a backslash and anything else is kept as is (a lone surrogate
 * too); longer strings, those with a control character, and all of them from node 25 on go
 * through JSON.stringify.
 */
function quote(s: string): string {
  const n = s.length;
  if (n > 100 || NODE_MAJOR >= 25) return JSON.stringify(s);
  if (!ESCAPED.test(s)) return '"' + s + '"';
  let out = '';
  let last = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 32) return JSON.stringify(s);
    if (c === 34 || c === 92) {
      out += s.slice(last, i) + '\\';
      last = i;
    }
  }
  return '"' + out + s.slice(last) + '"';
}

const num = (n: number): string => (Number.isFinite(n) ? '' + n : 'null');

/** A value as pino writes it after a key; undefined: not written; null: only pino can. */
function valueOf(v: unknown): string | undefined | null {
  switch (typeof v) {
    case 'string':
      return quote(v);
    case 'number':
      return num(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'undefined':
    case 'function':
      return undefined;
    default:
      return null; // objects go through pino's safe stringify, with its depth and breadth limits
  }
}

const DIGITS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
const FRACTIONS = Array.from({ length: 100 }, (_, i) =>
  i === 0 ? '' : i % 10 === 0 ? '.' + i / 10 : '.' + String(i).padStart(2, '0'),
);
let millionsAt = -1;
let millions = '';

/**
 * `String(t)` for Date.now(): a number that large is a double to V8, and its conversion a call
 * into the runtime (~1k instructions); its millions change every 17 minutes and the rest comes
 * from a table.
 */
function epochMs(t: number): string {
  if (!(t >= 1e6 && t < 9e15 && t % 1 === 0)) return '' + t;
  const m = Math.floor(t / 1e6);
  if (m !== millionsAt) {
    millionsAt = m;
    millions = '' + m;
  }
  const rest = t - m * 1e6;
  const k = Math.floor(rest / 1000);
  return millions + DIGITS[k] + DIGITS[rest - k * 1000];
}

/**
 * `String(ms)` for a duration rounded to hundredths, without the runtime's double conversion:
 * k / 100 is the double nearest to the decimal k / 100, so that decimal, trailing zeros cut, is
 * its shortest round-trip form, what String() writes.
 */
function hundredths(ms: number): string {
  const k = Math.round(ms * 100);
  if (!(k >= 0 && k < 1e15 && k / 100 === ms)) return num(ms);
  const whole = Math.floor(k / 100);
  return whole + FRACTIONS[k - whole * 100];
}

/** What quote() puts between the quotes. */
function inner(s: string): string {
  if (s.length > 100 || NODE_MAJOR >= 25) return JSON.stringify(s).slice(1, -1);
  return ESCAPED.test(s) ? quote(s).slice(1, -1) : s;
}

const EMPTY = new Uint8Array(0);

/**
 * A line's beginning: `head`, room for a time of 13 digits (epoch milliseconds from 2001 to
 * 2286), then `bindings`; {@link stampTime} writes the time into it.
 */
function stampOf(head: Uint8Array, bindings: Uint8Array): Uint8Array {
  // A Buffer, as the batch's slabs: the byte writers then see one kind of array.
  const out = Buffer.alloc(head.length + 13 + bindings.length);
  out.set(head, 0);
  out.set(bindings, head.length + 13);
  return out;
}

/**
 * Writes `now` into a stamp of {@link stampOf} that holds `before` (or -1); false for a time not
 * of 13 digits. The millions change every 17 minutes: mostly only the last six digits are
 * rewritten. The whole number cost ~600 instructions, paid at each new millisecond: one line in
 * ten to a hundred under load, every line of a server that gets less than a request a
 * millisecond.
 */
function stampTime(stamp: Uint8Array, at: number, now: number, before: number): boolean {
  if (!(now >= 1e12 && now < 1e13 && Math.floor(now) === now)) return false;
  const m = Math.floor(now / 1e6);
  if (m === Math.floor(before / 1e6)) {
    putSix(stamp, at + 7, now - m * 1e6);
    return true;
  }
  return putEpoch(stamp, at, now) === at + 13;
}

const ABORTED = Buffer.from(',"aborted":true', 'latin1');

/** `s` as one flat string, not a tree of the strings it was joined from (parsing makes one). */
const flat = (s: string): string => JSON.parse(JSON.stringify(s)) as string;

// A logger at level silent: its info() is pino's no-op, what a disabled level's method is.
let silent: Logger | undefined;

type PinoInternals = Record<symbol, unknown> & Logger;

/**
 * The access line of a pino logger written as pino writes it, byte for byte, for a fraction of
 * the cost: pino's `info()` spent ~21k instructions a line (its generic walk over the object, a
 * lookup of a serializer and a redaction stringifier for each key, symbol loads through the
 * child's prototype chain) where the line's keys and their types are known in advance. What
 * never changes (the level, the logger's bindings with pid and hostname, the message) is
 * serialized once, from the logger's own caches; the line goes to the logger's own stream, so
 * it stays in order with the other lines and pino's flush at exit covers it.
 *
 * Only for a logger whose output this reproduces: {@link AccessLine.of} gives null for any
 * other (not pino, or another copy of pino; a mixin, a log formatter, a timestamp other than
 * epoch milliseconds, a nested key, a log-method or stream-write hook, a serializer or a
 * redaction of one of the line's keys, a stream that wants pino's metadata such as
 * pino.multistream), and the caller then logs through pino as before.
 */
export class AccessLine {
  private constructor(
    private readonly log: PinoInternals,
    /** Read once, not through the child's prototype chain at every line. */
    private readonly stream: { write(s: string): unknown },
    private readonly disabled: unknown,
    /** `{"level":30,"time":`: the level as the logger's level formatter writes it. */
    private readonly info: string,
    private readonly debug: string,
    /** pid, hostname and the logger's bindings as pino serialized them when it was made, then `,"reqId":"`. */
    private readonly bindingsId: string,
    /** `,"msg":"request"}\n`, with the logger's message key, message prefix and line end. */
    private readonly end: string,
    private readonly serializers: Record<string, unknown>,
    private readonly errorKey: string,
    private readonly stringifiers: Record<string, unknown>,
    /** The stream's batch, when it is one and every constant piece is ASCII. */
    private readonly batch: LineBatch | null,
  ) {
    this.infoBytes = Buffer.from(info, 'latin1');
    this.debugBytes = Buffer.from(debug, 'latin1');
    this.bindingsBytes = Buffer.from(bindingsId, 'latin1');
    this.endBytes = Buffer.from(end, 'latin1');
    this.infoStamp = stampOf(this.infoBytes, this.bindingsBytes);
    this.debugStamp = stampOf(this.debugBytes, this.bindingsBytes);
  }

  // The constant pieces as bytes: used only with a batch, which they are ASCII for.
  private readonly infoBytes: Uint8Array;
  private readonly debugBytes: Uint8Array;
  private readonly bindingsBytes: Uint8Array;
  private readonly endBytes: Uint8Array;
  private methodBytes: Uint8Array = EMPTY;
  private statusBytes: Uint8Array = EMPTY;
  private remoteBytes: Uint8Array = EMPTY;
  /** The remote piece, then the end: one copy for a line that was not aborted. */
  private remoteEndBytes: Uint8Array = EMPTY;
  /**
   * The lines' beginnings up to the request id's quote (level, time, the logger's bindings),
   * for the milliseconds {@link infoAt} and {@link debugAt}: a busy server writes tens of lines
   * a millisecond, each then with one copy instead of three, and a new millisecond rewrites the
   * time's digits in place.
   */
  private readonly infoStamp: Uint8Array;
  private readonly debugStamp: Uint8Array;
  private infoAt = -1;
  private debugAt = -1;

  // The pieces of the last line that the next one most likely repeats (same method, status and
  // client), each one flat string: the batch is flattened once, at a cost a piece.
  private method: string | undefined = '';
  private methodPiece = '';
  private methodPlain = true;
  private status = -1;
  private statusPiece = '';
  private remote: string | undefined | null = null; // none yet: '' is an address pino writes
  private remotePiece = '';
  private remotePlain = true;

  /** The fast writer of `log`'s access lines, or null when only pino can write them. */
  static of(logger: Logger): AccessLine | null {
    const log = logger as PinoInternals;
    const stream = log[S.streamSym] as { write?: unknown } | undefined;
    const lsCache = log[S.lsCacheSym] as Record<number, string> | undefined;
    const formatters = log[S.formattersSym] as { log?: unknown } | undefined;
    const hooks = log[S.hooksSym] as { logMethod?: unknown; streamWrite?: unknown } | undefined;
    const serializers = log[S.serializersSym] as Record<string, unknown> | undefined;
    const stringifiers = log[S.stringifiersSym] as Record<string | symbol, unknown> | undefined;
    const messageKey = log[S.messageKeySym];
    const errorKey = log[S.errorKeySym];
    const chindings = log[S.chindingsSym];
    const end = log[S.endSym];
    const prefix = log[msgPrefixSym];
    const values = (log as { levels?: { values?: Record<string, number> } }).levels?.values;
    if (
      typeof stream?.write !== 'function' ||
      (stream as Record<symbol, unknown>)[S.needsMetadataGsym] === true ||
      lsCache === undefined ||
      formatters === undefined ||
      formatters.log !== undefined ||
      hooks === undefined ||
      hooks.logMethod !== undefined ||
      hooks.streamWrite !== undefined ||
      log[S.mixinSym] !== undefined ||
      log[S.timeSym] !== pino.stdTimeFunctions.epochTime ||
      log[S.nestedKeySym] !== null ||
      typeof messageKey !== 'string' ||
      typeof errorKey !== 'string' ||
      typeof chindings !== 'string' ||
      typeof end !== 'string' ||
      (prefix !== undefined && typeof prefix !== 'string') ||
      serializers === undefined ||
      serializers[messageKey] !== undefined ||
      stringifiers === undefined ||
      stringifiers[S.wildcardFirstSym] !== undefined ||
      stringifiers[messageKey] !== undefined ||
      values?.info === undefined ||
      values.debug === undefined ||
      typeof lsCache[values.info] !== 'string' ||
      typeof lsCache[values.debug] !== 'string'
    )
      return null;
    for (const key of KEYS) {
      if (serializers[key] !== undefined || stringifiers[key] !== undefined || key === errorKey)
        return null;
    }
    // Each one flat string: pino's caches are trees of the strings they were joined from, which
    // encoding a line walked node by node (~1k instructions a line).
    const info = flat(lsCache[values.info] + ',"time":');
    const debug = flat(lsCache[values.debug] + ',"time":');
    const bindingsId = flat(chindings + ',"reqId":"');
    const last = flat(',"' + messageKey + '":' + quote((prefix ?? '') + 'request') + end);
    const batch = lineBatch(stream);
    return new AccessLine(
      log,
      stream as { write(s: string): unknown },
      (silent ??= pino({ level: 'silent' }, { write() {} })).info,
      info,
      debug,
      bindingsId,
      last,
      serializers,
      errorKey,
      stringifiers,
      NON_ASCII.test(info + debug + bindingsId + last) ? null : batch,
    );
  }

  /**
   * Writes the line; false when it could not (a diagnostics subscriber to pino's serializer, a
   * field of `app.logFields` that only pino can write): the caller then logs it through pino.
   * The caller has checked the level.
   */
  write(
    quiet: boolean,
    reqId: string,
    method: string | undefined,
    path: string,
    status: number,
    bytes: number | undefined,
    ms: number,
    remote: string | undefined,
    aborted: true | undefined,
    fields: Record<string, unknown> | null,
  ): boolean {
    if (asJsonChannel.hasSubscribers) return false;
    // Few pieces, the quotes inside the constant ones: each piece is a node to visit when the
    // line is encoded.
    if (method !== this.method) {
      this.method = method;
      this.methodPiece = flat(
        method === undefined ? '","path":"' : `","method":"${inner(method)}","path":"`,
      );
      this.methodPlain = !NON_ASCII.test(this.methodPiece);
      this.methodBytes = Buffer.from(this.methodPiece, 'latin1');
    }
    if (status !== this.status) {
      this.status = status;
      this.statusPiece = flat(`","status":${num(status)},"bytes":`);
      this.statusBytes = Buffer.from(this.statusPiece, 'latin1');
    }
    if (remote !== this.remote) {
      this.remote = remote;
      this.remotePiece = remote === undefined ? '' : flat(`,"remote":"${inner(remote)}"`);
      this.remotePlain = !NON_ASCII.test(this.remotePiece);
      this.remoteBytes = Buffer.from(this.remotePiece, 'latin1');
      this.remoteEndBytes = Buffer.from(this.remotePiece + this.end, 'latin1');
    }
    const batch = this.batch;
    if (
      batch !== null &&
      fields === null &&
      bytes !== undefined &&
      this.methodPlain &&
      this.remotePlain
    ) {
      const end = this.put(batch, quiet, reqId, path, bytes, ms, aborted);
      if (end !== -1) {
        batch.done(end);
        return true;
      }
    }
    const plain = !NOT_PLAIN.test(reqId) && !NOT_PLAIN.test(path);
    let s =
      (quiet ? this.debug : this.info) +
      epochMs(Date.now()) +
      this.bindingsId +
      (plain ? reqId : inner(reqId)) +
      this.methodPiece +
      (plain ? path : inner(path)) +
      (bytes === undefined
        ? '","status":' + num(status) + ',"ms":' + hundredths(ms)
        : // Short: joined into one flat string, not a node each.
          this.statusPiece + (num(bytes) + ',"ms":' + hundredths(ms))) +
      this.remotePiece +
      (aborted === undefined ? '' : ',"aborted":true');
    let ascii = plain && batch !== null && this.methodPlain && this.remotePlain;
    if (fields !== null) {
      const more = this.fields(fields);
      if (more === null) return false;
      s += more;
      ascii &&= !NON_ASCII.test(more);
    }
    if (ascii) (batch as LineBatch).ascii(s + this.end);
    else this.stream.write(s + this.end);
    return true;
  }

  /**
   * The line written into the batch's bytes, no string in between (joining the line's pieces,
   * then flattening and copying the string, cost ~2k instructions); where it ends, or -1 for a
   * value only the string path writes (then nothing is taken from the batch).
   */
  private put(
    batch: LineBatch,
    quiet: boolean,
    reqId: string,
    path: string,
    bytes: number,
    ms: number,
    aborted: true | undefined,
  ): number {
    const now = Date.now();
    let head: Uint8Array;
    if (quiet) {
      head = this.debugStamp;
      if (now !== this.debugAt) {
        if (!stampTime(head, this.debugBytes.length, now, this.debugAt)) return -1;
        this.debugAt = now;
      }
    } else {
      head = this.infoStamp;
      if (now !== this.infoAt) {
        if (!stampTime(head, this.infoBytes.length, now, this.infoAt)) return -1;
        this.infoAt = now;
      }
    }
    const buf = batch.room(
      head.length +
        reqId.length +
        this.methodBytes.length +
        path.length +
        this.statusBytes.length +
        this.remoteEndBytes.length +
        80, // the bytes, ms and aborted
    );
    let at = putBytes(buf, batch.used, head);
    if ((at = putPlain(buf, at, reqId)) === -1) return -1;
    at = putBytes(buf, at, this.methodBytes);
    if ((at = putPlain(buf, at, path)) === -1) return -1;
    at = putBytes(buf, at, this.statusBytes);
    if ((at = putUint(buf, at, bytes)) === -1) return -1;
    // `,"ms":`, a byte each: TypedArray's set() costs ~160 instructions a call.
    buf[at] = 44;
    buf[at + 1] = 34;
    buf[at + 2] = 109;
    buf[at + 3] = 115;
    buf[at + 4] = 34;
    buf[at + 5] = 58;
    if ((at = putHundredths(buf, at + 6, ms)) === -1) return -1;
    if (aborted === undefined) return putBytes(buf, at, this.remoteEndBytes);
    at = putBytes(buf, at, this.remoteBytes);
    at = putBytes(buf, at, ABORTED);
    return putBytes(buf, at, this.endBytes);
  }

  /** Whether the logger writes lines of the level of a quiet route's, or of another's. */
  enabled(quiet: boolean): boolean {
    // A disabled level's method is pino's no-op: one load, where isLevelEnabled() takes five.
    return (quiet ? this.log.debug : this.log.info) !== this.disabled;
  }

  /**
   * The fields of `app.logFields` after the line's own; null when pino would write them in
   * another place or form: a key that is one of the line's (Object.assign replaces it where it
   * stands), an integer-like key (JavaScript enumerates those first), `__proto__`, a key with a
   * serializer or the error key, a value that is an object.
   */
  private fields(fields: Record<string, unknown>): string | null {
    let s = '';
    for (const key in fields) {
      if (!Object.prototype.hasOwnProperty.call(fields, key)) continue;
      if (
        (KEYS as readonly string[]).includes(key) ||
        key === '__proto__' ||
        key === this.errorKey ||
        this.serializers[key] !== undefined ||
        this.stringifiers[key] !== undefined ||
        /^(?:0|[1-9]\d*)$/.test(key)
      )
        return null;
      const value = valueOf(fields[key]);
      if (value === null) return null;
      if (value !== undefined) s += ',' + quote(key) + ':' + value;
    }
    return s;
  }
}
