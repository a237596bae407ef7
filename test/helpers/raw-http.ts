import type { Socket } from 'node:net';
import { rawConnect } from './raw-websocket';

/** What a raw socket received before the server closed it, and when it closed. */
export interface RawExchange {
  /** Everything the server sent, as latin1 text. */
  text: string;
  /** Ms from the connection to the server's close. */
  closedAfterMs: number;
  /** How many trickled header lines were written before the close. */
  linesSent: number;
}

/**
 * A slowloris client: the start of a request, then one more header line every `everyMs`, never
 * the blank line that ends the head. Resolves when the server closes the connection; rejects
 * if it is still open after `giveUpMs`.
 */
export async function slowloris(
  port: number,
  path: string,
  everyMs = 300,
  giveUpMs = 8000,
): Promise<RawExchange> {
  const socket = await rawConnect(port);
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let linesSent = 0;
    const trickle = setInterval(() => {
      if (socket.writable) {
        socket.write(`X-Slow-${linesSent}: ${'a'.repeat(10)}\r\n`);
        linesSent++;
      }
    }, everyMs);
    const giveUp = setTimeout(() => {
      clearInterval(trickle);
      socket.destroy();
      reject(
        new Error(
          `the server still held the slowloris connection after ${giveUpMs} ms (${linesSent} lines sent)`,
        ),
      );
    }, giveUpMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {}); // a reset is a close too
    socket.on('close', () => {
      clearInterval(trickle);
      clearTimeout(giveUp);
      resolve({
        text: Buffer.concat(chunks).toString('latin1'),
        closedAfterMs: Date.now() - start,
        linesSent,
      });
    });
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
  });
}

/** Resolves with the ms until `socket` closes (from now); rejects after `giveUpMs`. */
export function closedWithin(socket: Socket, giveUpMs: number): Promise<number> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    if (socket.destroyed) return resolve(0);
    const timer = setTimeout(
      () => reject(new Error(`the socket was still open after ${giveUpMs} ms`)),
      giveUpMs,
    );
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - start);
    });
  });
}

/** Reads from `socket` until `text` holds a complete response head and `Content-Length` body. */
export function readResponse(
  socket: Socket,
  timeoutMs = 5000,
): Promise<{ status: number; head: string; body: string }> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => {
      socket.off('data', onData);
      reject(new Error(`no complete response within ${timeoutMs} ms: ${JSON.stringify(text)}`));
    }, timeoutMs);
    const onData = (c: Buffer) => {
      text += c.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = text.slice(0, end);
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      if (text.length - end - 4 < length) return;
      clearTimeout(timer);
      socket.off('data', onData);
      resolve({
        status: Number(head.slice(9, 12)),
        head,
        body: text.slice(end + 4, end + 4 + length),
      });
    };
    socket.on('data', onData);
  });
}
