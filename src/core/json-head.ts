import { ServerResponse, type IncomingMessage } from 'node:http';

/**
 * node's store of a response's headers (what `setHeader` fills: lower-case name to `[name,
 * value]`), found once by its description; null on a node without it.
 *
 * Why: node checks every header given to `writeHead` (two regular expressions: ~600
 * instructions a header, callgrind: GET / 54.9k -> 53.1k for three), but writes those of
 * this store as they are, `setHeader` having checked them. The fast path's three headers are
 * known to be valid (a constant type, a length, a request id of `[\w.:@/+=-]`): written from
 * the store, they skip the checks.
 */
const OUT_HEADERS: symbol | null = (() => {
  const probe = new ServerResponse({
    method: 'GET',
    httpVersionMajor: 1,
    httpVersionMinor: 1,
    headers: {},
  } as IncomingMessage);
  const found = Object.getOwnPropertySymbols(probe).find((s) => s.description === 'kOutHeaders');
  if (found === undefined) return null;
  const store = probe as unknown as Record<symbol, unknown>;
  if (store[found] !== null) return null;
  // The shape this file writes, checked on this node: a node that stores headers otherwise
  // gets `writeHead(array)`, never a store it would misread.
  probe.setHeader('X-Probe', '1');
  const set = store[found];
  if (typeof set !== 'object' || set === null || Object.getPrototypeOf(set) !== null) return null;
  const entry = (set as Record<string, unknown>)['x-probe'];
  return Array.isArray(entry) && entry.length === 2 && entry[0] === 'X-Probe' && entry[1] === '1'
    ? found
    : null;
})();

/** What node's store holds for the fast path's head, in the order it writes them. */
interface JsonHeaders {
  'content-type': [string, string];
  'content-length': [string, string];
  'x-request-id': [string, string];
}

/**
 * The store's shape: no prototype to look names up in, as node's own (`getHeader('toString')`
 * must find nothing), and one hidden class for every response.
 */
const JsonHeaders = function (this: JsonHeaders, type: string, length: string, id: string) {
  this['content-type'] = ['content-type', type];
  this['content-length'] = ['content-length', length];
  this['x-request-id'] = ['x-request-id', id];
} as unknown as new (type: string, length: string, id: string) => JsonHeaders;
JsonHeaders.prototype = Object.create(null) as JsonHeaders;

/**
 * Writes a 200's head with these three headers, as `res.writeHead(200, [...])` writes it, and
 * `getHeader()` then sees them. Headers set before (a route condition's Vary) are merged as
 * `writeHead` merges them.
 */
export function writeJsonHead(res: ServerResponse, type: string, length: string, id: string): void {
  const store = res as unknown as Record<symbol, unknown>;
  if (OUT_HEADERS === null || store[OUT_HEADERS] !== null) {
    res.writeHead(200, ['content-type', type, 'content-length', length, 'x-request-id', id]);
    return;
  }
  store[OUT_HEADERS] = new JsonHeaders(type, length, id);
  res.writeHead(200);
}
