import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { writeJsonHead } from '../src/core/json-head';

const TYPE = 'application/json; charset=utf-8';

/** The bytes a server's response to `GET /` carries, its Date line taken out. */
async function bytesOf(write: (res: ServerResponse) => void, head = 'GET'): Promise<string> {
  const server = createServer((_req, res) => write(res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () =>
        socket.write(`${head} / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
      );
      let out = '';
      socket.on('data', (d) => (out += d.toString('latin1')));
      socket.on('end', () => resolve(out.replace(/\r\nDate: [^\r]*/, '')));
      socket.on('error', reject);
    });
  } finally {
    server.close();
  }
}

describe('writeJsonHead', () => {
  test('writes the bytes writeHead(200, [...]) writes, and getHeader() sees the headers', async () => {
    let seen: unknown[] = [];
    const fast = await bytesOf((res) => {
      writeJsonHead(res, TYPE, '2', 'abc-1');
      seen = [
        res.getHeader('content-type'),
        res.getHeader('Content-Length'),
        res.getHeader('x-request-id'),
        res.getHeader('toString'),
        res.getHeaderNames(),
      ];
      res.end('{}');
    });
    const slow = await bytesOf((res) => {
      res.writeHead(200, ['content-type', TYPE, 'content-length', '2', 'x-request-id', 'abc-1']);
      res.end('{}');
    });
    expect(fast).toBe(slow);
    expect(fast).toContain(
      '\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: 2\r\nx-request-id: abc-1\r\n',
    );
    expect(seen).toEqual([
      TYPE,
      '2',
      'abc-1',
      undefined,
      ['content-type', 'content-length', 'x-request-id'],
    ]);
  });

  test('headers set before are kept and merged as writeHead merges them', async () => {
    const write = (fast: boolean) => (res: ServerResponse) => {
      res.setHeader('vary', 'Accept');
      if (fast) writeJsonHead(res, TYPE, '2', 'abc-2');
      else
        res.writeHead(200, ['content-type', TYPE, 'content-length', '2', 'x-request-id', 'abc-2']);
      res.end('{}');
    };
    const fast = await bytesOf(write(true));
    expect(fast).toBe(await bytesOf(write(false)));
    expect(fast).toContain('vary: Accept\r\n');
  });

  test('a HEAD response gets the head alone, its Content-Length that of the body', async () => {
    const write = (fast: boolean) => (res: ServerResponse) => {
      if (fast) writeJsonHead(res, TYPE, '2', 'abc-3');
      else
        res.writeHead(200, ['content-type', TYPE, 'content-length', '2', 'x-request-id', 'abc-3']);
      res.end('{}');
    };
    const fast = await bytesOf(write(true), 'HEAD');
    expect(fast).toBe(await bytesOf(write(false), 'HEAD'));
    expect(fast.endsWith('\r\n\r\n')).toBe(true);
  });
});
