import { ServerResponse, type IncomingMessage } from 'node:http';

/**
 * The response class of the servers `app.createServer()` makes: node's, with one slot for what
 * the app does once the response closes (its access line, the plugins' response hooks).
 *
 * Why: a `'close'` listener a request (what `res.on()` does) cost ~1k instructions on `GET /`
 * (callgrind, 53.0k -> 54.1k: adding it to the response's events, then `emit` calling it
 * through its generic `apply`), more than a sixth of the access line; wrapping `emit` instead
 * cost ~0.4k, on every event of every response. node closes a response in one place, finished
 * or abandoned (`emitCloseNT` in `_http_server.js`): it sets `_closed`, then emits `'close'`.
 * Here `_closed` is an accessor that runs the slot's function when it turns true, at most
 * once, just before the `'close'` listeners. A response of another server (`app.handle`
 * mounted on a server of your own) gets a listener instead: {@link whenClosed}.
 */
export class ClosingResponse<
  Request extends IncomingMessage = IncomingMessage,
> extends ServerResponse<Request> {
  /** Run once, when the response closes; set by {@link whenClosed}. */
  onClosed: (() => void) | null = null;
  /** What node reads and writes as `_closed` (it sets it in its constructor, before the fields here). */
  declare closedNow: boolean;
}

Object.defineProperty(ClosingResponse.prototype, '_closed', {
  get(this: ClosingResponse): boolean {
    return this.closedNow;
  },
  set(this: ClosingResponse, closed: boolean) {
    this.closedNow = closed;
    if (closed !== true) return;
    const fn = this.onClosed;
    if (fn === null) return;
    this.onClosed = null;
    fn();
  },
});

/**
 * Runs `fn` once `res` closes: after it finished, or when the client went away before. In the
 * response's slot when it has a free one, else (another server's response, or a second call)
 * as a `'close'` listener.
 */
export function whenClosed(res: ServerResponse, fn: () => void): void {
  if (res instanceof ClosingResponse && res.onClosed === null) res.onClosed = fn;
  else res.on('close', fn);
}
