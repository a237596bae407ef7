import type { MetadataStorage as TransformerStorage } from 'class-transformer/types/MetadataStorage';
import type { Constructor } from '../core/container';
import type { RouteSerializer } from '../core/plugin';

// A @Schema route's handler most often returns the instance it was given (`req.data`), nested
// class instances inside. JSON.stringify leaves its fast path at each of them (V8's fast path
// takes plain objects only: a class instance makes it look up toJSON and walk slowly), where
// Fastify writes with the code fast-json-stringify generated from its response schema.
//
// Here, one function per class generated at startup writes an instance: its own enumerable
// keys in order (Object.keys, as JSON.stringify), each known key read by its name (one shape,
// where a generic loop's `o[key]` is a megamorphic load), its value written by type. Unlike
// fast-json-stringify it relies on no schema: a value of any type is written as JSON.stringify
// writes it (a handler may return anything, or change req.data), the schema only chooses which
// writer is tried first. What it cannot write exactly and cheaply, it gives up on (BAIL) and
// the kernel calls JSON.stringify on the whole value: an object with a toJSON (own or
// inherited; JSON.stringify passes it its key), a BigInt, a nesting deeper than MAX_DEPTH
// (a cycle, whose error JSON.stringify then throws). Other objects (a Map, a plain object, an
// instance of another class) without toJSON are written by JSON.stringify itself, which gives
// the same text inside as alone. A getter is read as JSON.stringify reads it, and is read
// again if the writer gives up later on: a getter that answers differently each time may then
// give another text than the first reading would have.

/** What a writer returns when JSON.stringify must write the whole value. */
const BAIL = null;
type Written = string | undefined | typeof BAIL;
type Writer = (o: object, depth: number) => Written;

/** Deeper than this, JSON.stringify decides (a cycle is then its error). */
const MAX_DEPTH = 64;

/** Longer strings are quoted by JSON.stringify at once (its C++ scan beats a JS loop). */
const SHORT = 128;

// One regular-expression test, not a charCodeAt loop: each charCodeAt was a generic property
// load (the access line measured ~140 instructions a character; called through a constant
// String.prototype.charCodeAt, ~360 a short string, no better than this test). Without the u
// flag the surrogate range matches each code unit, paired or lone.
const ESCAPED = /[\u0000-\u001f"\\\ud800-\udfff]/;

/**
 * Whether JSON.stringify writes `s` as it is between quotes: short (longer strings are
 * quoted by JSON.stringify at once, its C++ scan beats this), and nothing it escapes (`"`,
 * `\`, control characters) nor a surrogate (a lone one is written as `\udXXX`).
 */
export function bare(s: string): boolean {
  return s.length <= SHORT && !ESCAPED.test(s);
}

/** A string's JSON: as is between quotes when {@link bare}, else JSON.stringify's own. */
export function quote(s: string): string {
  return bare(s) ? '"' + s + '"' : JSON.stringify(s);
}

/** A number's JSON: JSON.stringify writes Number::toString, and null for NaN and ±Infinity. */
function num(n: number): string {
  return Number.isFinite(n) ? '' + n : 'null';
}

/**
 * Any value, as JSON.stringify writes it inside an object: undefined where the key is left out
 * (undefined, a function, a symbol), BAIL where the whole value must go to JSON.stringify.
 */
function any(v: unknown, depth: number): Written {
  switch (typeof v) {
    case 'string':
      return quote(v);
    case 'number':
      return num(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object':
      if (v === null) return 'null';
      if ((v as { toJSON?: unknown }).toJSON !== undefined) return BAIL;
      if (Array.isArray(v)) return list(v, depth, any);
      // No toJSON here: JSON.stringify(v) is v's text inside the whole one too.
      return JSON.stringify(v);
    case 'bigint':
      return BAIL; // JSON.stringify throws: let it, on the whole value
    default:
      return undefined;
  }
}

/** An array: each item by `item`, null for what an object leaves out (and for holes). */
function list(
  a: readonly unknown[],
  depth: number,
  item: (v: unknown, depth: number) => Written,
): Written {
  if (depth > MAX_DEPTH) return BAIL;
  const n = a.length;
  if (n === 0) return '[]';
  let out = '';
  for (let i = 0; i < n; i++) {
    const s = item(a[i], depth + 1);
    if (s === BAIL) return BAIL;
    const t = s === undefined ? 'null' : s;
    out = i === 0 ? '[' + t : out + (',' + t);
  }
  return out + ']';
}

/** Whether JSON.stringify or the kernel would treat instances of `cls` otherwise than their keys. */
function special(cls: Constructor): boolean {
  for (let p: unknown = cls.prototype; p !== null; p = Object.getPrototypeOf(p)) {
    if (Object.hasOwn(p as object, 'toJSON') || Object.hasOwn(p as object, 'toResponse'))
      return true;
  }
  return false;
}

let storage:
  | {
      properties(cls: Constructor): string[];
      transforms: TransformerStorage;
    }
  | undefined;

function metadata(): NonNullable<typeof storage> {
  if (storage) return storage;
  const cv = require('class-validator') as typeof import('class-validator');
  const rules = cv.getMetadataStorage();
  storage = {
    properties: (cls) =>
      Object.keys(
        rules.groupByPropertyName(
          rules.getTargetValidationMetadatas(cls, '', false, false, undefined),
        ),
      ),
    transforms: (
      require('class-transformer/cjs/storage') as { defaultMetadataStorage: TransformerStorage }
    ).defaultMetadataStorage,
  };
  return storage;
}

/** The class a `@Type(() => X)` property holds (or holds arrays of), if it is one. */
function nestedClass(cls: Constructor, key: string): Constructor | undefined {
  const type = metadata().transforms.findTypeMetadata(cls, key);
  if (!type?.typeFunction || type.options?.discriminator) return undefined;
  let target: unknown;
  try {
    target = type.typeFunction({ newObject: {}, object: {}, property: key });
  } catch {
    return undefined;
  }
  if (
    typeof target !== 'function' ||
    ([String, Number, Boolean, Date, Object, Array, Map, Set] as unknown[]).includes(target)
  )
    return undefined;
  return target as Constructor;
}

/**
 * The writers of `roots` and of the classes they nest (`@Type`), generated once per class: a
 * `switch` on each own key, a case per decorated property with the writer its type suggests
 * tried first, any other key written by {@link any}.
 */
function writers(roots: Constructor[]): Map<Constructor, Writer> {
  const classes: Constructor[] = [];
  const visit = (cls: Constructor) => {
    if (classes.includes(cls) || special(cls)) return;
    classes.push(cls);
    for (const key of metadata().properties(cls)) {
      const inner = nestedClass(cls, key);
      if (inner) visit(inner);
    }
  };
  roots.forEach(visit);
  const table: Writer[] = [];
  const items: ((v: unknown, depth: number) => Written)[] = classes.map(
    (cls, i) => (v, depth) =>
      v !== null && typeof v === 'object' && v.constructor === cls
        ? table[i](v, depth)
        : any(v, depth),
  );
  classes.forEach((cls) => {
    const cases = metadata()
      .properties(cls)
      .map((key) => {
        const k = JSON.stringify(key);
        const inner = nestedClass(cls, key);
        const j = inner === undefined ? -1 : classes.indexOf(inner);
        // The key with the comma before it (or the brace, first) as one constant: each `+` is
        // a StringAdd and, past 12 characters, one more node of the rope the kernel flattens.
        const head = JSON.stringify('{' + k + ':');
        const next = JSON.stringify(',' + k + ':');
        if (j < 0)
          // A string that needs no escaping: its opening quote in the constant, its closing one
          // added to it (short: copied flat, not a rope node).
          return `case ${k}: {
          const v = o[${k}];
          if (typeof v === 'string' && bare(v)) {
            out = out.length === 0 ? ${JSON.stringify('{' + k + ':"')} + (v + '"') : out + (${JSON.stringify(',' + k + ':"')} + (v + '"'));
            continue;
          }
          const s = typeof v === 'number' ? num(v) : any(v, depth);
          if (s === undefined) continue;
          if (s === null) return null;
          out = out.length === 0 ? ${head} + s : out + (${next} + s);
          continue;
        }`;
        return `case ${k}: {
          const v = o[${k}];
          const s = v !== null && typeof v === 'object' && v.constructor === classes[${j}] ? table[${j}](v, depth)
            : Array.isArray(v) && v.toJSON === undefined ? list(v, depth, items[${j}]) : any(v, depth);
          if (s === undefined) continue;
          if (s === null) return null;
          out = out.length === 0 ? ${head} + s : out + (${next} + s);
          continue;
        }`;
      });
    // Generated once per class at startup, from its property names (JSON-quoted).
    const make = new Function(
      'classes',
      'table',
      'items',
      'quote',
      'num',
      'any',
      'list',
      'MAX_DEPTH',
      'bare',
      `return function write(o, depth) {
        if (depth > MAX_DEPTH || o.toJSON !== undefined) return null;
        depth++;
        const keys = Object.keys(o);
        let out = '';
        for (let i = 0; i < keys.length; i++) {
          const key = keys[i];
          switch (key) {
            ${cases.join('\n')}
          }
          const s = any(o[key], depth);
          if (s === undefined) continue;
          if (s === null) return null;
          out += (out.length === 0 ? '{' : ',') + quote(key) + ':' + s;
        }
        return out.length === 0 ? '{}' : out + '}';
      }`,
    );
    table.push(make(classes, table, items, quote, num, any, list, MAX_DEPTH, bare) as Writer);
  });
  return new Map(classes.map((cls, i) => [cls, table[i]]));
}

/**
 * A route's JSON writer for instances of `roots` (a @Schema route's request, query and params
 * classes), exactly JSON.stringify's text; undefined for any other value, for what it gives up
 * on, and when none of the classes can be written (a toJSON in its prototype chain).
 *
 * @example
 * route.serialize = jsonWriter([CreateOrder]);
 */
export function jsonWriter(roots: Constructor[]): RouteSerializer | undefined {
  const table = writers(roots);
  const entries = roots.flatMap((cls) => {
    const w = table.get(cls);
    return w ? [[cls, w] as const] : [];
  });
  if (entries.length === 0) return undefined;
  // A route has three input classes at most (body, query, params): compared, not looked up.
  const [[c0, w0], [c1, w1] = entries[0], [c2, w2] = entries[0]] = entries;
  const more = entries.length > 3 ? new Map(entries) : undefined;
  return (value) => {
    const c = value.constructor;
    const w = c === c0 ? w0 : c === c1 ? w1 : c === c2 ? w2 : more?.get(c as Constructor);
    // An own toResponse: the kernel's toResponse() calls it.
    if (w === undefined || (value as { toResponse?: unknown }).toResponse !== undefined)
      return undefined;
    try {
      return w(value, 0) ?? undefined;
    } catch {
      return undefined; // JSON.stringify meets the same (a throwing getter) and says it
    }
  };
}
