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
};

/** The sample's settings type, as controllers receive it with `@inject(SETTINGS)`. */
export type AppSettings = Readonly<typeof defaults>;

/** Settings from the environment (`DEBUG=1 PORT=9000 npm start`), with explicit overrides. */
export function loadSettings(overrides: Partial<AppSettings> = {}, env: Record<string, string | undefined> = process.env): AppSettings {
  return immutableSettings(settingsFromEnv(defaults, env), overrides);
}
