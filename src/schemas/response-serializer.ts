import type { ClassTransformOptions } from 'class-transformer';
import type { MetadataStorage } from 'class-transformer/types/MetadataStorage';
import type { Constructor } from '../core/container';

// What `@Schema({ response })` and `serialize()` do to a value is
// `instanceToPlain(plainToInstance(cls, value, { excludeExtraneousValues: true }))`: two walks
// of class-transformer's generic executor, which looks every decorator up in its metadata store
// at every property of every object. For a class whose metadata can be reproduced exactly, the
// same result is built by a function generated once, at startup: one property read per exposed
// property, the same conversions, the same keys in the same order. What it cannot reproduce is
// found either at startup (the class falls back to class-transformer for good) or per value (a
// Map, a Set, a Buffer, a promise, a function, an instance of some class where no @Type names
// one: that value goes through class-transformer, from the start).
//
// Why not fast-json-stringify (Fastify's serializer): it writes each property as its schema
// says, and nothing here says what a property holds at run time (class-transformer converts
// nothing without a @Type): an `id` declared a number may be a string, NaN (fast-json-stringify
// throws), a bigint or an object; a string under a date-time is written without escaping; an
// invalid Date throws. Exact, it needs a type check of every value before it, and a fallback.
// Measured on 20 nested objects with a date each (Node 20, a busy machine, so roughly): the
// compiled walk + JSON.stringify ~24 us, fast-json-stringify with a typed schema (not exact)
// ~19 us, with untyped properties (each value through JSON.stringify, exact) ~41 us;
// class-transformer + JSON.stringify ~260 us. A few us per 20 objects at best, for a guard
// pass, a second code path and a dependency (with ajv): not taken. What did pay: writing dates
// as their JSON in the walk (see dateJSON()): with Date objects in it, JSON.stringify alone
// took ~35 us.

/** Thrown by compiled code at a value it does not reproduce: class-transformer takes the value. */
const FALLBACK = Symbol('fallback to class-transformer');

const OPTIONS: ClassTransformOptions = { excludeExtraneousValues: true };
const PLAIN_TO_CLASS = 0;
const CLASS_TO_PLAIN = 1;
const RESERVED = new Set(['__proto__', 'constructor']);

const transformer = () => require('class-transformer') as typeof import('class-transformer');
const storage = () =>
  (require('class-transformer/cjs/storage') as { defaultMetadataStorage: MetadataStorage })
    .defaultMetadataStorage;

/** What a property's `@Type` makes of its values. */
type Kind = 'any' | 'string' | 'number' | 'boolean' | 'date' | Plan;

interface Field {
  /** The key read from the value (the `@Expose({ name })`, else the property). */
  name: string;
  kind: Kind;
}

interface Plan {
  cls: Constructor;
  index: number;
  /** In the order class-transformer reads them. */
  fields: Field[];
  /**
   * The output's keys in their order (a fresh instance's own keys first), each with its field,
   * or none: an own key of an instance that no @Expose names, always undefined.
   */
  output: Map<string, Field | undefined>;
}

const SCALARS = new Map<unknown, Kind>([
  [String, 'string'],
  [Number, 'number'],
  [Boolean, 'boolean'],
  [Date, 'date'],
]);

/** Built-in types `@Type`'s reflected type may name where class-transformer makes `[]` of it. */
const LIST_SAFE = new Set<unknown>([undefined, Array, Object, String, Number, Boolean, Date]);

/**
 * Keys of a nested plain object that class-transformer never copies: it skips a key whose
 * property on the object it builds (`{}`) is a method or a getter without a setter.
 */
const SKIPPED_PLAIN_KEYS = new Set<string>(RESERVED);
for (const key of Object.getOwnPropertyNames(Object.prototype)) {
  const descriptor = Object.getOwnPropertyDescriptor(Object.prototype, key);
  const probe = {} as Record<string, unknown>;
  if ((descriptor && !descriptor.set) || probe[key] instanceof Function)
    SKIPPED_PLAIN_KEYS.add(key);
}

/**
 * The plan of a class, or why class-transformer must keep it: only `@Expose()` properties
 * (renamed or not), `@Type(() => X)` of String, Number, Boolean, Date or another such class,
 * nothing else of class-transformer's.
 */
function planOf(cls: unknown, plans: Map<Constructor, Plan>): Plan | string {
  if (typeof cls !== 'function' || cls.prototype?.constructor !== cls) return 'not a class';
  // A built-in (Map, Set, Buffer, Promise...) or a class extending one: class-transformer treats
  // several of them apart.
  for (let c: unknown = cls; c !== Function.prototype && c !== null; c = Object.getPrototypeOf(c))
    if (/\{\s*\[native code\]\s*\}\s*$/.test(Function.prototype.toString.call(c)))
      return `${(cls as Function).name} is or extends a built-in class`;
  const done = plans.get(cls as Constructor);
  if (done) return done;
  const meta = storage();
  const target = cls as Constructor;
  if (meta.getStrategy(target) !== 'none') return 'a class-level @Expose or @Exclude';
  if (meta.getExcludedMetadatas(target).length > 0) return 'an @Exclude';
  for (const m of meta.getExposedMetadatas(target)) {
    const keys = Object.keys(m.options ?? {}).filter(
      (k) => (m.options as Record<string, unknown>)[k] !== undefined,
    );
    if (keys.some((k) => k !== 'name')) return `@Expose(${keys.join(', ')}) on ${m.propertyName}`;
  }
  let instance: Record<string, unknown>;
  try {
    instance = new (target as new () => Record<string, unknown>)();
  } catch {
    return 'its constructor throws without arguments';
  }
  const own = Object.keys(instance);

  const unique = <T>(list: T[]) => [...new Set(list)];
  const nameOf = (property: string) => meta.findExposeMetadata(target, property)?.options?.name;
  // What plainToInstance reads (custom names) and which property each fills.
  const readKeys = unique(
    meta.getExposedProperties(target, PLAIN_TO_CLASS).map((p) => nameOf(p) || p),
  );
  const written = unique(meta.getExposedProperties(target, CLASS_TO_PLAIN));
  if (readKeys.length !== written.length) return 'two properties share a name';
  const plan: Plan = { cls: target, index: plans.size, fields: [], output: new Map() };
  plans.set(target, plan);
  const byProperty = new Map<string, Field>();
  for (const key of readKeys) {
    const property = meta.findExposeMetadataByCustomName(target, key)?.propertyName ?? key;
    if ((nameOf(property) || property) !== key) return `'${key}' names two properties`;
    if (RESERVED.has(key) || RESERVED.has(property)) return `a property named ${key}`;
    // class-transformer skips a property that is a method, a getter, or a function set by the
    // constructor; it overwrites any other value the constructor set, with undefined if need be.
    if (
      property in instance &&
      !(own.includes(property) && typeof instance[property] !== 'function')
    )
      return `${property} is a method or an accessor`;
    for (const type of [PLAIN_TO_CLASS, CLASS_TO_PLAIN])
      if (meta.findTransformMetadatas(target, property, type).length > 0)
        return `a @Transform on ${property}`;
    const kind = kindOf(target, property, plans);
    if (typeof kind === 'string') return kind;
    const field: Field = { name: key, kind: kind.kind };
    plan.fields.push(field);
    byProperty.set(property, field);
  }
  for (const property of written)
    if (!byProperty.has(property)) return `${property} is read under another name`;
  for (const key of own) {
    if (meta.findTransformMetadatas(target, key, CLASS_TO_PLAIN).length > 0)
      return `a @Transform on ${key}`;
    // instanceToPlain copies every own key, @Expose or not: a default would leak out.
    if (!byProperty.has(key) && instance[key] !== undefined)
      return `a fresh instance has a value in ${key}`;
  }
  // instanceToPlain sets every key, undefined or not, in this order; a later key of the same
  // name (a property renamed to an unexposed field's name) overwrites the value in place.
  for (const property of unique([...own, ...written])) {
    const field = byProperty.get(property);
    plan.output.set(field ? field.name : property, field);
  }
  return plan;
}

/** What a property's `@Type` makes of it, or why it cannot be compiled. */
function kindOf(
  target: Constructor,
  property: string,
  plans: Map<Constructor, Plan>,
): { kind: Kind } | string {
  const type = storage().findTypeMetadata(target, property);
  if (!type) return { kind: 'any' };
  if (type.options && Object.values(type.options).some((v) => v !== undefined))
    return `@Type options on ${property}`;
  // A type function that reads its argument may pick a class per value.
  if (typeof type.typeFunction !== 'function' || type.typeFunction.length > 0)
    return `@Type on ${property} takes an argument`;
  const cls = type.typeFunction();
  // plainToInstance builds a list as `new reflectedType()` when that has a `push`.
  const reflected = type.reflectedType as unknown;
  const scalar = SCALARS.get(cls);
  const nested = scalar ? undefined : planOf(cls, plans);
  if (typeof nested === 'string') return `${property}: ${nested}`;
  if (!LIST_SAFE.has(reflected)) {
    const listType = planOf(reflected, plans);
    if (typeof listType === 'string') return `${property}'s declared type`;
    const made = new (reflected as new () => object)();
    if (made instanceof Set || made instanceof Map || 'push' in made)
      return `${property}'s declared type`;
  }
  return { kind: scalar ?? (nested as Plan) };
}

/** The compiled walk of a class, or why there is none. */
function compile(cls: Constructor, forJSON: boolean): ((value: unknown) => unknown) | string {
  const plans = new Map<Constructor, Plan>();
  const plan = planOf(cls, plans);
  if (typeof plan === 'string') return plan;
  const lines: string[] = [];
  for (const p of plans.values()) {
    const body: string[] = [
      `function c${p.index}(v) {`,
      `  if (typeof v !== 'object' || v === null) { if (typeof v === 'function') throw FALLBACK; return v; }`,
      `  if (Array.isArray(v)) return list(v, c${p.index});`,
      `  const proto = getPrototypeOf(v);`,
      `  if (proto !== OP && proto !== null) {`,
      `    if (v instanceof Set || v instanceof Map) throw FALLBACK;`,
      `    if (v instanceof Date) return dated(new Date(v.valueOf()));`,
      `    if (v instanceof Buffer) throw FALLBACK;`,
      `  }`,
      `  if (typeof v.then === 'function') throw FALLBACK;`,
    ];
    p.fields.forEach((f, i) => {
      const read = `v[${JSON.stringify(f.name)}]`;
      if (f.kind === 'any')
        body.push(
          `  let a${i} = ${read};`,
          `  if (typeof a${i} === 'object' ? a${i} !== null : typeof a${i} === 'function') a${i} = any(a${i});`,
        );
      else if (f.kind === 'string')
        body.push(`  let a${i} = ${read};`, `  if (typeof a${i} !== 'string') a${i} = str(a${i});`);
      else if (f.kind === 'number')
        body.push(`  let a${i} = ${read};`, `  if (typeof a${i} !== 'number') a${i} = num(a${i});`);
      else if (f.kind === 'boolean')
        body.push(
          `  let a${i} = ${read};`,
          `  if (typeof a${i} !== 'boolean') a${i} = bool(a${i});`,
        );
      else if (f.kind === 'date') body.push(`  const a${i} = date(${read});`);
      else body.push(`  const a${i} = c${f.kind.index}(${read});`);
    });
    // One object literal: one hidden class for every value it makes.
    const entries = [...p.output].map(
      ([key, f]) => `${JSON.stringify(key)}: ${f ? `a${p.fields.indexOf(f)}` : 'undefined'}`,
    );
    body.push(`  return { ${entries.join(', ')} };`, '}');
    lines.push(body.join('\n'));
  }
  const source = `'use strict';\n${lines.join('\n')}\nreturn c${plan.index};`;
  const helpers = forJSON ? JSON_HELPERS : PLAIN_HELPERS;
  const factory = new Function(...Object.keys(helpers), source) as (
    ...helpers: unknown[]
  ) => (value: unknown) => unknown;
  return factory(...Object.values(helpers));
}

const ARRAY_FOR_EACH = Array.prototype.forEach;

/** A list as class-transformer walks it: `forEach`, so holes are dropped. */
function list(a: unknown[], each: (item: unknown) => unknown): unknown[] {
  if (a.forEach !== ARRAY_FOR_EACH) throw FALLBACK;
  const out: unknown[] = [];
  const n = a.length;
  for (let i = 0; i < n; i++) {
    const item = a[i];
    if (item === undefined && !(i in a)) continue;
    out.push(each(item));
  }
  return out;
}

/** A value under a property without `@Type`: primitives as they are, plain objects copied whole. */
function anyOf(dated: (d: Date) => unknown): (v: unknown) => unknown {
  const any = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null) {
      if (typeof v === 'function') throw FALLBACK;
      return v;
    }
    if (Array.isArray(v)) return list(v, any);
    if (v instanceof Date) return dated(new Date(v.valueOf()));
    const proto = Object.getPrototypeOf(v);
    const plain =
      proto === Object.prototype
        ? v.constructor === Object
        : proto === null && v.constructor === undefined;
    // Another class: class-transformer builds an instance of it (running its constructor).
    if (!plain || typeof (v as { then?: unknown }).then === 'function') throw FALLBACK;
    const o: Record<string, unknown> = {};
    for (const key of Object.keys(v)) {
      if (SKIPPED_PLAIN_KEYS.has(key)) continue;
      o[key] = any((v as Record<string, unknown>)[key]);
    }
    return o;
  };
  return any;
}

function scalar(convert: (v: unknown) => unknown): (v: unknown) => unknown {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return list(v, walk);
    if (v instanceof Set || v instanceof Map) throw FALLBACK;
    return v === null || v === undefined ? v : convert(v);
  };
  return walk;
}

/**
 * A date as JSON.stringify writes it (Date.prototype.toJSON): its ISO string, or null when it
 * is invalid. Written so, the object holds no Date: JSON.stringify leaves its fast path at
 * every object with a toJSON, and 20 dates in a list tripled its time.
 */
function dateJSON(d: Date): string | null {
  const time = d.getTime();
  return time === time ? d.toISOString() : null;
}

function helpers(dated: (d: Date) => unknown) {
  return {
    FALLBACK,
    OP: Object.prototype,
    getPrototypeOf: Object.getPrototypeOf,
    Buffer,
    dated,
    list,
    any: anyOf(dated),
    str: scalar(String),
    num: scalar(Number),
    bool: scalar(Boolean),
    date: scalar((v) => dated(v instanceof Date ? new Date(v.valueOf()) : new Date(v as string))),
  };
}

const PLAIN_HELPERS = helpers((d) => d);
const JSON_HELPERS = helpers(dateJSON);

/**
 * `instanceToPlain(plainToInstance(cls, value, { excludeExtraneousValues: true }))`, compiled
 * at startup where that is exact, else class-transformer's. `forJSON`: for JSON.stringify
 * only, so dates are already their JSON (an ISO string or null), the same text it writes.
 */
export function exposer(cls: Constructor, forJSON: boolean): (value: unknown) => unknown {
  const { plainToInstance, instanceToPlain } = transformer();
  const slow = (value: unknown) => instanceToPlain(plainToInstance(cls, value, OPTIONS));
  const compiled = compile(cls, forJSON);
  if (typeof compiled === 'string') return slow;
  return (value) => {
    try {
      return compiled(value);
    } catch (e) {
      if (e === FALLBACK) return slow(value);
      throw e;
    }
  };
}

/** Why a class is not compiled (`undefined`: it is). For tests and the docs' claims. */
export function notCompiled(cls: Constructor): string | undefined {
  const compiled = compile(cls, false);
  return typeof compiled === 'string' ? compiled : undefined;
}
