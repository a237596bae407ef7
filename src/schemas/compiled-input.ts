import type { AnySchema, ValidateFunction } from 'ajv';
import type { MetadataStorage as TransformerStorage } from 'class-transformer/types/MetadataStorage';
import type { ValidationMetadata } from 'class-validator/types/metadata/ValidationMetadata';
import type { Constructor } from '../core/container';
import { fastRule } from './fast-rules';

/**
 * The instance `plainToInstance` + class-validator's whitelist would give for a plain object
 * (after schema.ts's clean(): the object may still hold `__proto__`, `constructor` and
 * `prototype` keys, which it skips) that class-validator would accept, or undefined when that
 * is not certain (invalid, an unknown key under `forbidUnknown`, a value JSON and forms do not
 * produce): then class-validator decides, and builds the 422.
 */
export type CompiledInput = (
  plain: Record<string, unknown>,
  forbidUnknown: boolean,
) => object | undefined;

/** What {@link compileInput} made of a class: its compiled check, or why class-validator keeps it. */
export type InputPlan =
  | {
      compiled: CompiledInput;
      /** The JSON schema ajv checks the instance against: `rococoCheck` where a rule is called. */
      schema: AnySchema;
    }
  | { compiled: undefined; reason: string };

/** How one class (and each nested one) is turned into an instance. */
interface ClassPlan {
  cls: Constructor;
  /**
   * The decorated properties (whitelist keeps these, and only these): null for a value copied
   * as it is, or the plan of a `@ValidateNested() @Type(() => X)` property's X.
   */
  fields: Map<string, ClassPlan | null>;
}

class Unsupported extends Error {}

// class-validator's own decorators whose verdict depends on the value and the decorator's
// arguments only (not on the object, the groups or anything async): their constraint is called
// as class-validator calls it. A decorator of another name (@Validate, registerDecorator) is
// the user's code, and keeps its class on class-validator.
let builtins: Set<string> | undefined;

type Libs = {
  rules: ReturnType<typeof import('class-validator').getMetadataStorage>;
  types: typeof import('class-validator').ValidationTypes;
  transforms: TransformerStorage;
  ajv: import('ajv').default;
  checks: ((value: unknown) => boolean)[];
};
let libs: Libs | undefined;

// Loaded by the first @Schema compiled, like class-validator: apps without one never load ajv.
function load(): Libs {
  if (libs) return libs;
  const cv = require('class-validator') as typeof import('class-validator');
  builtins = new Set(
    Object.entries(cv)
      .filter(([k, v]) => /^[A-Z0-9_]+$/.test(k) && typeof v === 'string')
      .map(([, v]) => v as string),
  );
  builtins.delete(cv.IS_OPTIONAL);
  const ajvModule = require('ajv') as typeof import('ajv');
  const checks: ((value: unknown) => boolean)[] = [];
  // strictNumbers (the default, kept): NaN and ±Infinity are no number nor integer, as for
  // class-validator's isNumber() and isInt(). strict off: `if`/`items` without `type` are meant.
  const ajv = new ajvModule.default({ strict: false, allErrors: false, strictNumbers: true });
  // Generated inline (`if (!check(data)) fail`): a `validate`/`compile` keyword would build an
  // error context object and a JSON pointer for every call.
  ajv.addKeyword({
    keyword: 'rococoCheck',
    schemaType: 'number',
    code(cxt) {
      const check = cxt.gen.scopeValue('func', { ref: checks[cxt.schema as number] });
      cxt.fail(ajvModule._`!${check}(${cxt.data})`);
    },
  });
  // `if`/`else` would do what these do, but its `if` failing builds an error object and an array
  // that nothing reads (a present @IsOptional field, a nested object that is not an array).
  // rococoUnlessNull: the subschema, unless the value is null (@IsOptional: properties never
  // reach undefined). rococoEach: `array` on an array, `other` on anything else.
  ajv.addKeyword({
    keyword: 'rococoUnlessNull',
    schemaType: 'object',
    code(cxt) {
      const valid = cxt.gen.let('valid', true);
      cxt.gen.if(ajvModule._`${cxt.data} !== null`, () => {
        const schValid = cxt.gen.name('_valid');
        cxt.subschema({ keyword: 'rococoUnlessNull' }, schValid);
        cxt.gen.assign(valid, schValid);
      });
      cxt.pass(valid);
    },
  });
  ajv.addKeyword({
    keyword: 'rococoEach',
    schemaType: 'object',
    code(cxt) {
      const valid = cxt.gen.name('valid');
      cxt.gen.if(
        ajvModule._`Array.isArray(${cxt.data})`,
        () => cxt.subschema({ keyword: 'rococoEach', schemaProp: 'array' }, valid),
        () => cxt.subschema({ keyword: 'rococoEach', schemaProp: 'other' }, valid),
      );
      cxt.pass(valid);
    },
  });
  libs = {
    rules: cv.getMetadataStorage(),
    types: cv.ValidationTypes,
    // class-transformer keeps its metadata here (as src/openapi reads it): plainToInstance uses it.
    transforms: (
      require('class-transformer/cjs/storage') as { defaultMetadataStorage: TransformerStorage }
    ).defaultMetadataStorage,
    ajv,
    checks,
  };
  return libs;
}

const plans = new WeakMap<Constructor, InputPlan>();

/**
 * Compiles an input class (and its `@ValidateNested` classes) to an ajv function on the
 * instance, when every rule of the whole tree has an exact equivalent: class-validator's own
 * decorators, `@IsOptional`, `@ValidateNested` + `@Type(() => X)`, `each`, `@Allow`, and no
 * class-transformer feature but `@Type`. Anything else (custom validators, groups, `always`,
 * `@ValidateIf`, `@Transform`, `@Expose`/`@Exclude`, discriminators) keeps the class on
 * class-validator, per class: `reason` says why.
 */
export function compileInput(cls: Constructor): InputPlan {
  let plan = plans.get(cls);
  if (plan === undefined) {
    try {
      plan = compile(cls);
    } catch (e) {
      // Not compiled is never wrong (class-validator decides), so an unforeseen failure here
      // does not stop the app: the DEBUG line says what it was.
      plan = {
        compiled: undefined,
        reason: e instanceof Unsupported ? e.message : `not compiled: ${String(e)}`,
      };
    }
    plans.set(cls, plan);
  }
  return plan;
}

function compile(cls: Constructor): InputPlan {
  const { ajv } = load();
  const defs: Record<string, AnySchema> = {};
  const root = planClass(cls, '', defs, new Map());
  const schema = { $ref: '#/definitions/c0', definitions: defs };
  const validate: ValidateFunction = ajv.compile(schema);
  const build = builderOf(root);
  const compiled: CompiledInput = (plain, forbidUnknown) => {
    const instance = build(plain, forbidUnknown);
    return instance !== BAIL && validate(instance) ? instance : undefined;
  };
  return { compiled, schema };
}

function planClass(
  cls: Constructor,
  targetSchema: string,
  defs: Record<string, AnySchema>,
  seen: Map<Constructor, { id: number; plan: ClassPlan }>,
): ClassPlan {
  const { rules, types, transforms } = load();
  const metas = rules.getTargetValidationMetadatas(cls, '', false, false, undefined);
  // Nested, class-validator also reads the rules registered under the parent's name
  // (registerSchema): never the case but for such schemas, which are left to it.
  if (
    targetSchema !== '' &&
    rules.getTargetValidationMetadatas(cls, targetSchema, false, false, undefined).length !==
      metas.length
  )
    throw new Unsupported(`${cls.name} has rules registered as the schema '${targetSchema}'`);
  // forbidUnknownValues: an instance of a class without rules is always refused.
  if (metas.length === 0) throw new Unsupported(`${cls.name} has no validation decorator`);
  checkTransformer(cls, transforms);
  let sample: Record<string, unknown>;
  try {
    sample = new cls() as Record<string, unknown>;
  } catch {
    throw new Unsupported(`${cls.name}'s constructor fails without arguments`);
  }
  const grouped = rules.groupByPropertyName(metas);
  for (const key of Object.keys(sample))
    if (grouped[key] === undefined)
      throw new Unsupported(`${cls.name} sets the undecorated field '${key}'`);

  const id = seen.size;
  const plan: ClassPlan = { cls, fields: new Map(Object.keys(grouped).map((k) => [k, null])) };
  seen.set(cls, { id, plan });
  const properties: Record<string, AnySchema> = {};
  const required: string[] = [];
  for (const [key, list] of Object.entries(grouped)) {
    const where = `${cls.name}.${key}`;
    const descriptor = Object.getOwnPropertyDescriptor(cls.prototype, key);
    // class-transformer never sets these: leave such a class to it.
    if ((descriptor && !descriptor.set) || sample[key] instanceof Function || key === '__proto__')
      throw new Unsupported(`${where} is a method or a getter`);
    const parts: AnySchema[] = [];
    let optional = false;
    let nested = false;
    let acceptsUndefined = true;
    for (const m of list) {
      if ((m.groups && m.groups.length > 0) || m.always !== undefined || m.validateIf)
        throw new Unsupported(`${where} uses groups, always or validateIf`);
      if (m.type === types.WHITELIST) continue;
      if (m.type === types.CONDITIONAL_VALIDATION) {
        if (m.name !== 'isOptional') throw new Unsupported(`${where} has @ValidateIf`);
        optional = true;
      } else if (m.type === types.NESTED_VALIDATION) {
        nested = true;
      } else if (m.type === types.CUSTOM_VALIDATION || m.type === types.IS_DEFINED) {
        const own = isOwn(m);
        const check = ruleCheck(m, where, own);
        if (!check(undefined)) acceptsUndefined = false;
        const one = (own && nativeSchema(m, check)) || { rococoCheck: register(check) };
        // `each`: every item of an array, or the value itself when it is not one.
        parts.push(m.each ? { rococoEach: { array: { items: one }, other: one } } : one);
      } else {
        throw new Unsupported(`${where} has a ${m.type} rule`);
      }
    }
    const type = transforms.findTypeMetadata(cls, key);
    if (nested !== (type !== undefined))
      throw new Unsupported(
        `${where} has ${nested ? '@ValidateNested without @Type' : '@Type without @ValidateNested'}`,
      );
    if (type !== undefined) {
      if (type.options?.discriminator || !type.typeFunction)
        throw new Unsupported(`${where}'s @Type has a discriminator`);
      const reflected = type.reflectedType as unknown;
      if (reflected === Set || reflected === Map)
        throw new Unsupported(`${where} is a ${(reflected as Constructor).name}`);
      if (typeof reflected === 'function' && reflected !== Array) {
        // class-transformer builds an array sent here as `new reflected()` if it can push.
        let probe: unknown;
        try {
          probe = new (reflected as Constructor)();
        } catch {
          throw new Unsupported(`${where}'s declared type fails without arguments`);
        }
        if (probe instanceof Set || 'push' in (probe as object))
          throw new Unsupported(`${where}'s declared type is a collection`);
      }
      const target = type.typeFunction({ newObject: sample, object: {}, property: key });
      if (
        typeof target !== 'function' ||
        ([String, Number, Boolean, Date, Object, Array] as unknown[]).includes(target)
      )
        throw new Unsupported(`${where}'s @Type is not a class`);
      const inner = target as Constructor;
      if (!seen.has(inner)) planClass(inner, cls.name, defs, seen);
      const { id: innerId, plan: innerPlan } = seen.get(inner) as { id: number; plan: ClassPlan };
      plan.fields.set(key, innerPlan);
      // An instance, or an array of them: class-validator descends into both (and into arrays
      // of arrays, which this refuses: class-validator then decides). Written as rococoEach,
      // which creates no error objects, and without a recursive definition, so that ajv
      // inlines the classes that do not contain themselves.
      const one = { $ref: `#/definitions/c${innerId}` };
      parts.push({ rococoEach: { array: { items: one }, other: one } });
    }
    let schema: AnySchema =
      parts.length === 1 ? parts[0] : parts.length === 0 ? {} : { allOf: parts };
    // @IsOptional: null and undefined skip every rule of the property.
    if (optional) schema = { rococoUnlessNull: schema };
    else if (!acceptsUndefined) required.push(key);
    properties[key] = schema;
  }
  defs[`c${id}`] = { type: 'object', properties, required };
  return plan;
}

/** class-transformer features other than a plain `@Type`: plainToInstance does what they say. */
function checkTransformer(cls: Constructor, transforms: TransformerStorage): void {
  const store = transforms as unknown as {
    _transformMetadatas: Map<unknown, Map<string, unknown[]>>;
  };
  if (transforms.getStrategy(cls) !== 'none')
    throw new Unsupported(`${cls.name} has a class-level @Expose or @Exclude`);
  if (
    transforms.getExposedMetadatas(cls).length > 0 ||
    transforms.getExcludedMetadatas(cls).length > 0
  )
    throw new Unsupported(`${cls.name} has @Expose or @Exclude`);
  for (
    let c: unknown = cls;
    typeof c === 'function' && c !== Object;
    c = Object.getPrototypeOf(c)
  ) {
    const own = store._transformMetadatas.get(c);
    if (own && own.size > 0) throw new Unsupported(`${cls.name} has @Transform`);
  }
}

/** The rule's verdict, computed as class-validator computes it: its own constraint, called. */
/** `own`: the rule is class-validator's own ({@link isOwn}), which a faster one may replace. */
function ruleCheck(
  m: ValidationMetadata,
  where: string,
  own: boolean,
): (value: unknown) => boolean {
  const { rules } = load();
  if (m.name === undefined || !builtins?.has(m.name))
    throw new Unsupported(`${where} has the custom validator ${m.name ?? m.constraintCls.name}`);
  const constraints = rules.getTargetValidatorConstraints(m.constraintCls);
  if (constraints.length !== 1 || constraints[0].async)
    throw new Unsupported(`${where}: ${m.name} is not one synchronous constraint`);
  const instance = constraints[0].instance as {
    validate(value: unknown, args: object): unknown;
  };
  const args = {
    targetName: '',
    property: m.propertyName,
    object: {},
    value: undefined,
    constraints: m.constraints,
  };
  // class-validator reads the result as a truth value
  const real = (value: unknown) => !!instance.validate(value, args);
  return (own ? fastRule(m.name, m.constraints ?? [], real) : undefined) ?? real;
}

function register(check: (value: unknown) => boolean): number {
  const { checks } = load();
  checks.push(check);
  return checks.length - 1;
}

// Values of every JSON type, and the edges of each type check: a rule that gives one of them
// another verdict than its JSON-schema type is not class-validator's.
const TYPE_PROBES: unknown[] = [
  ...['', 'a', '1', '1.5', 'true', '[]'],
  ...[0, -0, 1, -1, 1.5, 2 ** 53, 1e300, 5e-324, NaN, Infinity, -Infinity],
  ...[true, false, null, [], [1], ['a'], {}, { length: 1 }],
];

type ValidatorLib = typeof import('class-validator');
type Each = { each?: boolean };

type Maker = (cv: ValidatorLib, c: unknown[], o: Each) => PropertyDecorator;
/**
 * class-validator's own decorator of each name that is replaced by something faster (a type of
 * {@link typeSchema}, a rule of fast-rules.ts), for a rule's arguments.
 */
const REFERENCES: Record<string, Maker> = {
  isString: (cv, _c, o) => cv.IsString(o),
  isBoolean: (cv, _c, o) => cv.IsBoolean(o),
  isInt: (cv, _c, o) => cv.IsInt(o),
  isArray: (cv, _c, o) => cv.IsArray(o),
  isNumber: (cv, c, o) => cv.IsNumber((c[0] ?? {}) as object, o),
  isEmail: (cv, c, o) => cv.IsEmail(c[0] as object, o),
  isLength: (cv, c, o) => cv.Length(c[0] as number, c[1] as number | undefined, o),
  maxLength: (cv, c, o) => cv.MaxLength(c[0] as number, o),
  minLength: (cv, c, o) => cv.MinLength(c[0] as number, o),
  min: (cv, c, o) => cv.Min(c[0] as number, o),
  max: (cv, c, o) => cv.Max(c[0] as number, o),
};

/**
 * Whether a rule is class-validator's own decorator of its name, as far as can be told: it
 * gives that decorator's default message for the same arguments. A decorator of the user's
 * registered under a built-in's name (`registerDecorator({ name: 'isString', ... })`) carries
 * that name and a check of its own, which must not be replaced.
 */
function isOwn(m: ValidationMetadata): boolean {
  const make = m.name === undefined ? undefined : REFERENCES[m.name];
  if (make === undefined) return false;
  const { rules } = load();
  class Reference {}
  make(require('class-validator') as ValidatorLib, m.constraints ?? [], { each: m.each })(
    Reference.prototype,
    'p',
  );
  const [reference] = rules.getTargetValidationMetadatas(Reference, '', false, false, undefined);
  const message = (r: ValidationMetadata): unknown => {
    const [constraint] = rules.getTargetValidatorConstraints(r.constraintCls);
    const instance = constraint?.instance as { defaultMessage?(args: object): unknown };
    return instance?.defaultMessage?.({
      property: 'p',
      value: undefined,
      constraints: r.constraints,
      targetName: '',
      object: {},
    });
  };
  return reference !== undefined && message(reference) === message(m);
}

/**
 * The JSON-schema type that is exactly the check of one of class-validator's own rules
 * ({@link isOwn}), for the values an instance holds, when they agree on {@link TYPE_PROBES}.
 */
function nativeSchema(
  m: ValidationMetadata,
  check: (value: unknown) => boolean,
): AnySchema | undefined {
  const schema = typeSchema(m);
  if (schema === undefined) return undefined;
  const matches = load().ajv.compile(schema);
  // A rule that throws on a probe leaves its class to class-validator (compileInput's catch).
  return TYPE_PROBES.every((p) => matches(p) === check(p)) ? schema : undefined;
}

function typeSchema(m: ValidationMetadata): AnySchema | undefined {
  switch (m.name) {
    case 'isString':
      return { type: 'string' };
    case 'isBoolean':
      return { type: 'boolean' };
    case 'isInt':
      return { type: 'integer' };
    case 'isArray':
      return { type: 'array' };
    case 'isNumber': {
      const o = (m.constraints?.[0] ?? {}) as Record<string, unknown>;
      return !o.allowNaN && !o.allowInfinity && o.maxDecimalPlaces === undefined
        ? { type: 'number' }
        : undefined;
    }
    default:
      return undefined;
  }
}

const BAIL = Symbol('bail');

/**
 * An object as JSON.parse or a form makes it (class-transformer copies those as `{}` or builds
 * the class from them). Read through `constructor` first, which V8 loads inline where
 * getPrototypeOf is a runtime call: an own `constructor` key (dropped later) makes it fall to
 * getPrototypeOf, which is right for a null-prototype object and refuses the rest (BAIL).
 */
function isPlain(value: object): boolean {
  return (
    (value as { constructor?: unknown }).constructor === Object ||
    Object.getPrototypeOf(value) === null
  );
}

type Builder = (plain: Record<string, unknown>, forbidUnknown: boolean) => object | typeof BAIL;

// clean() (schema.ts) deletes these at every depth before class-transformer sees them: the
// builders, which read JSON as parsed, skip them instead.
const FORBIDDEN = ['__proto__', 'constructor', 'prototype'];

/**
 * plainToInstance for a planned class, and whitelist's stripping, as one function per class
 * generated at startup (a `switch` on the key: each property read and written by its name,
 * where a loop over a key map makes V8's property access megamorphic): `new cls()` (its field
 * initializers run), the decorated keys copied in the plain object's order, nested classes
 * built, `__proto__`, `constructor` and `prototype` keys dropped at every depth. BAIL where
 * class-validator must decide (an unknown key under forbidUnknown) or the value is not what
 * JSON or a form gives (a Date, a File).
 */
function builderOf(root: ClassPlan): Builder {
  const plans: ClassPlan[] = [];
  const index = (plan: ClassPlan): number => {
    let i = plans.indexOf(plan);
    if (i < 0) {
      i = plans.push(plan) - 1;
      for (const field of plan.fields.values()) if (field !== null) index(field);
    }
    return i;
  };
  index(root);
  const builders: Builder[] = [];
  const nested = plans.map(
    (_, i) =>
      (value: unknown, forbidUnknown: boolean): unknown =>
        buildNested(builders[i], value, forbidUnknown),
  );
  plans.forEach((plan) => {
    const cases = [...plan.fields]
      .filter(([key]) => !FORBIDDEN.includes(key))
      .map(([key, field]) => {
        const k = JSON.stringify(key);
        const make =
          field === null ? 'copy(v)' : `nested[${plans.indexOf(field)}](v, forbidUnknown)`;
        return `case ${k}: {
          let v = plain[${k}];
          if (v !== null && typeof v === 'object') { v = ${make}; if (v === BAIL) return BAIL; }
          out[${k}] = v;
          break;
        }`;
      });
    const body = `
      const out = new Cls();
      const keys = Object.keys(plain);
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i];
        switch (key) {
          ${cases.join('\n')}
          ${FORBIDDEN.map((k) => `case ${JSON.stringify(k)}:`).join(' ')} break;
          default: if (forbidUnknown && !skipped(out, key)) return BAIL;
        }
      }
      return out;`;
    // Generated once per class at startup, from its property names (JSON-quoted).
    const make = new Function(
      'Cls',
      'copy',
      'skipped',
      'nested',
      'BAIL',
      `return function build(plain, forbidUnknown) {${body}}`,
    );
    builders.push(make(plan.cls, copy, skipped, nested, BAIL) as Builder);
  });
  return builders[0];
}

/**
 * The keys class-transformer never sets on an instance (its methods, getters without a setter),
 * so that whitelist never sees them: no unknown key, even under forbidUnknown.
 */
function skipped(instance: Record<string, unknown>, key: string): boolean {
  const descriptor = Object.getOwnPropertyDescriptor(instance.constructor.prototype, key);
  return (descriptor !== undefined && !descriptor.set) || instance[key] instanceof Function;
}

function buildNested(build: Builder, value: unknown, forbidUnknown: boolean): unknown {
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const item of value) {
      const built = buildNested(build, item, forbidUnknown);
      if (built === BAIL) return BAIL;
      out.push(built);
    }
    return out;
  }
  if (value !== null && typeof value === 'object')
    return isPlain(value) ? build(value as Record<string, unknown>, forbidUnknown) : BAIL;
  return value;
}

/** A value of an undecorated type, as class-transformer copies it: arrays and objects anew. */
function copy(value: unknown): unknown {
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const item of value) {
      const c = copy(item);
      if (c === BAIL) return BAIL;
      out.push(c);
    }
    return out;
  }
  if (value !== null && typeof value === 'object') {
    if (!isPlain(value)) return BAIL;
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      // class-transformer skips the keys a fresh {} holds as methods (toString, constructor...).
      // ('prototype': clean() drops it)
      if (key === '__proto__' || key === 'prototype' || Object.hasOwn(Object.prototype, key))
        continue;
      const c = copy((value as Record<string, unknown>)[key]);
      if (c === BAIL) return BAIL;
      out[key] = c;
    }
    return out;
  }
  return value;
}
