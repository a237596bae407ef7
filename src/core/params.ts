import type { Converter } from './converters';
import { HTTPBadRequest, HTTPNotFound, RococoError } from './errors';
import type { ParamMeta } from './metadata';
import type { Request } from './request';

/**
 * A handler parameter as plugins see it while a route is built: what its decorator recorded,
 * its declared type (`design:paramtypes`), and how its value is read. A plugin that handles a
 * parameter (the schemas plugin: a `@Body()` of a schema class) sets `resolve` and claims it.
 */
export interface RouteParam extends Readonly<ParamMeta> {
  readonly index: number;
  /** The declared type: `Number`, `String`, a class... (`Object` for `unknown` and interfaces). */
  readonly type: unknown;
  /** How the value is read; set by the kernel for what it knows, or by a plugin. */
  resolve: ((req: Request) => unknown) | undefined;
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);
/** Types a value of the query string, a header or the path converts to. */
const SCALARS: ReadonlySet<unknown> = new Set([String, Number, Boolean, Date, Object, Array]);

/** Whether a declared type is a class of the user's (a schema), not a built-in. */
export function isUserClass(type: unknown): boolean {
  return (
    typeof type === 'function' &&
    !SCALARS.has(type) &&
    type !== Buffer &&
    type !== URLSearchParams &&
    type !== Promise &&
    type !== Function
  );
}

/**
 * The parameters of a handler, with the kernel's resolvers; null for a handler that declares
 * none (it is called with the request, as always). A parameter without a decorator, or a
 * decorator that reads what the route does not have, stops startup.
 */
export function routeParams(
  metas: readonly ParamMeta[],
  types: readonly unknown[] | undefined,
  pathParams: ReadonlyMap<string, Converter | null>,
  origin: string,
): RouteParam[] | null {
  if (metas.length === 0) return null;
  const out: RouteParam[] = [];
  const count = Math.max(metas.length, types?.length ?? 0);
  for (let index = 0; index < count; index++) {
    const meta = metas[index];
    if (meta === undefined)
      throw new RococoError(
        'ROCOCO_PARAM',
        `${origin}: parameter ${index + 1} has no decorator; a handler that declares one declares all (@Req() for the request)`,
      );
    const type = types?.[index];
    out.push({ ...meta, index, type, resolve: kernelResolver(meta, type, pathParams, origin) });
  }
  return out;
}

function kernelResolver(
  meta: ParamMeta,
  type: unknown,
  pathParams: ReadonlyMap<string, Converter | null>,
  origin: string,
): ((req: Request) => unknown) | undefined {
  const name = meta.name as string;
  switch (meta.source) {
    case 'req':
      return (req) => req;
    case 'custom':
      return meta.resolve;
    case 'param': {
      if (!pathParams.has(name))
        throw new RococoError(
          'ROCOCO_PARAM',
          `${origin}: ${meta.label}: the route's pattern has no parameter '${name}' (it has ${[...pathParams.keys()].map((k) => `'${k}'`).join(', ') || 'none'})`,
        );
      const converter = pathParams.get(name) ?? null;
      // The router ran the converter's parse to match: its value is defined here.
      if (converter !== null) return (req) => converter.parse(req.params[name]);
      const convert = converterOf(type, meta, origin);
      if (convert === null) return (req) => req.params[name];
      return (req) => {
        const value = convert(req.params[name]);
        if (value === undefined) throw new HTTPNotFound();
        return value;
      };
    }
    case 'query': {
      if (name === undefined) return isUserClass(type) ? undefined : (req) => req.query;
      if (type === Array) return (req) => present(meta, req.query.getAll(name), 'query parameter');
      return scalar(meta, type, origin, 'query parameter', (req) => req.query.get(name));
    }
    case 'header':
      return scalar(meta, type, origin, 'header', (req) => {
        const v = req.headers[name];
        return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
      });
    case 'body':
      if (isUserClass(type)) return undefined;
      if (type === String) return (req) => req.text();
      if (type === Buffer) return (req) => req.buffer();
      return (req) => req.json();
  }
}

/** A query parameter's or header's resolver: missing is a 400 unless optional; converted by type. */
function scalar(
  meta: ParamMeta,
  type: unknown,
  origin: string,
  what: string,
  read: (req: Request) => string | null,
): (req: Request) => unknown {
  const convert = converterOf(type, meta, origin);
  return (req) => {
    const text = read(req);
    if (text === null) return missing(meta, what);
    if (convert === null) return text;
    const value = convert(text);
    if (value === undefined)
      throw badValue(meta, what, `must be ${type === Date ? 'a date' : `a ${nameOf(type)}`}`);
    return value;
  };
}

function present(meta: ParamMeta, values: string[], what: string): unknown {
  return values.length === 0 ? missing(meta, what) : values;
}

function missing(meta: ParamMeta, what: string): unknown {
  if (meta.optional) return meta.default;
  throw badValue(meta, what, 'is required');
}

function badValue(meta: ParamMeta, what: string, message: string): HTTPBadRequest {
  return new HTTPBadRequest(`The ${what} '${meta.name}' ${message}`, {
    extensions: { errors: [{ path: meta.name, messages: [`${meta.name} ${message}`] }] },
  });
}

const nameOf = (type: unknown) => (type === Number ? 'number' : 'boolean');

/**
 * Text to the declared type, undefined for text that does not convert; null when the text is
 * kept as it is (`string`, untyped).
 */
function converterOf(
  type: unknown,
  meta: ParamMeta,
  origin: string,
): ((text: string) => unknown) | null {
  if (type === Number)
    return (text) => {
      const n = Number(text);
      return text.trim() === '' || !Number.isFinite(n) ? undefined : n;
    };
  if (type === Boolean)
    return (text) => {
      const s = text.toLowerCase();
      return TRUE.has(s) ? true : FALSE.has(s) ? false : undefined;
    };
  if (type === Date)
    return (text) => {
      const d = new Date(text);
      return Number.isNaN(d.getTime()) ? undefined : d;
    };
  if (type === undefined || type === String || type === Object) return null;
  throw new RococoError(
    'ROCOCO_PARAM',
    `${origin}: ${meta.label}: a ${meta.source === 'param' ? 'path parameter' : meta.source} converts to string, number, boolean or Date${meta.source === 'query' ? ' (or string[] for a repeated key)' : ''}, not ${typeof type === 'function' ? type.name : String(type)}`,
  );
}

/**
 * Calls the handler with its parameters' values, in one pass: synchronously when every value
 * is at hand, after them when some is a promise (a body).
 */
export function invoker(
  fn: (...args: unknown[]) => unknown,
  instance: object,
  resolvers: readonly ((req: Request) => unknown)[],
): (req: Request) => unknown {
  const n = resolvers.length;
  if (n === 1) {
    const only = resolvers[0];
    return (req) => {
      const v = only(req);
      return v instanceof Promise ? v.then((x) => fn.call(instance, x)) : fn.call(instance, v);
    };
  }
  return (req) => {
    const args = new Array<unknown>(n);
    let waiting: Promise<unknown>[] | null = null;
    for (let i = 0; i < n; i++) {
      const v = resolvers[i](req);
      if (v instanceof Promise) (waiting ??= []).push(v.then((x) => (args[i] = x)));
      else args[i] = v;
    }
    if (waiting === null) return fn.apply(instance, args);
    return Promise.all(waiting).then(() => fn.apply(instance, args));
  };
}
