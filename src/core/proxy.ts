import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import proxyaddr from 'proxy-addr';
import { RococoError } from './errors';

/** Whether the peer at `addr`, `i` hops from the server, is a proxy whose headers are believed. */
export type TrustProxy = (addr: string, i: number) => boolean;

/**
 * Compiles the `TRUST_PROXY` setting: false or unset (nobody: the default), true (everybody:
 * only behind a proxy that overwrites the headers), a hop count, or addresses and subnets
 * (`'loopback, 10.0.0.0/8'` or a list; proxy-addr's names `loopback`, `linklocal` and
 * `uniquelocal` included). A value it cannot read stops startup.
 */
export function compileTrust(value: unknown): TrustProxy | null {
  if (value === undefined || value === null || value === false || value === '' || value === 0)
    return null;
  if (value === true) return () => true;
  if (typeof value === 'number' || (typeof value === 'string' && /^\d+$/.test(value.trim()))) {
    const hops = Number(value);
    if (!Number.isInteger(hops) || hops < 0)
      throw new RococoError('ROCOCO_SETTINGS', `TRUST_PROXY: ${value} is not a hop count`);
    return (_addr, i) => i < hops;
  }
  if (value === 'true') return () => true;
  if (value === 'false') return null;
  const list =
    typeof value === 'string'
      ? value
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : Array.isArray(value)
        ? value
        : null;
  if (list === null || list.some((a) => typeof a !== 'string')) {
    throw new RococoError(
      'ROCOCO_SETTINGS',
      `TRUST_PROXY must be a boolean, a hop count, or addresses/subnets, got ${JSON.stringify(value)}`,
    );
  }
  try {
    return proxyaddr.compile(list as string[]);
  } catch (e) {
    throw new RococoError('ROCOCO_SETTINGS', `TRUST_PROXY: ${(e as Error).message}`);
  }
}

const peers = new WeakMap<Socket, string>();

/**
 * The address of a connection's peer, read from the socket once per connection: node's getter
 * goes through four property loads on the socket, each megamorphic (sockets change shape over
 * their life), ~530 instructions a request where the access line asks for it.
 */
function peerOf(socket: Socket): string {
  let address = peers.get(socket);
  if (address === undefined) {
    address = socket.remoteAddress;
    // Not kept before it is known: a socket being closed may not tell it yet.
    if (address === undefined) return '';
    peers.set(socket, address);
  }
  return address;
}

/** The client's address: the socket's peer, or from `X-Forwarded-For` through trusted proxies only. */
export function clientAddress(raw: IncomingMessage, trust: TrustProxy | null): string {
  if (trust === null) return peerOf(raw.socket);
  return proxyaddr(raw, trust);
}

/**
 * The first value of an `X-Forwarded-*` header when the peer is a trusted proxy, else undefined.
 * Only the nearest proxy is asked: it is the one that set or checked the header.
 */
export function forwarded(
  raw: IncomingMessage,
  trust: TrustProxy | null,
  name: string,
): string | undefined {
  if (trust === null || !trust(peerOf(raw.socket), 0)) return undefined;
  const value = raw.headers[name];
  if (typeof value !== 'string') return undefined;
  const comma = value.indexOf(',');
  const first = (comma === -1 ? value : value.slice(0, comma)).trim();
  return first === '' ? undefined : first;
}
