import { EncryptedCookieStorage, RedisStorage, type SessionStorage } from '../src';
import type { AppSettings } from './settings';

/** Where the sample keeps sessions: in Redis when REDIS_URL is set, else in encrypted cookies. */
export function sessionStorage(settings: AppSettings): SessionStorage {
  const maxAge = settings.SESSION_MAX_AGE;
  return settings.REDIS_URL !== ''
    ? new RedisStorage(settings.REDIS_URL, { maxAge })
    : new EncryptedCookieStorage(settings.SESSION_KEYS, { maxAge });
}
