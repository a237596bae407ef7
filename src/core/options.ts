import { RococoError } from './errors';

/**
 * Checks that `value` is an object of known keys: a typo in an option (`tempaltes`, `dri`)
 * stops startup with `ROCOCO_OPTIONS` naming it, rather than being ignored. For plugins' and
 * the app's own options.
 *
 * @example
 * checkOptions('templates', options, ['dir', 'filters']); // "templates: unknown option 'dri' (known: dir, filters)"
 */
export function checkOptions<T extends object>(
  where: string,
  value: T,
  known: readonly string[],
): T {
  if (value === null || typeof value !== 'object')
    throw new RococoError('ROCOCO_OPTIONS', `${where} must be an object`);
  for (const key of Object.keys(value)) {
    if (!known.includes(key))
      throw new RococoError(
        'ROCOCO_OPTIONS',
        `${where}: unknown option '${key}' (known: ${known.join(', ')})`,
      );
  }
  return value;
}

/**
 * A setting of the app, or `fallback` when it is not set; a value of another type stops
 * startup with `ROCOCO_SETTINGS`. For the settings a plugin reads.
 *
 * @example
 * const url = readSetting(app.settings, 'DATABASE_URL', 'string', '');
 */
export function readSetting<T extends string | number | boolean>(
  settings: { readonly [key: string]: unknown },
  key: string,
  type: 'string' | 'number' | 'boolean',
  fallback: T,
): T {
  const v = settings[key];
  if (v === undefined) return fallback;
  if (typeof v !== type)
    throw new RococoError('ROCOCO_SETTINGS', `${key} must be a ${type}, got ${JSON.stringify(v)}`);
  return v as T;
}
