import { RococoError } from './errors';

/** Deeply read-only view of a settings object. */
export type DeepReadonly<T> = T extends (...args: never[]) => unknown
  ? T
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/**
 * A deep-frozen copy of `defaults` with `overrides` applied (rororo's `immutable_settings`).
 * Overriding a key the defaults do not have throws: a typo must not pass silently.
 *
 * @example
 * const settings = immutableSettings({ DEBUG: false, LOCALE: 'uk_UA' }, { DEBUG: true });
 * settings.DEBUG = false; // TypeError in strict mode: settings never change after startup
 */
export function immutableSettings<T extends object>(
  defaults: T,
  overrides: Partial<T> = {},
): DeepReadonly<T> {
  for (const key of Object.keys(overrides)) {
    if (!Object.prototype.hasOwnProperty.call(defaults, key)) {
      throw new RococoError(
        'ROCOCO_SETTINGS',
        `cannot override '${key}': it is not one of the settings (${Object.keys(defaults).join(', ')})`,
      );
    }
  }
  return deepFreeze(copy({ ...defaults, ...overrides })) as DeepReadonly<T>;
}

/** Options of {@link settingsFromEnv}. */
export interface SettingsFromEnvOptions {
  /** Prefix of the environment variables: `{ prefix: 'APP_' }` reads `APP_DEBUG` for `DEBUG`. */
  prefix?: string;
}

/**
 * Immutable settings whose keys are overridden from the environment, each value coerced to the
 * type of its default: booleans with {@link toBool}, numbers, JSON for objects and arrays.
 * A value that does not convert throws, naming the variable.
 *
 * @example
 * const settings = settingsFromEnv({ DEBUG: false, PORT: 8080 }); // PORT=9000 DEBUG=yes
 */
export function settingsFromEnv<T extends object>(
  defaults: T,
  env: Record<string, string | undefined> = process.env,
  options: SettingsFromEnvOptions = {},
): DeepReadonly<T> {
  const prefix = options.prefix ?? '';
  const overrides: Record<string, unknown> = {};
  for (const [key, def] of Object.entries(defaults)) {
    const name = prefix + key;
    const raw = env[name];
    if (raw === undefined) continue;
    try {
      overrides[key] = coerce(raw, def);
    } catch (e) {
      throw new RococoError(
        'ROCOCO_SETTINGS',
        `environment variable ${name}: ${(e as Error).message}`,
      );
    }
  }
  return immutableSettings(defaults, overrides as Partial<T>);
}

const TRUE = new Set(['1', 'true', 'yes', 'on', 'y', 't']);
const FALSE = new Set(['0', 'false', 'no', 'off', 'n', 'f', '']);

/**
 * A boolean from text, as rororo's `to_bool`: 1/true/yes/on/y/t and 0/false/no/off/n/f/empty
 * (any case, spaces trimmed); anything else throws rather than guess.
 */
export function toBool(value: string | boolean | number): boolean {
  if (typeof value === 'boolean') return value;
  const v = String(value).trim().toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw new TypeError(`'${value}' is not a boolean (use 1/true/yes/on or 0/false/no/off)`);
}

function coerce(raw: string, def: unknown): unknown {
  switch (typeof def) {
    case 'boolean':
      return toBool(raw);
    case 'number': {
      const n = Number(raw);
      if (raw.trim() === '' || Number.isNaN(n)) throw new TypeError(`'${raw}' is not a number`);
      return n;
    }
    case 'object':
      if (def === null) return raw;
      try {
        const parsed: unknown = JSON.parse(raw);
        if (
          Array.isArray(def) !== Array.isArray(parsed) ||
          typeof parsed !== 'object' ||
          parsed === null
        ) {
          throw new TypeError(`expected JSON ${Array.isArray(def) ? 'array' : 'object'}`);
        }
        return parsed;
      } catch (e) {
        throw new TypeError(
          `'${raw}' is not ${Array.isArray(def) ? 'a JSON array' : 'a JSON object'} (${(e as Error).message})`,
          { cause: e },
        );
      }
    default:
      return raw;
  }
}

/** Copies plain objects and arrays so freezing never touches the caller's objects. */
function copy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(copy);
  if (
    value !== null &&
    typeof value === 'object' &&
    Object.getPrototypeOf(value) === Object.prototype
  ) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = copy(v);
    return out;
  }
  return value;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
