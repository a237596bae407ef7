import { RequestIds } from '../src/core/logging';

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** `n` as `width` base-64url digits. */
const digits = (n: number, width: number) =>
  Array.from(
    { length: width },
    (_, i) => BASE64URL[Math.floor(n / 64 ** (width - 1 - i)) % 64],
  ).join('');

describe('RequestIds', () => {
  test('generated ids are a random prefix and a counter, 12 characters, past every carry', () => {
    const ids = new RequestIds();
    const first = ids.next(undefined);
    expect(first).toMatch(/^[A-Za-z0-9_-]{12}$/);
    const prefix = first.slice(0, 8);
    expect(first).toBe(prefix + 'AAAB');
    // 64^2 * 3 + a few: the head is rebuilt at every multiple of 4096.
    for (let n = 2; n <= 12_300; n++) {
      const id = ids.next(undefined);
      if (id !== prefix + digits(n, 4)) throw new Error(`id ${n}: ${id}`);
    }
  });

  test('after 64^4 ids the counter starts again under a new prefix: no id repeats', () => {
    const ids = new RequestIds();
    const prefix = ids.next(undefined).slice(0, 8);
    let last = '';
    for (let n = 2; n < 64 ** 4; n++) last = ids.next(undefined);
    expect(last).toBe(prefix + '____');
    const wrapped = ids.next(undefined);
    expect(wrapped).toMatch(/^[A-Za-z0-9_-]{8}AAAA$/);
    expect(wrapped.slice(0, 8)).not.toBe(prefix);
    expect(ids.next(undefined)).toBe(wrapped.slice(0, 8) + 'AAAB');
  });

  test('a well-formed given id is kept and does not advance the counter', () => {
    const ids = new RequestIds();
    const a = ids.next(undefined);
    expect(ids.next('abc-123')).toBe('abc-123');
    expect(ids.next(['a', 'b'])).not.toBe('a');
    const c = ids.next('bad id');
    expect(a.endsWith('AAAB')).toBe(true);
    expect(c.endsWith('AAAD')).toBe(true);
  });
});
