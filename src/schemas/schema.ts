import type { ValidationError, ValidatorOptions } from 'class-validator';
import type { Logger } from 'pino';
import { mediaType } from '../core/body';
import type { Constructor } from '../core/container';
import {
  HTTPError,
  HTTPInternalServerError,
  HTTPUnprocessableEntity,
  HTTPUnsupportedMediaType,
  RococoError,
} from '../core/errors';
import type { Request } from '../core/request';
import { json, Response } from '../core/response';
import type { SchemaOptions } from '../decorators/schema';
import { compileInput, type InputPlan } from './compiled-input';
import { guardDecimalPlaces } from './decimal-places';
import { exposer } from './response-serializer';

/** The keys {@link SchemaOptions} accepts. */
export const SCHEMA_OPTION_KEYS = [
  'request',
  'query',
  'params',
  'response',
  'status',
  'forbidUnknown',
];

/** One field that did not validate: `items[0].name` and what is wrong with it. */
export interface FieldError {
  path: string;
  messages: string[];
}

type Kind = 'number' | 'boolean' | 'date' | 'array' | 'other';

/** How to read strings (query, params, forms) for a class: each property's declared type. */
type Coercion = Map<string, Kind>;

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

// Loaded when the first @Schema is compiled: apps without one never load them (~20 MB).
const validator = () => require('class-validator') as typeof import('class-validator');
const transformer = () => require('class-transformer') as typeof import('class-transformer');
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

/**
 * Compiles a route's `@Schema` once, at startup, into a wrapper of its handler: the input is
 * read, converted and validated before the handler runs (422 with every failing field), and
 * what it returns is serialized through the response class and checked.
 */
export function schemaWrapper(
  options: SchemaOptions,
  methods: readonly string[],
  origin: string,
  app: { debug: boolean; log: Logger },
): (call: (req: Request) => unknown) => (req: Request) => Promise<unknown> {
  for (const key of Object.keys(options)) {
    if (!SCHEMA_OPTION_KEYS.includes(key))
      throw new RococoError(
        'ROCOCO_SCHEMA',
        `${origin}: @Schema: unknown option '${key}' (known: ${SCHEMA_OPTION_KEYS.join(', ')})`,
      );
  }
  const check = (cls: unknown, what: string) => {
    if (cls !== undefined && typeof cls !== 'function')
      throw new RococoError('ROCOCO_SCHEMA', `${origin}: @Schema ${what} must be a class`);
  };
  check(options.request, 'request');
  check(options.query, 'query');
  check(options.params, 'params');
  const responseList = Array.isArray(options.response);
  const responseClass = responseList
    ? (options.response as [Constructor])[0]
    : (options.response as Constructor | undefined);
  check(responseClass, 'response');
  const status = options.status ?? 200;

  const { validate } = validator();
  const { plainToInstance } = transformer();
  const forbidUnknown = options.forbidUnknown === true;
  const inputOf = (cls: Constructor) => ({
    input: inputValidator(cls, forbidUnknown, app.log),
    coercion: coercionOf(cls),
  });
  const request = options.request && inputOf(options.request);
  const query = options.query && inputOf(options.query);
  const params = options.params && inputOf(options.params);
  const bodyFromRequest = methods.some((m) => BODY_METHODS.has(m));
  const checkResponse = responseClass !== undefined && hasValidators(responseClass);

  // instanceToPlain(plainToInstance(...)), compiled where exact (response-serializer.ts).
  const expose = responseClass && exposer(responseClass, true);
  const output = async (value: unknown): Promise<unknown> => {
    if (checkResponse) {
      const cls = responseClass as Constructor;
      const instance = plainToInstance(cls, value, { excludeExtraneousValues: true });
      const items = (Array.isArray(instance) ? instance : [instance]) as object[];
      const errors = (
        await Promise.all(
          items.map((item) =>
            validate(item, { forbidUnknownValues: true, validationError: { target: false } }),
          ),
        )
      ).flat();
      if (errors.length > 0) {
        const fields = flatten(errors);
        app.log.error({ route: origin, errors: fields }, 'the response does not match its @Schema');
        const detail = app.debug
          ? `The response does not match its schema: ${fields.map((f) => `${f.path}: ${f.messages.join(', ')}`).join('; ')}`
          : undefined;
        throw new HTTPInternalServerError(detail);
      }
    }
    return (expose as (value: unknown) => unknown)(value);
  };

  const finish = (result: unknown): unknown =>
    status === 200 ||
    result instanceof Response ||
    result instanceof HTTPError ||
    result === undefined
      ? result
      : json(result, { status });
  const wrap = (call: (req: Request) => unknown) => async (req: Request) => {
    if (params)
      req.validParams = await params.input(
        coerce(clean({ ...req.params }), params.coercion),
        'path',
      );
    if (query)
      req.validQuery = await query.input(coerce(fields(req.query), query.coercion), 'query string');
    if (request) {
      // A compiled class's instance comes at once: awaited only when class-validator ran (each
      // await is a turn of the microtask queue, per request).
      const data =
        bodyFromRequest && BODY_METHODS.has(req.method)
          ? request.input(await readBody(req, request.coercion), 'body')
          : request.input(coerce(fields(req.query), request.coercion), 'query string');
      req.data = data instanceof Promise ? await data : data;
    }
    const out = call(req);
    const result = isThenable(out) ? await out : out;
    if (responseClass === undefined) return finish(result);
    if (result instanceof Response || result instanceof HTTPError) return result;
    if (responseList !== Array.isArray(result)) {
      app.log.error(
        { route: origin },
        `the handler returned ${Array.isArray(result) ? 'a list' : 'one item'} where @Schema declares ${responseList ? 'a list' : 'one item'}`,
      );
      throw new HTTPInternalServerError(
        app.debug
          ? `The response is ${Array.isArray(result) ? 'a list' : 'not a list'}, unlike its schema`
          : undefined,
      );
    }
    return json(await output(result), { status });
  };
  if (params || query || !request || responseClass !== undefined || !bodyFromRequest) return wrap;
  // The common @Schema route, a JSON body in and no response class: the body's promise
  // continued with a plain function, where the async wrapper awaits readBody(), itself async
  // and awaiting req.json(): two turns of the microtask queue less per request, and no async
  // function frames. Everything else (a form, a GET, no JSON type) goes to the wrapper.
  return (call) => {
    const slow = wrap(call);
    const answer = (req: Request): unknown => {
      const out = call(req);
      return isThenable(out) ? Promise.resolve(out).then(finish) : finish(out);
    };
    return (req) => {
      if (!BODY_METHODS.has(req.method) || !isJsonType(mediaType(req.headers['content-type'])))
        return slow(req);
      return req.json().then((body) => {
        const data = request.input(jsonObject(body), 'body');
        if (data instanceof Promise)
          return data.then((valid) => {
            req.data = valid;
            return answer(req);
          });
        req.data = data;
        return answer(req);
      });
    };
  };
}

/**
 * Converts a plain object to an instance of a class and validates it: a 422 listing every
 * failing field. A class `compileInput` compiled is checked by its ajv function; class-validator
 * runs only for the others and for what that function does not accept (so a 422 is always
 * class-validator's own).
 */
function inputValidator(
  cls: Constructor,
  forbidUnknown: boolean,
  log: Logger,
): (plain: Record<string, unknown>, where: string) => object | Promise<object> {
  const { validate } = validator();
  const { plainToInstance } = transformer();
  const validatorOptions: ValidatorOptions = {
    whitelist: true,
    forbidNonWhitelisted: forbidUnknown,
    forbidUnknownValues: true,
    validationError: { target: false, value: false },
  };
  const slow = async (plain: Record<string, unknown>, where: string) => {
    const instance = plainToInstance(cls, clean(plain)) as object;
    const errors = await validate(instance, validatorOptions);
    if (errors.length > 0) {
      throw new HTTPUnprocessableEntity(`The ${where} did not validate`, {
        extensions: { errors: flatten(errors) },
      });
    }
    return instance;
  };
  guardDecimalPlaces(cls);
  const plan = compileInput(cls);
  logPlan(log, cls, plan);
  const fast = plan.compiled;
  if (fast === undefined) return slow;
  return (plain, where) => fast(plain, forbidUnknown) ?? slow(plain, where);
}

const logged = new WeakSet<Constructor>();

/** Once per class, at DEBUG: which path validates it, and why not the compiled one. */
function logPlan(log: Logger, cls: Constructor, plan: InputPlan): void {
  if (logged.has(cls)) return;
  logged.add(cls);
  if (plan.compiled) log.debug(`@Schema input ${cls.name}: compiled (ajv)`);
  else log.debug(`@Schema input ${cls.name}: class-validator (${plan.reason})`);
}

/**
 * The resolver of a `@Body()` or `@Query()` parameter whose type is a class: read, converted
 * and validated as `@Schema({ request })` and `@Schema({ query })` do, compiled once.
 */
export function schemaParam(
  cls: Constructor,
  source: 'body' | 'query',
  log: Logger,
): (req: Request) => Promise<object> {
  const input = inputValidator(cls, false, log);
  const coercion = coercionOf(cls);
  if (source === 'query')
    return async (req) => input(coerce(fields(req.query), coercion), 'query string');
  return async (req) => input(await readBody(req, coercion), 'body');
}

/** The body as a plain object: JSON as sent (never coerced), forms converted like the query. */
async function readBody(req: Request, coercion: Coercion): Promise<Record<string, unknown>> {
  const type = mediaType(req.headers['content-type']);
  if (isJsonType(type)) return jsonObject(await req.json());
  if (type === 'application/x-www-form-urlencoded' || type === 'multipart/form-data') {
    return coerce(fields(await req.form()), coercion);
  }
  if (type === '' && (await req.buffer()).length === 0) return {};
  throw new HTTPUnsupportedMediaType(
    `Send JSON, urlencoded or multipart data, not '${type || 'none'}'`,
  );
}

function isJsonType(type: string): boolean {
  return type === 'application/json' || type.endsWith('+json');
}

/** A parsed JSON body as the object to validate: anything else (a list, a string) is a 422. */
function jsonObject(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new HTTPUnprocessableEntity('The body did not validate', {
      extensions: { errors: [{ path: '', messages: ['The body must be a JSON object.'] }] },
    });
  }
  // not clean()ed here: the compiled path skips those keys, class-validator's cleans first
  return body as Record<string, unknown>;
}

/** A query string or a form as an object: a repeated key becomes a list, a single one a value. */
function fields(source: URLSearchParams | FormData): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null);
  for (const key of new Set(source.keys())) {
    const all = source.getAll(key);
    out[key] = all.length === 1 ? all[0] : all;
  }
  return clean(out);
}

/**
 * Drops `__proto__`, `constructor` and `prototype` keys at every depth: they never reach an
 * instance, whatever a later merge does with it.
 */
function clean<T>(value: T): T {
  if (Array.isArray(value)) {
    for (const item of value) clean(item);
  } else if (value !== null && typeof value === 'object' && !(value instanceof Blob)) {
    for (const key of Object.keys(value)) {
      if (FORBIDDEN_KEYS.has(key)) delete (value as Record<string, unknown>)[key];
      else clean((value as Record<string, unknown>)[key]);
    }
  }
  return value;
}

/** Strings to the declared types: numbers, booleans (true/1/yes/on, false/0/no/off), dates, lists. */
function coerce(plain: Record<string, unknown>, coercion: Coercion): Record<string, unknown> {
  for (const [key, kind] of coercion) {
    const v = plain[key];
    if (v === undefined) continue;
    if (kind === 'array') {
      if (!Array.isArray(v)) plain[key] = [v];
      continue;
    }
    if (typeof v !== 'string') continue;
    if (kind === 'number') {
      const n = Number(v);
      if (v.trim() !== '' && !Number.isNaN(n)) plain[key] = n;
    } else if (kind === 'boolean') {
      const s = v.toLowerCase();
      if (TRUE.has(s)) plain[key] = true;
      else if (FALSE.has(s)) plain[key] = false;
    } else if (kind === 'date') {
      const d = new Date(v);
      if (!Number.isNaN(d.getTime())) plain[key] = d;
    }
  }
  return plain;
}

/** The declared type of each validated property of a class, read once. */
function coercionOf(cls: Constructor): Coercion {
  const coercion: Coercion = new Map();
  const names = new Set(
    validator()
      .getMetadataStorage()
      .getTargetValidationMetadatas(cls, '', true, false)
      .map((m) => m.propertyName),
  );
  for (const name of names) {
    const type = Reflect.getMetadata('design:type', cls.prototype, name);
    const kind: Kind =
      type === Number
        ? 'number'
        : type === Boolean
          ? 'boolean'
          : type === Date
            ? 'date'
            : type === Array
              ? 'array'
              : 'other';
    if (kind !== 'other') coercion.set(name, kind);
  }
  return coercion;
}

function hasValidators(cls: Constructor): boolean {
  return (
    validator().getMetadataStorage().getTargetValidationMetadatas(cls, '', true, false).length > 0
  );
}

/**
 * A value as a response class shows it: only its `@Expose` properties. For a handler that
 * builds its own response (a 201 with a `Location`) and still wants the class's shape.
 *
 * @example
 * return json(serialize(ProjectOut, project), { status: 201, headers: { location } });
 */
export function serialize<T>(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any class, whatever its constructor takes
  cls: new (...args: any[]) => T,
  value: unknown,
): Record<string, unknown> {
  let expose = exposers.get(cls);
  if (!expose) exposers.set(cls, (expose = exposer(cls, false)));
  return expose(value) as Record<string, unknown>;
}

/** serialize()'s compiled walks, one per class, made on first use. */
const exposers = new WeakMap<Function, (value: unknown) => unknown>();

/**
 * class-validator's error tree as a flat list with readable paths (`items[0].name`), each
 * field's messages once: what a 422 lists, and what a form can show next to its fields.
 */
export function flatten(errors: ValidationError[], prefix = ''): FieldError[] {
  const out: FieldError[] = [];
  for (const e of errors) {
    // forbidUnknownValues' error about a nested value that is no instance names no property:
    // it is about the value at the prefix itself.
    const path =
      e.property === undefined
        ? prefix
        : /^\d+$/.test(e.property)
          ? `${prefix}[${e.property}]`
          : prefix
            ? `${prefix}.${e.property}`
            : e.property;
    if (e.constraints) out.push({ path, messages: [...new Set(Object.values(e.constraints))] });
    if (e.children && e.children.length > 0) out.push(...flatten(e.children, path));
  }
  return out;
}

/** What `await` would wait for: a promise, or any object or function with a `then` method. */
function isThenable(value: unknown): boolean {
  return (
    value instanceof Promise ||
    (((value !== null && typeof value === 'object') || typeof value === 'function') &&
      typeof (value as { then?: unknown }).then === 'function')
  );
}
