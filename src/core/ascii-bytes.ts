/**
 * Writers of an access line's values straight into a batch's bytes, as `String()` and pino's
 * quoting would write them. Each returns where its bytes end, or -1 for a value it does not
 * write (the caller then writes the line as a string): the caller has made room for them.
 */

/** A non-negative integer below 2^31, in decimal. */
export function putUint(buf: Uint8Array, at: number, n: number): number {
  if (!(n >= 0 && n <= 0x7fffffff && n % 1 === 0)) return -1;
  let end = at + 1;
  for (let t = n; t >= 10; t = (t / 10) | 0) end++;
  for (let i = end - 1; i >= at; i--) {
    const q = (n / 10) | 0;
    buf[i] = 48 + n - q * 10;
    n = q;
  }
  return end;
}

/** The digits of 000 to 999, three bytes a number. */
const TRIPLES = Uint8Array.from(
  Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0')).join(''),
  (c) => c.charCodeAt(0),
);

/** An integer from 0 to 999,999 as six digits, leading zeros kept. */
export function putSix(buf: Uint8Array, at: number, n: number): number {
  const k = (n / 1000) | 0;
  let p = k * 3;
  buf[at] = TRIPLES[p];
  buf[at + 1] = TRIPLES[p + 1];
  buf[at + 2] = TRIPLES[p + 2];
  p = (n - k * 1000) * 3;
  buf[at + 3] = TRIPLES[p];
  buf[at + 4] = TRIPLES[p + 1];
  buf[at + 5] = TRIPLES[p + 2];
  return at + 6;
}

/** `String(t)` for Date.now(): too large for 31 bits, so its millions, then six digits. */
export function putEpoch(buf: Uint8Array, at: number, t: number): number {
  if (!(t >= 1e6 && t < 2e15 && t % 1 === 0)) return -1;
  const m = Math.floor(t / 1e6);
  at = putUint(buf, at, m);
  if (at === -1) return -1;
  return putSix(buf, at, t - m * 1e6);
}

/**
 * `String(ms)` for a duration rounded to hundredths (see hundredths() in access-line.ts): the
 * whole part, then `.d` or `.dd` without trailing zeros.
 */
export function putHundredths(buf: Uint8Array, at: number, ms: number): number {
  const k = Math.round(ms * 100);
  if (!(k >= 0 && k <= 0x7fffffff && k / 100 === ms)) return -1;
  const whole = Math.floor(k / 100);
  at = putUint(buf, at, whole);
  const frac = k - whole * 100;
  if (frac === 0) return at;
  buf[at] = 46; // .
  const tens = (frac / 10) | 0;
  buf[at + 1] = 48 + tens;
  if (frac === tens * 10) return at + 2;
  buf[at + 2] = 48 + frac - tens * 10;
  return at + 3;
}

/**
 * A string that pino writes between its quotes as it is: printable ASCII without `"` or `\`.
 * -1 at any other character.
 */
export function putPlain(buf: Uint8Array, at: number, s: string): number {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 32 || c > 126 || c === 34 || c === 92) return -1;
    buf[at + i] = c;
  }
  return at + n;
}

/** Bytes already encoded. */
export function putBytes(buf: Uint8Array, at: number, bytes: Uint8Array): number {
  buf.set(bytes, at);
  return at + bytes.length;
}
