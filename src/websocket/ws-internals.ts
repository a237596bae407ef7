// What rococo reaches inside `ws` (pinned in package.json) to skip work it does per message.
// Each accessor checks that the inside looks as expected and otherwise answers null (or, for
// the messages, listens on the public event), and the connection then does without: a different
// ws is slower, never wrong.
import type { Duplex } from 'node:stream';
import type { WebSocket as WsSocket, RawData } from 'ws';

/** A frame's options as ws.send() completes them for a server socket without compression. */
export const TEXT_FRAME = { binary: false, mask: false, compress: false, fin: true };
/** {@link TEXT_FRAME} for binary frames. */
export const BINARY_FRAME = { binary: true, mask: false, compress: false, fin: true };

/** ws's frame writer: what ws.send() hands a message to once it has built the frame's options. */
export interface FrameSender {
  send(data: Buffer | Uint8Array, options: typeof TEXT_FRAME): void;
}

interface Inside {
  _isServer?: boolean;
  _extensions?: object;
  _sender?: Partial<FrameSender>;
  _receiver?: NodeJS.EventEmitter;
  _socket?: Duplex;
}

/**
 * ws's sender, when frames may go to it with {@link TEXT_FRAME} or {@link BINARY_FRAME}: a
 * server socket with no extension agreed (permessage-deflate would compress). ws.send() spreads
 * its options into a new object for every message (~0.45k instructions of an echo's ~16k).
 */
export function frameSender(ws: WsSocket): FrameSender | null {
  const inside = ws as unknown as Inside;
  const sender = inside._sender;
  return inside._isServer === true &&
    inside._extensions !== undefined &&
    Object.keys(inside._extensions).length === 0 &&
    typeof sender?.send === 'function'
    ? (sender as FrameSender)
    : null;
}

/** The TCP socket under `ws`, or null. */
export function rawSocket(ws: WsSocket): Duplex | null {
  const socket = (ws as unknown as Inside)._socket;
  return typeof socket?.cork === 'function' ? socket : null;
}

/**
 * Calls `onMessage` for each message, straight from ws's frame parser. ws's receiver emits each
 * message to the WebSocket, which emits it again to its listeners: two EventEmitter calls,
 * whose lookups and calls are generic (megamorphic) once a process has many kinds of emitters,
 * as an app does. The receiver's own `emit` answers 'message' itself and passes every other
 * event on (~0.4k instructions a message less than a listener on the receiver). A ws whose
 * insides differ gets a listener on the public event.
 */
export function onMessages(
  ws: WsSocket,
  onMessage: (data: RawData, isBinary: boolean) => void,
): void {
  const receiver = (ws as unknown as Inside)._receiver;
  if (receiver?.listenerCount('message') !== 1) {
    ws.on('message', onMessage);
    return;
  }
  const emit = receiver.emit;
  receiver.emit = function (
    this: NodeJS.EventEmitter,
    type: string | symbol,
    a?: unknown,
    b?: unknown,
  ) {
    // Other events reach their listeners with exactly the arguments they came with; a rest
    // parameter would build an array for every message too.
    // eslint-disable-next-line prefer-rest-params
    if (type !== 'message') return emit.apply(this, arguments as unknown as [string, ...unknown[]]);
    onMessage(a as RawData, b as boolean);
    return true;
  };
}
