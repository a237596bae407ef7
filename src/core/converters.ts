import { RococoError } from './errors';

/**
 * What a route parameter may be: `<id:int>` takes the `int` converter. Its regex finds the
 * value in the path, `parse` decides whether the route matches it (a value it refuses is a
 * 404, as an id too large for its column is in Rails), `format` writes a value back for
 * `app.url()`, and `schema` describes it in the OpenAPI document.
 *
 * @example
 * const date: Converter<string> = {
 *   regex: '\\d{4}-\\d{2}-\\d{2}',
 *   parse: (text) => (Number.isNaN(Date.parse(text)) ? undefined : text),
 *   format: (value) => value,
 *   schema: { type: 'string', format: 'date' },
 * };
 * createApp({ converters: { date }, ... }); // @Get('/archive/<day:date>')
 */
export interface Converter<T = unknown> {
  /** The value's regex source, matched against the whole value (across `/` if it can match one). */
  readonly regex: string;
  /** The value of a matched text, or undefined (or a throw) to refuse it: the route does not match. */
  parse(text: string): T | undefined;
  /** The text of a value, for `app.url()`; throw for a value the route could never match. */
  format(value: T): string;
  /** The parameter's JSON Schema in the OpenAPI document; `{ type: 'string' }` with the regex as `pattern` by default. */
  readonly schema?: Readonly<Record<string, unknown>>;
}

/** Bounds of {@link intConverter}. */
export interface IntConverterOptions {
  /** The smallest value a path may hold (0). A negative one lets paths carry a `-`. */
  min?: number;
  /** The largest value a path may hold (`Number.MAX_SAFE_INTEGER`). */
  max?: number;
}

/**
 * An integer converter with bounds: values outside them do not match (a 404), and `app.url()`
 * refuses them. Register one for ids whose column is smaller than a safe integer.
 *
 * @example
 * // ids of a PostgreSQL `serial` (integer) column: /projects/99999999999 is a 404, not a 500
 * createApp({ converters: { id: intConverter({ min: 1, max: 2 ** 31 - 1 }) }, ... });
 * @Get('/projects/<project_id:id>')
 */
export function intConverter(options: IntConverterOptions = {}): Converter<number> {
  const min = options.min ?? 0;
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  for (const [key, value] of Object.entries({ min, max })) {
    if (!Number.isSafeInteger(value))
      throw new RococoError(
        'ROCOCO_CONVERTER',
        `intConverter: ${key} must be a safe integer, got ${value}`,
      );
  }
  if (min > max)
    throw new RococoError(
      'ROCOCO_CONVERTER',
      `intConverter: min (${min}) is larger than max (${max})`,
    );
  const inRange = (n: number) => Number.isSafeInteger(n) && n >= min && n <= max;
  // Digits are capped: a path of a thousand digits is refused by the regex, never parsed.
  const digits = `[0-9]{1,${String(Math.max(Math.abs(min), Math.abs(max))).length}}`;
  return {
    regex: min < 0 ? `-?${digits}` : digits,
    parse: (text) => {
      const n = Number(text);
      return inRange(n) ? n : undefined;
    },
    format: (value) => {
      if (typeof value !== 'number' || !inRange(value))
        throw new RangeError(`${String(value)} is not an integer from ${min} to ${max}`);
      return String(value);
    },
    schema: { type: 'integer', minimum: min, maximum: max },
  };
}

const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';

function textConverter(
  regex: string,
  schema: Record<string, unknown>,
  normalize = (text: string) => text,
): Converter<string> {
  const whole = new RegExp(`^(?:${regex})$`);
  return {
    regex,
    parse: normalize,
    format: (value) => {
      const text = String(value);
      if (!whole.test(text)) throw new RangeError(`'${text}' does not match ${regex}`);
      return normalize(text);
    },
    schema: { type: 'string', ...schema },
  };
}

/**
 * The converters every app has: `int` (a whole number from 0 to `Number.MAX_SAFE_INTEGER`),
 * `float` (a finite decimal number, `1.5` or `2`), `uuid`, `slug` (letters, digits, `-`, `_`)
 * and `path` (the rest of the path, slashes included).
 */
export const BUILTIN_CONVERTERS: Readonly<Record<string, Converter>> = Object.freeze({
  int: intConverter(),
  float: {
    regex: '[0-9]+(?:\\.[0-9]+)?',
    parse: (text: string) => {
      const n = Number(text);
      return Number.isFinite(n) ? n : undefined;
    },
    format: (value: number) => {
      const text = String(value);
      // Negative, infinite, or in exponent notation (1e21, 1e-7): not a path this route matches.
      if (typeof value !== 'number' || !/^[0-9]+(?:\.[0-9]+)?$/.test(text))
        throw new RangeError(`${text} is not a number this converter writes`);
      return text;
    },
    schema: { type: 'number', minimum: 0 },
  } satisfies Converter<number>,
  uuid: textConverter(UUID, { format: 'uuid' }, (text) => text.toLowerCase()),
  slug: textConverter('[A-Za-z0-9_-]+', { pattern: '^[A-Za-z0-9_-]+$' }),
  path: textConverter('.+', {}),
});

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const CONVERTER_KEYS = ['regex', 'parse', 'format', 'schema'];

/**
 * The built-in converters and an app's own (`createApp({ converters })`), checked once: a
 * name that is not an identifier or shadows a built-in, a regex that does not compile, or a
 * converter without `parse` and `format` stops startup.
 */
export function compileConverters(
  own: Readonly<Record<string, Converter>> = {},
): ReadonlyMap<string, Converter> {
  if (own === null || typeof own !== 'object')
    throw new RococoError(
      'ROCOCO_CONVERTER',
      'createApp: converters must be an object of name: converter',
    );
  const all = new Map<string, Converter>(Object.entries(BUILTIN_CONVERTERS));
  for (const [name, converter] of Object.entries(own)) {
    const where = `createApp: converters: '${name}'`;
    if (!NAME.test(name))
      throw new RococoError(
        'ROCOCO_CONVERTER',
        `${where} is not a valid name (letters, digits, _; not starting with a digit)`,
      );
    if (name in BUILTIN_CONVERTERS)
      throw new RococoError(
        'ROCOCO_CONVERTER',
        `${where} is a built-in converter; give yours another name`,
      );
    if (converter === null || typeof converter !== 'object')
      throw new RococoError(
        'ROCOCO_CONVERTER',
        `${where} must be an object with regex, parse and format`,
      );
    for (const key of Object.keys(converter)) {
      if (!CONVERTER_KEYS.includes(key))
        throw new RococoError(
          'ROCOCO_CONVERTER',
          `${where}: unknown key '${key}' (known: ${CONVERTER_KEYS.join(', ')})`,
        );
    }
    if (typeof converter.regex !== 'string' || converter.regex === '')
      throw new RococoError('ROCOCO_CONVERTER', `${where}: regex must be a non-empty string`);
    try {
      new RegExp(converter.regex);
    } catch (e) {
      throw new RococoError(
        'ROCOCO_CONVERTER',
        `${where}: '${converter.regex}' is not a valid regex (${(e as Error).message})`,
      );
    }
    if (typeof converter.parse !== 'function' || typeof converter.format !== 'function') {
      throw new RococoError('ROCOCO_CONVERTER', `${where}: parse and format must be functions`);
    }
    all.set(name, converter);
  }
  return all;
}

/** Whether a converter takes a text: its parse neither throws nor returns undefined. */
export function accepts(converter: Converter, text: string): boolean {
  try {
    return converter.parse(text) !== undefined;
  } catch {
    return false;
  }
}
