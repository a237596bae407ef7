import { immutableSettings, settingsFromEnv } from '../src';

/** The sample's settings and their defaults; each can be overridden from the environment. */
export const defaults = {
  DEBUG: false,
  HOST: '127.0.0.1',
  PORT: 8080,
  DEFAULT_LOCALE: 'uk_UA',
  MAX_BODY_SIZE: 64 * 1024,
  /** Empty: `npm start` starts an embedded PostgreSQL. */
  DATABASE_URL: '',
  /**
   * Keys of the session cookies: 32 random bytes in base64, several separated by commas (the
   * first encrypts, all decrypt). Empty: with DEBUG on a development key is generated into
   * `.rococo/session-key`, with DEBUG off the app refuses to start. Unused with REDIS_URL.
   */
  SESSION_KEYS: '',
  /**
   * `redis://host:6379`: sessions are kept in Redis, and the live pages of projects (events,
   * viewer counts) span every worker through it. Empty: encrypted cookies, and one process.
   */
  REDIS_URL: '',
  /** Prefix of the live pages' Redis keys and hub channels: apps of different databases sharing a Redis keep apart. */
  REDIS_PREFIX: 'tracker:',
  /**
   * Wrong passwords in a row an account may get in 15 minutes; the next login to it is refused
   * (429) until they are 15 minutes old. A right password forgets them.
   */
  LOGIN_FAILURES_PER_ACCOUNT: 5,
  /** Failed logins an address may make in an hour, whatever the accounts (password spraying). */
  LOGIN_FAILURES_PER_ADDRESS: 50,
  /** Changes a user may make through the API (each of POST, PUT, DELETE) per minute. */
  API_WRITES_PER_MINUTE: 60,
  /** How long a session lasts without a request, in seconds: 14 days. */
  SESSION_MAX_AGE: 14 * 24 * 3600,
  /**
   * Origins of other sites' pages that may call the JSON API with the user's session (CORS),
   * separated by commas: `https://tracker-ui.example,http://localhost:5173`. Empty: none.
   */
  CORS_ORIGINS: '',
};

/** The sample's settings type, as controllers receive it with `@inject(SETTINGS)`. */
export type AppSettings = Readonly<typeof defaults>;

/** Settings from the environment (`DEBUG=1 PORT=9000 npm start`), with explicit overrides. */
export function loadSettings(
  overrides: Partial<AppSettings> = {},
  env: Record<string, string | undefined> = process.env,
): AppSettings {
  return immutableSettings(settingsFromEnv(defaults, env), overrides);
}
