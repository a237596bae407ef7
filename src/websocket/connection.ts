// Node's global `Buffer` is an accessor on globalThis: optimized code reads it through the
// global load IC and a getter call on every use (about 150 instructions a message in
// toBuffer()). The module's own binding is a plain property load.
import { Buffer } from 'node:buffer';
import type { Duplex } from 'node:stream';
import type { WebSocket as WsSocket, RawData } from 'ws';
import type { Request } from '../core/request';
import {
  BINARY_FRAME,
  TEXT_FRAME,
  frameSender,
  onMessages,
  rawSocket,
  type FrameSender,
} from './ws-internals';

/** A message received on a {@link WebSocketConnection}. */
export class WebSocketMessage {
  /** The payload as bytes. */
  readonly data: Buffer;
  /** True for a binary frame, false for text. */
  readonly isBinary: boolean;

  /** @internal */
  constructor(data: Buffer, isBinary: boolean) {
    this.data = data;
    this.isBinary = isBinary;
  }

  /** The payload as UTF-8 text. */
  get text(): string {
    // Without arguments Buffer#toString goes straight to its UTF-8 decoder, skipping the
    // parsing of an encoding, start and end.
    return this.data.toString();
  }

  /** The payload parsed as JSON (a `SyntaxError` when it is not). */
  json<T = unknown>(): T {
    return JSON.parse(this.text) as T;
  }
}

/** How a connection ended. */
export interface CloseInfo {
  code: number;
  reason: string;
}

// Received messages wait here for the handler; above this many, the socket stops reading
// (TCP pushes back on the client) until the handler catches up.
const QUEUE_HIGH = 1024;
// send() waits while more than this many bytes are queued for the peer.
const SEND_HIGH_WATER = 1024 * 1024;
/** @internal What send() returns when it need not wait: settled, so a caller may skip handling it. */
export const DONE = Promise.resolve();
const END: IteratorResult<WebSocketMessage> = { done: true, value: undefined };
const TEXT = { binary: false };
const BINARY = { binary: true };

// A message fanned out to many sockets (a Hub topic's subscribers) is one string sent again and
// again: ws would encode it to UTF-8 for every socket. The last one sent is kept encoded; strings
// longer than this are encoded each time rather than kept.
const KEEP_ENCODED = 16 * 1024;
let lastText = '';
let lastBytes = Buffer.alloc(0);

function utf8(text: string): Buffer {
  if (text === lastText) return lastBytes;
  const bytes = Buffer.from(text, 'utf8');
  if (text.length <= KEEP_ENCODED) {
    lastText = text;
    lastBytes = bytes;
  }
  return bytes;
}

/**
 * One WebSocket, as a handler sees it (aiohttp's `WebSocketResponse`): an async iterable of
 * messages, buffered from the moment of the upgrade so nothing is lost while the handler is
 * still awaiting something, and `send`s that wait when the peer reads slower than the server
 * writes.
 *
 * @example
 * @WebSocket('/echo')
 * async echo(ws: WebSocketConnection) {
 *   for await (const msg of ws) await ws.send(msg);
 * }
 */
export class WebSocketConnection implements AsyncIterable<WebSocketMessage> {
  /** The upgrade request: params, headers, cookies, the app. */
  readonly req: Request;
  /** Resolves when the socket has closed, however it closed. */
  readonly closed: Promise<CloseInfo>;
  private readonly ws: WsSocket;
  // ws's frame writer when it can be used directly, else null (see frameSender).
  private readonly sender: FrameSender | null;
  // The TCP socket under ws, for corking and its 'drain'; null: neither (see rawSocket).
  private readonly socket: Duplex | null;
  private corked = false;
  // Messages received and not yet read are queue[head] to queue[tail - 1]. The array is never
  // shifted nor emptied: a burst (every frame of a TCP chunk arrives in one go) would otherwise
  // grow its backing store again each time, and shift() moves what is left.
  private readonly queue: (WebSocketMessage | undefined)[] = [];
  private head = 0;
  private tail = 0;
  private waiting: ((m: IteratorResult<WebSocketMessage>) => void) | null = null;
  private ended = false;

  /** @internal Made by the app at the upgrade. */
  constructor(ws: WsSocket, req: Request) {
    this.ws = ws;
    this.req = req;
    this.socket = rawSocket(ws);
    this.sender = frameSender(ws);
    onMessages(ws, (data, isBinary) =>
      this.receive(new WebSocketMessage(toBuffer(data), isBinary)),
    );
    this.closed = new Promise((resolve) => {
      ws.once('close', (code: number, reason: Buffer) => {
        this.ended = true;
        this.wake();
        resolve({ code, reason: reason.toString('utf8') });
      });
    });
    // A bad frame or a socket error: ws closes that socket (1002, 1007, 1009...) and we hear 'close'.
    ws.on('error', () => {});
  }

  /** The subprotocol agreed in the handshake, or `''`. */
  get protocol(): string {
    return this.ws.protocol;
  }

  /** Whether the socket is open (sending is possible). */
  get isOpen(): boolean {
    return this.ws.readyState === 1;
  }

  /**
   * Sends text (a string) or binary (bytes). Resolves once the data is handed to the socket and
   * the socket's buffer is below its high-water mark, so a loop of sends to a slow peer slows
   * down instead of growing the server's memory. On a closed socket it does nothing.
   *
   * A received {@link WebSocketMessage} is sent as it came, text or binary, from its bytes:
   * relaying one this way (an echo, a proxy) skips decoding its text and encoding it again.
   *
   * @example
   * for await (const msg of ws) await ws.send(msg);
   */
  send(data: string | Buffer | Uint8Array | WebSocketMessage): Promise<void> {
    const ws = this.ws;
    if (ws.readyState !== 1) return DONE;
    // More messages are already waiting (they came in one TCP read): their answers, sent in this
    // same turn of the event loop, go out in one write instead of a write each.
    if (this.head !== this.tail && !this.corked && this.socket !== null) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(this.uncork);
    }
    // No callback: ws reports write errors by closing the socket, which `closed` tells. A text
    // frame's bytes are valid UTF-8: ws closed the socket (1007) on any that were not.
    const sender = this.sender;
    if (sender !== null) {
      if (typeof data === 'string') sender.send(utf8(data), TEXT_FRAME);
      else if (data instanceof WebSocketMessage)
        sender.send(data.data, data.isBinary ? BINARY_FRAME : TEXT_FRAME);
      else sender.send(data, BINARY_FRAME);
    } else if (typeof data === 'string') ws.send(utf8(data), TEXT);
    else if (data instanceof WebSocketMessage) ws.send(data.data, data.isBinary ? BINARY : TEXT);
    else ws.send(data, BINARY);
    const socket = this.socket;
    if (ws.bufferedAmount <= SEND_HIGH_WATER || socket === null) return DONE;
    return new Promise((resolve) => {
      const done = () => {
        socket.off('drain', done);
        ws.off('close', done);
        resolve();
      };
      socket.on('drain', done);
      ws.on('close', done);
    });
  }

  /** Sends a value as JSON text. */
  sendJson(value: unknown): Promise<void> {
    return this.send(JSON.stringify(value));
  }

  /** Starts the closing handshake (1000 by default); `closed` resolves when it is done. */
  close(code = 1000, reason = ''): void {
    if (this.ws.readyState === 0 || this.ws.readyState === 1) this.ws.close(code, reason);
  }

  /** @internal Ends the socket at once, without the closing handshake (a dead peer). */
  terminate(): void {
    this.ws.terminate();
  }

  /** The next message, or null once the socket is closed and every message was read. */
  next(): Promise<WebSocketMessage | null> {
    return this.pull().then((r) => (r.done ? null : r.value));
  }

  [Symbol.asyncIterator](): AsyncIterator<WebSocketMessage> {
    return { next: () => this.pull() };
  }

  // One promise per message, resolved with the iterator's own result: `for await` costs no more.
  private pull(): Promise<IteratorResult<WebSocketMessage>> {
    const head = this.head;
    if (head !== this.tail) {
      const queue = this.queue;
      const m = queue[head] as WebSocketMessage;
      queue[head] = undefined;
      if (head + 1 === this.tail) this.head = this.tail = 0;
      else if (head + 1 < QUEUE_HIGH) this.head = head + 1;
      else {
        // A handler that never catches up entirely: drop the read slots, at most once every
        // QUEUE_HIGH messages, so the array does not grow for ever.
        queue.splice(0, head + 1);
        this.tail -= head + 1;
        this.head = 0;
      }
      if (this.tail - this.head <= QUEUE_HIGH / 2 && this.ws.isPaused) this.ws.resume();
      return Promise.resolve({ done: false, value: m });
    }
    if (this.ended) return Promise.resolve(END);
    return new Promise(this.park);
  }

  // Made once, not once a send.
  private readonly uncork = (): void => {
    this.corked = false;
    this.socket?.uncork();
  };

  // The executor of every promise pull() leaves pending: made once, not once a message.
  private readonly park = (resolve: (m: IteratorResult<WebSocketMessage>) => void): void => {
    this.waiting = resolve;
  };

  private receive(m: WebSocketMessage): void {
    const waiting = this.waiting;
    if (waiting !== null) {
      this.waiting = null;
      waiting({ done: false, value: m });
      return;
    }
    this.queue[this.tail++] = m;
    if (this.tail - this.head >= QUEUE_HIGH && !this.ws.isPaused) this.ws.pause();
  }

  private wake(): void {
    const waiting = this.waiting;
    if (waiting !== null && this.head === this.tail) {
      this.waiting = null;
      waiting(END);
    }
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
