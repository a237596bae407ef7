import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { batchLines, lineBatch } from '../src/core/batch-lines';
import { accessLogger } from '../src/core/logging';

/**
 * The batches of the default logger's destination: what reaches the file is every line, in
 * order, UTF-8 encoded, however lines fall across batches and slabs.
 */

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rococo-batch-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('batchLines', () => {
  test('ASCII and other lines, short and longer than a slab, reach the file in order, byte for byte', () => {
    const file = join(dir, 'out.log');
    const destination = batchLines(
      pino.destination({ dest: file, sync: true, minLength: 0, contentMode: 'buffer' }),
    );
    const batch = lineBatch(destination)!;
    expect(batch).not.toBeNull();
    const expected: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const line =
        i % 7 === 0
          ? `{"n":${i},"s":"café 日本 😀 \ud800"}\n`
          : i === 1500
            ? '{"long":"' + 'x'.repeat(70_000) + '"}\n'
            : `{"n":${i},"path":"/projects/${i}"}\n`;
      expected.push(line);
      if (i % 7 === 0) destination.write(line);
      else batch.ascii(line);
    }
    destination.flushSync();
    // As the string destination wrote them: a lone surrogate becomes U+FFFD too.
    expect(readFileSync(file).equals(Buffer.from(expected.join('')))).toBe(true);
  });

  test('asynchronous writes: every line in order, on two slabs taking turns while the writes keep up', async () => {
    const file = join(dir, 'async.log');
    // As the default logger makes it.
    const destination = batchLines(
      pino.destination({ dest: file, sync: false, minLength: 1024, contentMode: 'buffer' }),
    );
    await new Promise((resolve) => destination.once('ready', resolve));
    const batch = lineBatch(destination)!;
    const slabs = new Set<Uint8Array>();
    const expected: string[] = [];
    let n = 0;
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 400; i++, n++) {
        const line = `{"n":${n},"path":"/projects/${n}","pad":"${'p'.repeat(n % 50)}"}\n`;
        expected.push(line);
        batch.ascii(line);
        slabs.add(batch.buf);
      }
      // A turn of the event loop, and the writes in flight complete.
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await new Promise<void>((resolve, reject) =>
      destination.flush((err) => (err ? reject(err) : resolve())),
    );
    expect(readFileSync(file).equals(Buffer.from(expected.join('')))).toBe(true);
    // ~1.3 MB of lines went through 64 KiB slabs: 20 of them without the turns.
    expect(slabs.size).toBeLessThanOrEqual(3);
    destination.end();
  });

  test('a stream that is not a batch has no ASCII writer', () => {
    expect(lineBatch(pino.destination({ dest: join(dir, 'x.log'), sync: true }))).toBeNull();
  });
});

describe('access lines written into a batch', () => {
  test("carry the clock's time, also where its millions change and when it goes back", () => {
    const file = join(dir, 'time.log');
    const destination = batchLines(
      pino.destination({ dest: file, sync: true, minLength: 0, contentMode: 'buffer' }),
    );
    const line = accessLogger(pino({}, destination)).line!;
    const times = [
      1_765_000_999_998, 1_765_000_999_999, 1_765_001_000_000, 1_765_001_000_000, 1_765_001_000_001,
      1_765_001_999_999, 1_765_002_000_000, 1_764_999_000_007, 1_764_999_000_007, 1_765_001_000_001,
      1_000_000_000_000, 9_999_999_999_999,
    ];
    const clock = jest.spyOn(Date, 'now');
    try {
      for (const [i, t] of times.entries()) {
        clock.mockReturnValue(t);
        line.write(i % 2 === 0, `id${i}`, 'GET', '/', 200, 2, 0.5, '::1', undefined, null);
      }
    } finally {
      clock.mockRestore();
    }
    destination.flushSync();
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    expect(lines.map((l) => (JSON.parse(l) as { time: number }).time)).toEqual(times);
  });

  test('are what pino writes for the same values, byte for byte, also where only the string path can write them', () => {
    const file = join(dir, 'out.log');
    const destination = batchLines(
      pino.destination({ dest: file, sync: true, minLength: 0, contentMode: 'buffer' }),
    );
    const access = accessLogger(pino({ level: 'debug', msgPrefix: '[x] ' }, destination));
    const line = access.line!;
    expect(line).not.toBeNull();
    const reference: string[] = [];
    const expected = pino(
      { level: 'debug', msgPrefix: '[x] ' },
      { write: (s: string) => void reference.push(s) },
    );
    type Case = [boolean, string, string | undefined, string, number, number | undefined, number];
    const cases: Case[] = [];
    const paths = [
      '/',
      '/projects/42',
      '/a"b',
      '/back\\slash',
      '/caf\u00e9',
      '/\u65e5',
      '/x\u0001',
    ];
    const sizes = [0, 7, 1234567, 2 ** 31, 1.5, undefined];
    const times = [0, 0.01, 0.1, 0.5, 1.25, 3, 12.3, 12345.67, 2 ** 31, 1e-7];
    let i = 0;
    for (const path of paths)
      for (const bytes of sizes)
        for (const ms of times) {
          i++;
          cases.push([
            i % 5 === 0,
            i % 3 === 0 ? 'given"id' : `ab12-${i}`,
            i % 4 === 0 ? 'POST' : 'GET',
            path,
            i % 2 ? 200 : 404,
            bytes,
            ms,
          ]);
        }
    const before = Date.now();
    for (const [quiet, reqId, method, path, status, bytes, ms] of cases) {
      const remote = status === 200 ? '127.0.0.1' : '::1';
      const aborted = ms === 3 ? true : undefined;
      expect(line.write(quiet, reqId, method, path, status, bytes, ms, remote, aborted, null)).toBe(
        true,
      );
      const obj = { reqId, method, path, status, bytes, ms, remote, aborted };
      if (quiet) expected.debug(obj, 'request');
      else expected.info(obj, 'request');
    }
    // One more line two milliseconds later: its time is that later one, not a stamp kept.
    const later = Date.now() + 2;
    while (Date.now() < later);
    line.write(false, 'later', 'GET', '/', 200, 1, 1, '::1', undefined, null);
    expected.info(
      { reqId: 'later', method: 'GET', path: '/', status: 200, bytes: 1, ms: 1, remote: '::1' },
      'request',
    );
    const after = Date.now();
    destination.flushSync();
    const untimed = (l: string) => l.replace(/,"time":\d+,/, ',');
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    // The time each line was written, from the clock: in order, within the loop's.
    const stamps = lines.map((l) => Number(/,"time":(\d+),/.exec(l)![1]));
    expect(stamps[0]).toBeGreaterThanOrEqual(before);
    expect(stamps[stamps.length - 1]).toBeLessThanOrEqual(after);
    expect(stamps.every((t, k) => k === 0 || t >= stamps[k - 1])).toBe(true);
    expect(stamps[stamps.length - 1]).toBeGreaterThanOrEqual(later);
    const written = lines.map(untimed);
    expect(written).toEqual(reference.join('').split('\n').filter(Boolean).map(untimed));
    expect(written).toHaveLength(cases.length + 1);
  });
});
