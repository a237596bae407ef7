import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { asciiWriter, batchLines } from '../src/core/batch-lines';

/**
 * The batches of the default logger's destination: what reaches the file is every line, in
 * order, UTF-8 encoded, however lines fall across batches and slabs.
 */

describe('batchLines', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rococo-batch-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('ASCII and other lines, short and longer than a slab, reach the file in order, byte for byte', () => {
    const file = join(dir, 'out.log');
    const destination = batchLines(
      pino.destination({ dest: file, sync: true, minLength: 0, contentMode: 'buffer' }),
    );
    const ascii = asciiWriter(destination)!;
    expect(ascii).not.toBeNull();
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
      else ascii(line);
    }
    destination.flushSync();
    // As the string destination wrote them: a lone surrogate becomes U+FFFD too.
    expect(readFileSync(file).equals(Buffer.from(expected.join('')))).toBe(true);
  });

  test('a stream that is not a batch has no ASCII writer', () => {
    expect(asciiWriter(pino.destination({ dest: join(dir, 'x.log'), sync: true }))).toBeNull();
  });
});
