import { RequestIds } from '../src/core/logging';

describe('RequestIds', () => {
  test('generated ids are the prefix and the counter in base 36, past every carry', () => {
    const ids = new RequestIds();
    const first = ids.next(undefined);
    const prefix = first.slice(0, first.indexOf('-') + 1);
    expect(prefix).toMatch(/^[0-9a-f]{8}-$/);
    expect(first).toBe(prefix + '1');
    // 36^3 + a few: the head is rebuilt at every multiple of 36, its own digits carry too.
    for (let n = 2; n <= 46_700; n++) {
      const id = ids.next(undefined);
      if (id !== prefix + n.toString(36)) throw new Error(`id ${n}: ${id}`);
    }
  });

  test('a well-formed given id is kept and does not advance the counter', () => {
    const ids = new RequestIds();
    const a = ids.next(undefined);
    expect(ids.next('abc-123')).toBe('abc-123');
    expect(ids.next(['a', 'b'])).not.toBe('a');
    const c = ids.next('bad id');
    expect(a.endsWith('-1')).toBe(true);
    expect(c.endsWith('-3')).toBe(true);
  });
});
