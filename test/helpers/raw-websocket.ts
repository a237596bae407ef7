import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/** An HTTP response read off a raw socket. */
export interface RawResponse {
  status: number;
  /** Lower-case names; the last value of a repeated header. */
  headers: Record<string, string>;
  body: string;
}

/** A valid `Sec-WebSocket-Key`: 16 random bytes in base64. */
export function wsKey(): string {
  return randomBytes(16).toString('base64');
}

/** Connects a plain TCP socket to 127.0.0.1:port. */
export function rawConnect(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

function parseHead(head: string): { status: number; headers: Record<string, string> } {
  const lines = head.split('\r\n');
  const m = /^HTTP\/1\.1 (\d{3})/.exec(lines[0]);
  if (m === null) throw new Error(`not an HTTP response: ${JSON.stringify(lines[0])}`);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status: Number(m[1]), headers };
}

/**
 * Writes `request` (bytes exactly as given) on a fresh socket and reads the whole answer, until
 * the server closes the connection; rejects after `timeoutMs`.
 */
export async function rawRequest(
  port: number,
  request: string,
  timeoutMs = 5000,
): Promise<RawResponse> {
  const socket = await rawConnect(port);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(
          `no complete answer within ${timeoutMs} ms; got ${JSON.stringify(Buffer.concat(chunks).toString('latin1'))}`,
        ),
      );
    }, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {}); // a reset after the answer is fine: 'close' follows
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end === -1)
        return reject(
          new Error(`the server closed without a complete answer: ${JSON.stringify(text)}`),
        );
      try {
        resolve({ ...parseHead(text.slice(0, end)), body: text.slice(end + 4) });
      } catch (e) {
        reject(e);
      }
    });
    socket.write(request);
  });
}

/** The text of a handshake request, with any header replaced or removed (`null`). */
export function handshake(
  path: string,
  port: number,
  overrides: Record<string, string | null> = {},
  method = 'GET',
): string {
  const headers: Record<string, string | null> = {
    host: `127.0.0.1:${port}`,
    connection: 'Upgrade',
    upgrade: 'websocket',
    'sec-websocket-key': wsKey(),
    'sec-websocket-version': '13',
    ...overrides,
  };
  let text = `${method} ${path} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(headers)) if (v !== null) text += `${k}: ${v}\r\n`;
  return text + '\r\n';
}

/** A WebSocket frame as bytes: FIN set, masked (as a client must) unless `mask` is false. */
export function frame(
  opcode: number,
  payload: Buffer | string,
  options: { mask?: boolean; rsv?: number } = {},
): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const mask = options.mask ?? true;
  const len = data.length;
  const header: number[] = [0x80 | ((options.rsv ?? 0) << 4) | opcode];
  const maskBit = mask ? 0x80 : 0;
  if (len < 126) header.push(maskBit | len);
  else if (len < 65536) header.push(maskBit | 126, len >> 8, len & 0xff);
  else throw new Error('frame(): payloads over 64 KiB are not needed here');
  if (!mask) return Buffer.concat([Buffer.from(header), data]);
  const key = randomBytes(4);
  const masked = Buffer.alloc(len);
  for (let i = 0; i < len; i++) masked[i] = data[i] ^ key[i % 4];
  return Buffer.concat([Buffer.from(header), key, masked]);
}

/** A frame the server sent (servers never mask). */
export interface ServerFrame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

/** A WebSocket opened by hand over a raw socket, to send frames no conforming client would. */
export interface RawWebSocket {
  socket: Socket;
  /** The next complete frame from the server; rejects after `timeoutMs` or when the socket ends first. */
  nextFrame(timeoutMs?: number): Promise<ServerFrame>;
  /** Resolves when the TCP connection is closed. */
  ended: Promise<void>;
}

/** Opens `path` with a hand-written handshake and checks the 101 answer. */
export async function rawWebSocket(port: number, path: string): Promise<RawWebSocket> {
  const socket = await rawConnect(port);
  socket.on('error', () => {});
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  let buffer = Buffer.alloc(0);
  let notify: (() => void) | null = null;
  let closed = false;
  socket.on('data', (c: Buffer) => {
    buffer = Buffer.concat([buffer, c]);
    notify?.();
  });
  void ended.then(() => {
    closed = true;
    notify?.();
  });
  const waitMore = (timeoutMs: number, what: string) =>
    new Promise<void>((resolve, reject) => {
      if (closed) return reject(new Error(`the socket closed before ${what}`));
      const timer = setTimeout(() => {
        notify = null;
        reject(new Error(`no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      notify = () => {
        notify = null;
        clearTimeout(timer);
        resolve();
      };
    });

  socket.write(handshake(path, port));
  let end: number;
  while ((end = buffer.indexOf('\r\n\r\n')) === -1) await waitMore(5000, 'handshake answer');
  const { status } = parseHead(buffer.subarray(0, end).toString('latin1'));
  if (status !== 101) throw new Error(`handshake answered ${status}`);
  buffer = buffer.subarray(end + 4);

  const tryParse = (): ServerFrame | null => {
    if (buffer.length < 2) return null;
    let len = buffer[1] & 0x7f;
    let offset = 2;
    if (len === 126) {
      if (buffer.length < 4) return null;
      len = buffer.readUInt16BE(2);
      offset = 4;
    } else if (len === 127) {
      if (buffer.length < 10) return null;
      len = Number(buffer.readBigUInt64BE(2));
      offset = 10;
    }
    if (buffer.length < offset + len) return null;
    const f = {
      fin: (buffer[0] & 0x80) !== 0,
      opcode: buffer[0] & 0x0f,
      payload: Buffer.from(buffer.subarray(offset, offset + len)),
    };
    buffer = buffer.subarray(offset + len);
    return f;
  };
  return {
    socket,
    ended,
    async nextFrame(timeoutMs = 3000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const f = tryParse();
        if (f !== null) return f;
        await waitMore(Math.max(1, deadline - Date.now()), 'frame');
      }
    },
  };
}

/** The status code of a close frame's payload (1005 when it carries none). */
export function closeCode(f: ServerFrame): number {
  return f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
}
