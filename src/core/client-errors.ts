import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { responseOf } from './connections';

// What node itself answers (lib/_http_server.js), by the parser's or the timeout's error code.
const ANSWERS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'Payload Too Large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout'],
};

/**
 * node's `clientError` listener with a log line: what node answers itself (a malformed request
 * 400, too large a head 431, a slow one 408) never reaches the app, so without it those
 * answers, slowloris cut-offs included, would leave no trace. The line is at info level, as an
 * access line (it is the client's mistake), and holds no byte of what the client sent: the code
 * says what was wrong. A client that went away (ECONNRESET) gets neither answer nor line.
 */
export function clientErrorListener(
  log: Logger | null,
): (err: NodeJS.ErrnoException, socket: Socket) => void {
  return (err, socket) => {
    const response = responseOf(socket);
    // Only where nothing of a response went out yet: else the peer would read a corrupt stream.
    if (
      err.code !== 'ECONNRESET' &&
      socket.writable &&
      (response === null || !response.headersSent)
    ) {
      const [status, reason] = ANSWERS[err.code ?? ''] ?? [400, 'Bad Request'];
      socket.write(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\n\r\n`);
      log?.info({ status, code: err.code, remote: socket.remoteAddress }, 'request refused');
    }
    socket.destroy(err);
  };
}
