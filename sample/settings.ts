import { settingsFromEnv } from '../src';

/** The sample's settings and their defaults; each can be overridden from the environment. */
export const defaults = {
  DEBUG: false,
  HOST: '127.0.0.1',
  PORT: 8080,
  DEFAULT_LOCALE: 'uk_UA',
  MAX_BODY_SIZE: 64 * 1024,
};

/** The sample's settings type, as controllers receive it with `@inject(SETTINGS)`. */
export type AppSettings = Readonly<typeof defaults>;

/** Settings from the environment (`DEBUG=1 PORT=9000 npm start`). */
export function loadSettings(env: Record<string, string | undefined> = process.env): AppSettings {
  return settingsFromEnv(defaults, env);
}
