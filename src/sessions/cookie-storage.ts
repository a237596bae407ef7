import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Application } from '../core/application';
import { RococoError } from '../core/errors';
import type { Request } from '../core/request';
import { developmentKey, keyError, parseKeys, type SessionKeys } from './keys';
import { Session } from './session';
import { SessionStorage, type SessionCookieOptions } from './storage';

/** Options of {@link EncryptedCookieStorage}: the cookie's, and where DEBUG keeps its key. */
export interface EncryptedCookieOptions extends SessionCookieOptions {
  /** With DEBUG on and no keys, the generated key's file; `.rococo/session-key` by default. */
  developmentKeyFile?: string;
}

const VERSION = 1;
const IV = 12;
const TAG = 16;
// version + iv + tag + the shortest payload; longer than that is garbage, not a session.
const MIN_BYTES = 1 + IV + TAG + 2;
const COOKIE_VALUE = /^[A-Za-z0-9_-]+$/;

/**
 * Sessions kept in the browser, in one cookie encrypted and authenticated with AES-256-GCM
 * (aiohttp_session's `EncryptedCookieStorage`). Nothing is stored on the server; a cookie that
 * was tampered with, cut short, made with another key, or is older than `maxAge` (checked
 * against a time inside the encrypted payload) is ignored and the request gets a new session.
 *
 * Keys are 32 random bytes in base64, from settings. With several, the first encrypts and all
 * decrypt, so a new key can be put first and the old one dropped after `maxAge`.
 *
 * @example
 * sessions(new EncryptedCookieStorage(settings.SESSION_KEYS, { maxAge: 14 * 86400 }))
 */
export class EncryptedCookieStorage extends SessionStorage {
  private keys: Buffer[];
  private readonly devKeyFile: string;
  // The cookie name is authenticated with the data, so a value cannot be replayed under another name.
  private readonly aad: Buffer;

  constructor(keys: SessionKeys, options: EncryptedCookieOptions = {}) {
    const { developmentKeyFile, ...cookie } = options;
    super(cookie, 'EncryptedCookieStorage', []);
    this.keys = parseKeys(keys);
    this.devKeyFile = developmentKeyFile ?? join(process.cwd(), '.rococo', 'session-key');
    this.aad = Buffer.from(this.cookieName);
  }

  /** Without keys: a development key under DEBUG, else startup stops. */
  override setup(app: Application): void {
    if (this.keys.length > 0) return;
    if (!app.debug) throw keyError('sessions: SESSION_KEYS is not set, and DEBUG is off');
    this.keys = [developmentKey(this.devKeyFile, app.log)];
  }

  async load(req: Request): Promise<Session> {
    const value = req.cookies[this.cookieName];
    const payload = value === undefined ? null : this.open(value);
    if (payload === null) return this.fresh();
    return new Session(payload.d, { created: payload.c });
  }

  async save(_req: Request, session: Session): Promise<string> {
    const key = this.key();
    const iv = randomBytes(IV);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(this.aad);
    const plain = JSON.stringify({ c: session.created, t: Date.now(), d: session.toJSON() });
    const body = Buffer.concat([
      Buffer.of(VERSION),
      iv,
      cipher.update(plain, 'utf8'),
      cipher.final(),
    ]);
    return Buffer.concat([body, cipher.getAuthTag()]).toString('base64url');
  }

  async destroy(): Promise<void> {
    // Nothing on the server: clearing the cookie is all.
  }

  /** The payload of a cookie value, or null for anything that is not a live session of ours. */
  private open(value: string): { c: number; d: Record<string, unknown> } | null {
    if (value.length > 8192 || !COOKIE_VALUE.test(value)) return null;
    const bytes = Buffer.from(value, 'base64url');
    if (bytes.length < MIN_BYTES || bytes[0] !== VERSION) return null;
    const iv = bytes.subarray(1, 1 + IV);
    const tag = bytes.subarray(bytes.length - TAG);
    const data = bytes.subarray(1 + IV, bytes.length - TAG);
    for (const key of this.keys) {
      let plain: string;
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG });
        decipher.setAAD(this.aad);
        decipher.setAuthTag(tag);
        plain = Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8');
      } catch {
        continue; // another key, or not ours
      }
      return this.live(plain);
    }
    return null;
  }

  private live(plain: string): { c: number; d: Record<string, unknown> } | null {
    let p: { c?: unknown; t?: unknown; d?: unknown };
    try {
      p = JSON.parse(plain);
    } catch {
      return null;
    }
    if (
      typeof p.c !== 'number' ||
      typeof p.t !== 'number' ||
      p.d === null ||
      typeof p.d !== 'object' ||
      Array.isArray(p.d)
    )
      return null;
    if (Date.now() - p.t > this.maxAge * 1000) return null;
    return { c: p.c, d: Object.assign(Object.create(null), p.d) };
  }

  private key(): Buffer {
    if (this.keys.length === 0) {
      throw new RococoError(
        'ROCOCO_SESSION_KEYS',
        'EncryptedCookieStorage has no key: pass SESSION_KEYS, or use it through sessions(storage) in createApp',
      );
    }
    return this.keys[0];
  }
}
