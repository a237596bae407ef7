import 'reflect-metadata';
import { Allow } from 'class-validator';
import { plainToInstance, Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayNotEmpty,
  getMetadataStorage,
  isEmail,
  length,
  maxLength,
  minLength,
  registerDecorator,
  IsArray,
  IsBoolean,
  IsDefined,
  IsEmail,
  IsEnum,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsPositive,
  IsString,
  IsUrl,
  IsUUID,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  validate,
  Validate,
  ValidateIf,
  ValidateNested,
  type ValidationError,
} from 'class-validator';
import fc from 'fast-check';
import { Controller, createApp, flattenErrors, Post, Request, Schema, schemas } from '../src';
import { compileInput } from '../src/schemas/compiled-input';
import { fastRule, plainEmail, validatorLength } from '../src/schemas/fast-rules';
import { testClient } from '../src/testing';
import { ProjectInput, ProjectParams, IndexQuery } from '../sample/projects/project.schemas';
import { memoryLogger } from './helpers/memory-logger';

/**
 * The compiled (ajv) input path against class-validator's: for the sample's, the tests' and the
 * bench's input classes and a few of its own, random valid and invalid plain objects get the
 * same verdict, and an accepted one the same instance (class, prototypes, keys in order, values).
 * It reaches into src/schemas/compiled-input because it compares the two paths themselves; the
 * HTTP tests at the end go through the public API.
 */

// --- the bench's classes (bench/servers/dto.ts), copied --------------------------------------

class ItemInput {
  @IsString() @Length(1, 32) name!: string;
  @IsInt() @Min(1) @Max(100) quantity!: number;
  @IsEmail() email!: string;
  @IsOptional() @IsArray() @ArrayMaxSize(5) @IsString({ each: true }) tags?: string[];
}
class OrderLine {
  @IsString() @Length(1, 32) sku!: string;
  @IsInt() @Min(1) @Max(100) quantity!: number;
  @IsOptional() @IsString() @MaxLength(200) note?: string;
}
class Customer {
  @IsString() @Length(1, 64) name!: string;
  @IsEmail() email!: string;
}
class OrderInput {
  @ValidateNested() @Type(() => Customer) customer!: Customer;
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(50)
  @ValidateNested({ each: true })
  @Type(() => OrderLine)
  lines!: OrderLine[];
  @IsOptional() @IsString() @MaxLength(500) comment?: string;
}

// --- the tests' classes (test/schema.test.ts, params.test.ts, openapi.test.ts), copied --------

class Conv {
  @IsOptional() @IsInt() int?: number;
  @IsOptional() @IsNumber() float?: number;
  @IsOptional() @IsBoolean() flag?: boolean;
  @IsOptional() @IsArray() @IsString({ each: true }) tags?: string[];
  @IsOptional() @IsArray() @Type(() => Number) @IsInt({ each: true }) ids?: number[];
  @IsOptional() @IsString() text?: string;
}
class Item {
  @IsString() name!: string;
}
class AddProject {
  @IsString() @Length(1, 32) name!: string;
  @Matches(/^[a-z0-9-]+$/) @Length(1, 32) slug!: string;
  @IsOptional() @IsString() @MaxLength(255) description?: string;
  @IsOptional() @IsArray() @ValidateNested({ each: true }) @Type(() => Item) items?: Item[];
}
class Address {
  @IsString() @Length(1, 64) city!: string;
  @IsOptional() @IsString() street?: string;
}
class Owner {
  @IsString() name!: string;
  @ValidateNested() @Type(() => Address) address!: Address;
}
class Line {
  @IsString() name!: string;
  @IsInt() @Min(1) qty!: number;
}
class Order {
  @IsString() @Length(1, 32) title!: string;
  @ValidateNested() @Type(() => Owner) owner!: Owner;
  @IsArray() @ValidateNested({ each: true }) @Type(() => Line) lines!: Line[];
}
class ThingQuery {
  @IsOptional() @IsInt() @Min(1) page?: number;
  @IsOptional() @IsBoolean() archived?: boolean;
}
class NewTask {
  @IsString() @Length(1, 40) title!: string;
  @IsInt() @Min(1) points!: number;
}
class Tag {
  @IsString() @Matches(/^[a-z]+$/) label!: string;
}
class AddItem {
  @IsString() @Length(1, 32) name!: string;
  @IsInt() @Min(0) @Max(1000) price!: number;
  @IsOptional() @IsBoolean() hidden?: boolean;
  @ValidateNested() @Type(() => Address) warehouse!: Address;
  @IsOptional() @IsArray() @ValidateNested({ each: true }) @Type(() => Tag) tags?: Tag[];
}
class SearchQuery {
  @IsString() @Length(1, 100) q!: string;
  @IsOptional() @IsInt() limit?: number;
}

// --- more rules -----------------------------------------------------------------------------

enum Color {
  Red = 'red',
  Blue = 'blue',
}
class Rules {
  @IsDefined() @IsOptional() maybe?: string;
  @IsDefined() required!: unknown;
  @IsNumber({ allowNaN: true }) @IsOptional() loose?: number;
  @IsNumber({ maxDecimalPlaces: 2 }) @IsOptional() price?: number;
  @IsPositive() @IsOptional() positive?: number;
  @IsIn(['a', 'b', 1]) @IsOptional() choice?: unknown;
  @IsEnum(Color) @IsOptional() color?: Color;
  @IsUUID('4') @IsOptional() id?: string;
  @IsUrl() @IsOptional() site?: string;
  @MinLength(2, { each: true }) @IsOptional() words?: string | string[];
  @ArrayNotEmpty() @IsOptional() list?: unknown[];
  @Allow() anything?: unknown;
  @IsInt() @IsOptional() count: number = 7;
}
class Tree {
  @IsString() @Length(1, 8) label!: string;
  @IsOptional() @ValidateNested({ each: true }) @Type(() => Tree) children?: Tree[];
}
class OnlyNested {
  @ValidateNested() @Type(() => Item) item!: Item;
}
class Custom {
  @Validate(
    class {
      validate(value: unknown) {
        return value === 'ok';
      }
    },
  )
  x!: string;
}
/** A user's decorator registered under a built-in's name, with a check of its own. */
function impostor(name: string, validate: (value: unknown) => boolean): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name,
      target: target.constructor,
      propertyName: propertyName as string,
      validator: { validate },
    });
}
class Impostors {
  // isString's name, numbers accepted too; isInt's name, any finite number; isString's name,
  // stricter on what no probe holds (a string of 5 characters or more).
  @impostor('isString', (v) => typeof v === 'string' || typeof v === 'number') label!: unknown;
  @impostor('isInt', (v) => typeof v === 'number' && Number.isFinite(v)) count!: unknown;
  @impostor('isString', (v) => typeof v === 'string' && v.length < 5) short!: unknown;
  // isEmail's name (which has a faster rule of its own), no address starting with q.
  @impostor('isEmail', (v) => typeof v === 'string' && isEmail(v) && !v.startsWith('q'))
  mail!: unknown;
}
class Conditional {
  @ValidateIf((o: { y?: unknown }) => o.y !== undefined) @IsString() y?: string;
}
class Transformed {
  @Transform(({ value }) => value) @IsString() y!: string;
}

const COMPILED = [
  ItemInput,
  OrderInput,
  Customer,
  OrderLine,
  Item,
  AddProject,
  Owner,
  Order,
  ThingQuery,
  NewTask,
  AddItem,
  SearchQuery,
  ProjectParams,
  IndexQuery,
  Rules,
  Tree,
  OnlyNested,
  Impostors,
];
const FALLBACK: [new () => object, RegExp][] = [
  [Conv, /Conv.ids has @Type without @ValidateNested/],
  [ProjectInput, /@Transform/],
  [Custom, /custom validator/],
  [Conditional, /@ValidateIf/],
  [Transformed, /@Transform/],
];

// --- values ---------------------------------------------------------------------------------

const EMAILS = [
  'dev@example.com',
  'ada@example.com',
  'a@b.co',
  'a@b',
  'a@@b.com',
  '"quoted"@example.com',
  'x@localhost',
  'é@exämple.com',
  `${'a'.repeat(64)}@example.com`,
  `${'a'.repeat(65)}@example.com`,
  'dev@example.com ',
  ' dev@example.com',
  'dev@example..com',
  'dev@-example.com',
  'dev@example.c',
  'dev+tag@sub.example.org',
  '',
];
const SPECIAL_STRINGS = [
  '',
  'a',
  'widget',
  '0123e4567-e89b-42d3-a456-426614174000',
  '123e4567-e89b-42d3-a456-426614174000',
  '123e4567-e89b-12d3-a456-426614174000',
  'https://example.com/x',
  'ftp://example.com',
  'not a url',
  'red',
  'blue',
  'b',
  'abc-1',
  'ABC',
  '😀',
  '❤️',
  '❤\uFE0F'.repeat(32),
  '😀'.repeat(32),
  '😀'.repeat(33),
  'a'.repeat(31),
  'a'.repeat(32),
  'a'.repeat(33),
  'a'.repeat(64),
  'a'.repeat(65),
  'a'.repeat(200),
  'a'.repeat(201),
  '\uD800',
  'ok',
  'toString',
  ...EMAILS,
];
const NUMBERS = [
  0,
  -0,
  1,
  -1,
  2,
  7,
  99,
  100,
  101,
  1000,
  1001,
  1.5,
  0.01,
  0.001,
  1e21,
  NaN,
  Infinity,
  -Infinity,
];

const junk: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(...SPECIAL_STRINGS),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({ unit: 'grapheme', maxLength: 70 }),
    fc.constantFrom(...NUMBERS),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('v'), { maxLength: 6 }),
    fc.dictionary(
      fc.constantFrom(
        'name',
        'label',
        'x',
        'extra',
        'toString',
        'valueOf',
        'prototype',
        'constructor',
      ),
      tie('v'),
      {
        maxKeys: 4,
      },
    ),
  ),
})).v;

/** Values near what a class accepts, read from its rules: valid often, at the edges, or junk. */
function plainOf(cls: new () => object, depth = 0): fc.Arbitrary<Record<string, unknown>> {
  const metas = getMetadataStorage().getTargetValidationMetadatas(cls, '', false, false);
  const grouped = getMetadataStorage().groupByPropertyName(metas);
  const fields: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [key, list] of Object.entries(grouped)) {
    const names = new Set(list.map((m) => m.name ?? m.type));
    const nested = list.some((m) => m.type === 'nestedValidation');
    let good: fc.Arbitrary<unknown>;
    const mostly = <T>(usual: fc.Arbitrary<T>, edges: fc.Arbitrary<unknown>) =>
      fc.oneof({ weight: 4, arbitrary: usual }, { weight: 1, arbitrary: edges });
    const text = mostly(
      fc.constantFrom('widget', 'abc', 'a', 'abc-1', 'red'),
      fc.oneof(fc.constantFrom(...SPECIAL_STRINGS), fc.string({ maxLength: 40 })),
    );
    if (nested) {
      const Inner = typeFor(cls, key);
      const one =
        depth > 2 ? fc.constant({}) : (plainOf(Inner, depth + 1) as fc.Arbitrary<unknown>);
      good = names.has('isArray')
        ? fc.array(one, { maxLength: depth > 0 ? 2 : 4 })
        : mostly(one, fc.array(one, { maxLength: 2 }));
    } else if (names.has('isUuid'))
      good = mostly(fc.constant('123e4567-e89b-42d3-a456-426614174000'), fc.uuid());
    else if (names.has('isUrl')) good = mostly(fc.constant('https://example.com/x'), fc.webUrl());
    else if (names.has('isEnum') || names.has('isIn'))
      good = mostly(fc.constantFrom('red', 'blue', 'a', 'b', 1), text);
    else if (names.has('isEmail'))
      good = mostly(fc.constantFrom('dev@example.com', 'a@b.co'), fc.constantFrom(...EMAILS));
    else if (['isInt', 'isNumber', 'min', 'max', 'isPositive'].some((n) => names.has(n)))
      good = mostly(
        fc.integer({ min: 1, max: 100 }),
        fc.oneof(fc.constantFrom(...NUMBERS), fc.double(), fc.integer({ min: -5, max: 1005 })),
      );
    else if (names.has('isArray') || names.has('arrayNotEmpty') || list.some((m) => m.each))
      good = fc.array(text, { maxLength: 6 });
    else if (names.has('isBoolean')) good = fc.boolean();
    else good = text;
    fields[key] = fc.oneof(
      { weight: 14, arbitrary: good },
      { weight: 1, arbitrary: junk },
      { weight: 1, arbitrary: fc.constant(null) },
    );
  }
  return fc
    .tuple(
      fc.record(fields, { requiredKeys: [] }),
      fc.dictionary(
        fc.constantFrom('extra', 'toString', 'hasOwnProperty', 'prototype', 'constructor'),
        junk,
        {
          maxKeys: 2,
        },
      ),
      fc.boolean(),
    )
    .map(([known, extra, withExtra]) => (withExtra ? { ...known, ...extra } : known));
}

function typeFor(cls: new () => object, key: string): new () => object {
  const storage = (
    require('class-transformer/cjs/storage') as {
      defaultMetadataStorage: {
        findTypeMetadata(t: unknown, k: string): { typeFunction: () => new () => object };
      };
    }
  ).defaultMetadataStorage;
  return storage.findTypeMetadata(cls, key).typeFunction();
}

function arrayInArray(value: unknown, inArray = false): boolean {
  if (Array.isArray(value)) return inArray || value.some((v) => arrayInArray(v, true));
  if (value !== null && typeof value === 'object')
    return Object.values(value).some((v) => arrayInArray(v));
  return false;
}

function innerConstructor(value: unknown, inner = false): boolean {
  if (Array.isArray(value)) return value.some((v) => innerConstructor(v, true));
  if (value !== null && typeof value === 'object')
    return (
      (inner && Object.hasOwn(value, 'constructor')) ||
      Object.values(value).some((v) => innerConstructor(v, true))
    );
  return false;
}

/** An instance as a comparable tree: classes, prototypes, own keys in their order, values. */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) return { array: value.map(shape) };
  if (value !== null && typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    return {
      class: proto === null ? null : proto.constructor.name,
      same: proto === null ? true : proto === proto.constructor.prototype,
      entries: Object.keys(value).map((k) => [k, shape((value as Record<string, unknown>)[k])]),
    };
  }
  if (typeof value === 'number') return { number: Object.is(value, -0) ? '-0' : String(value) };
  return value;
}

const options = (forbidUnknown: boolean) => ({
  whitelist: true,
  forbidNonWhitelisted: forbidUnknown,
  forbidUnknownValues: true,
  validationError: { target: false, value: false },
});

/** What schema.ts's clean() does before class-transformer: those keys deleted at every depth. */
function clean<T>(value: T): T {
  if (Array.isArray(value)) value.forEach(clean);
  else if (value !== null && typeof value === 'object')
    for (const key of Object.keys(value)) {
      if (['__proto__', 'constructor', 'prototype'].includes(key))
        delete (value as Record<string, unknown>)[key];
      else clean((value as Record<string, unknown>)[key]);
    }
  return value;
}

async function reference(
  cls: new () => object,
  plain: Record<string, unknown>,
  forbidUnknown: boolean,
): Promise<{ instance: object; errors: ValidationError[] }> {
  const instance = plainToInstance(cls, clean(structuredClone(plain))) as object;
  return { instance, errors: await validate(instance, options(forbidUnknown)) };
}

// --- the differential property --------------------------------------------------------------

describe('the compiled input path decides as class-validator does', () => {
  test.each(FALLBACK)('%p stays on class-validator, saying why', (cls, reason) => {
    const plan = compileInput(cls);
    expect(plan.compiled).toBeUndefined();
    expect(plan.compiled === undefined && plan.reason).toMatch(reason);
  });

  test.each(COMPILED)('%p: same verdict, same instance', async (cls) => {
    const plan = compileInput(cls);
    if (plan.compiled === undefined) throw new Error(`not compiled: ${plan.reason}`);
    const fast = plan.compiled;
    let valid = 0;
    let invalid = 0;
    await fc.assert(
      fc.asyncProperty(plainOf(cls), fc.boolean(), async (plain, forbidUnknown) => {
        const before = JSON.stringify(plain);
        let got: object | undefined;
        let thrown: unknown;
        try {
          got = fast(plain, forbidUnknown);
        } catch (e) {
          thrown = e;
        }
        expect(JSON.stringify(plain)).toBe(before); // the plain object is left as it was
        let ref: Awaited<ReturnType<typeof reference>>;
        try {
          ref = await reference(cls, plain, forbidUnknown);
        } catch (e) {
          // class-validator's own rule throws (isNumber's maxDecimalPlaces on 5e-324): the
          // compiled path, which calls that rule, throws it too, or (an earlier rule failed)
          // hands over to class-validator, which throws; it never accepts.
          if (thrown === undefined) expect(got).toBeUndefined();
          else expect(thrown).toEqual(e);
          return;
        }
        expect(thrown).toBeUndefined();
        const { instance, errors } = ref;
        if (errors.length === 0) {
          valid++;
          // Arrays of arrays of nested instances, and inner objects with a `constructor` key,
          // are left to class-validator (rare, slower).
          if (got === undefined && (arrayInArray(plain) || innerConstructor(plain))) return;
          expect(got).toBeDefined();
          expect(shape(got)).toEqual(shape(instance));
          expect(got).toStrictEqual(instance);
        } else {
          invalid++;
          expect({ accepted: got !== undefined, errors: flattenErrors(errors) }).toEqual({
            accepted: false,
            errors: flattenErrors(errors),
          });
        }
      }),
      { numRuns: 600 },
    );
    // Both sides were exercised: a generator that only makes junk would prove nothing.
    expect(valid).toBeGreaterThan(5);
    expect(invalid).toBeGreaterThan(5);
  });
});

// --- edges found by the property, and by reading class-validator --------------------------------

test("a user's rule under a built-in's name keeps its check; class-validator's own become JSON-schema types", () => {
  const planOf = (cls: new () => object) => {
    const plan = compileInput(cls);
    if (plan.compiled === undefined) throw new Error(plan.reason);
    return plan;
  };
  const impostors = planOf(Impostors);
  const ok = { label: 'x', count: 1, short: 'abcd', mail: 'dev@example.com' };
  expect(impostors.compiled(ok, false)).toBeDefined();
  // Stricter than the built-ins on values no probe holds: refused, as class-validator refuses them.
  expect(impostors.compiled({ ...ok, short: 'a long string' }, false)).toBeUndefined();
  expect(impostors.compiled({ ...ok, mail: 'quinn@example.com' }, false)).toBeUndefined();
  expect(JSON.stringify(impostors.schema).match(/rococoCheck/g)).toHaveLength(4);
  // class-validator's own: types ajv checks inline, no call of their rules.
  class Typed {
    @IsString() s!: string;
    @IsInt() i!: number;
    @IsNumber() n!: number;
    @IsBoolean() b!: boolean;
    @IsArray() @IsString({ each: true }) a!: string[];
  }
  const typed = JSON.stringify(planOf(Typed).schema);
  expect(typed).not.toContain('rococoCheck');
  for (const type of ['string', 'integer', 'number', 'boolean', 'array'])
    expect(typed).toContain(`{"type":"${type}"}`);
});

describe('edges', () => {
  const accepts = (cls: new () => object, plain: Record<string, unknown>, forbid = false) => {
    const plan = compileInput(cls);
    if (plan.compiled === undefined) throw new Error(plan.reason);
    return plan.compiled(plain, forbid) !== undefined;
  };

  test('length counts what validator.js counts: a surrogate pair or a variation selector', async () => {
    // ajv's maxLength would count '❤️' as 2 and refuse 32 of them; class-validator accepts.
    const name = '❤\uFE0F'.repeat(32);
    expect(
      (await reference(ItemInput, { name, quantity: 1, email: 'a@b.co' }, false)).errors,
    ).toEqual([]);
    expect(accepts(ItemInput, { name, quantity: 1, email: 'a@b.co' })).toBe(true);
  });

  test('Infinity (a query ?page=Infinity) is no integer, and @Min alone does not make one', () => {
    expect(accepts(ThingQuery, { page: Infinity })).toBe(false);
    expect(accepts(ThingQuery, { page: 2 })).toBe(true);
  });

  test('@ValidateNested alone accepts a missing value and an array, refuses null', async () => {
    expect(accepts(OnlyNested, {})).toBe(true);
    expect(accepts(OnlyNested, { item: [{ name: 'x' }] })).toBe(true);
    expect(accepts(OnlyNested, { item: null })).toBe(false);
    expect((await reference(OnlyNested, {}, false)).errors).toEqual([]);
  });

  test('a key class-transformer skips (a method) is no unknown key, even under forbidUnknown', async () => {
    expect((await reference(Item, { name: 'x', toString: 1 }, true)).errors).toEqual([]);
    expect(accepts(Item, { name: 'x', toString: 1 }, true)).toBe(true);
    expect(accepts(Item, { name: 'x', extra: 1 }, true)).toBe(false);
    expect(accepts(Item, { name: 'x', extra: 1 })).toBe(true);
  });

  test('a field initializer is kept, and validated, when the key is missing', () => {
    expect(accepts(Rules, { required: 1 })).toBe(true);
  });
});

// --- the faster rules against class-validator's --------------------------------------------

describe("faster rules give class-validator's verdicts", () => {
  const tricky = fc.constantFrom('a', '😀', '\uFE0F', '\uFE0E', '\uD800', '\uDC00', 'é', ' ');
  const strings = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 12 }),
    fc.string({ unit: tricky, maxLength: 12 }),
    fc.string({ unit: fc.oneof(tricky, fc.string({ unit: 'grapheme', maxLength: 1 })) }),
  );

  test('lengths: validator.js isLength, surrogate pairs and variation selectors counted its way', () => {
    fc.assert(
      fc.property(strings, fc.nat(12), fc.nat(12), (s, a, b) => {
        const [min, max] = a <= b ? [a, b] : [b, a];
        const n = validatorLength(s);
        expect(n >= min && n <= max).toBe(length(s, min, max));
        // and the rules, which decide most strings by their length in code units
        const rules: [string, unknown[], (v: unknown) => boolean][] = [
          ['isLength', [min, max], (v) => length(v, min, max)],
          ['maxLength', [max], (v) => maxLength(v, max)],
          ['minLength', [min], (v) => minLength(v, min)],
        ];
        for (const [name, constraints, real] of rules) {
          const check = fastRule(name, constraints, real);
          expect(check).toBeDefined();
          expect(check?.(s)).toBe(real(s));
        }
      }),
      { numRuns: 5000 },
    );
  });

  test('plainEmail() takes exactly what its regular expression takes', () => {
    const regex =
      /^[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/;
    const reference = (s: string) => s.length <= 254 && s.indexOf('@') <= 64 && regex.test(s);
    const label = fc.stringMatching(/^[A-Za-z0-9-]{0,65}$/);
    const shaped = fc
      .tuple(
        fc.stringMatching(/^[A-Za-z0-9_+.@-]{0,70}$/),
        fc.array(label, { minLength: 0, maxLength: 5 }),
        fc.constantFrom('', '@', '.', '-', 'é', '\n', ' ', '_'),
      )
      .map(([local, host, tail]) => `${local}@${host.join('.')}${tail}`);
    const edges = [
      ...EMAILS,
      '',
      '@',
      'a@b.co',
      'a@b.c',
      '.a@b.co',
      'a.@b.co',
      'a..b@b.co',
      'a@-b.co',
      'a@b-.co',
      'a@b..co',
      'a@.b.co',
      'a@b.co.',
      'a@b.c0',
      'a@co',
      'a@b@c.co',
      'a@b.co\n',
      `${'a'.repeat(64)}@b.co`,
      `${'a'.repeat(65)}@b.co`,
      `a@${'b'.repeat(63)}.co`,
      `a@${'b'.repeat(64)}.co`,
      `a@b.${'c'.repeat(63)}`,
      `a@b.${'c'.repeat(64)}`,
      `${'a'.repeat(60)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(60)}.com`,
      `${'a'.repeat(60)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}.com`,
    ];
    for (const s of edges) expect([s, plainEmail(s)]).toEqual([s, reference(s)]);
    fc.assert(
      fc.property(fc.oneof(shaped, fc.constantFrom(...edges), fc.string()), (s) => {
        expect(plainEmail(s)).toBe(reference(s));
        if (plainEmail(s)) expect(isEmail(s)).toBe(true);
      }),
      { numRuns: 20000 },
    );
  });

  test('an address plainEmail() takes is one isEmail() takes; the others ask isEmail()', () => {
    const shaped = fc.stringMatching(
      /^[A-Za-z0-9_+.-]{1,70}@[A-Za-z0-9.-]{1,70}\.[A-Za-z0-9-]{1,66}$/,
    );
    fc.assert(
      fc.property(fc.oneof(shaped, fc.constantFrom(...EMAILS), fc.string()), (s) => {
        if (plainEmail(s)) expect(isEmail(s)).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });
});

// --- the same answers over HTTP ---------------------------------------------------------------

test('a compiled route and a class-validator route answer the same, and DEBUG says which is which', async () => {
  class CvItem {
    @IsString() @Length(1, 32) name!: string;
    @IsInt() @Min(1) @Max(100) quantity!: number;
    @IsEmail() email!: string;
    @IsOptional() @IsArray() @ArrayMaxSize(5) @IsString({ each: true }) tags?: string[];
    // Keeps the class on class-validator, with the same verdicts.
    @ValidateIf(() => true) @IsOptional() @IsString() note?: string;
  }
  class CvOrder {
    @ValidateNested() @Type(() => Customer) customer!: Customer;
    @IsArray()
    @ArrayMinSize(1)
    @ArrayMaxSize(50)
    @ValidateNested({ each: true })
    @Type(() => OrderLine)
    lines!: OrderLine[];
    @IsOptional() @IsString() @MaxLength(500) comment?: string;
    @ValidateIf(() => true) @IsOptional() @IsString() note?: string;
  }
  @Controller()
  class Both {
    @Post('/fast') @Schema(ItemInput) fast(req: Request<ItemInput>) {
      return { cls: req.data.constructor.name, data: req.data };
    }
    @Post('/slow') @Schema(CvItem) slow(req: Request<CvItem>) {
      return { cls: 'ItemInput', data: req.data };
    }
    @Post('/fast-strict')
    @Schema({ request: ItemInput, forbidUnknown: true })
    fastStrict(req: Request<ItemInput>) {
      return { data: req.data };
    }
    @Post('/slow-strict')
    @Schema({ request: CvItem, forbidUnknown: true })
    slowStrict(req: Request<CvItem>) {
      return { data: req.data };
    }
    @Post('/fast-order') @Schema(OrderInput) fastOrder(req: Request<OrderInput>) {
      return { nested: req.data.customer?.constructor.name, data: req.data };
    }
    @Post('/slow-order') @Schema(CvOrder) slowOrder(req: Request<CvOrder>) {
      return { nested: req.data.customer?.constructor.name, data: req.data };
    }
  }
  const log = memoryLogger('debug');
  const client = await testClient(
    createApp({ controllers: [Both], plugins: [schemas()], logger: log.logger }),
  );
  try {
    const lines = log.records.map((r) => r.msg);
    expect(lines).toContain('@Schema input ItemInput: compiled (ajv)');
    expect(lines).toContain('@Schema input OrderInput: compiled (ajv)');
    expect(lines).toContain('@Schema input CvItem: class-validator (CvItem.note has @ValidateIf)');
    const line = { sku: 'SKU-1', quantity: 3 };
    const bodies: [string, string, unknown][] = [
      ['', '', { name: 'widget', quantity: 3, email: 'dev@example.com', extra: 'dropped' }],
      ['', '', { name: 'widget', quantity: 3, email: 'dev@example.com', tags: ['a', 'b'] }],
      ['', '', { name: '', quantity: 0, email: 'nope', tags: ['a', 1] }],
      ['', '', { name: 'x'.repeat(33), quantity: 1.5, email: null }],
      ['', '', [1, 2]],
      ['-strict', '', { name: 'widget', quantity: 3, email: 'dev@example.com', extra: 1 }],
      ['-strict', '', { name: 'widget', quantity: 3, email: 'dev@example.com' }],
      ['', '-order', { customer: { name: 'Ada', email: 'ada@example.com' }, lines: [line] }],
      ['', '-order', { customer: { name: 'Ada', email: 'x' }, lines: [line, { sku: '' }] }],
      ['', '-order', { customer: null, lines: [] }],
      ['', '-order', { customer: 'Ada', lines: [line, null, 3] }],
      ['', '-order', { lines: [line], extra: true }],
    ];
    for (const [strict, order, body] of bodies) {
      const send = async (path: string) => {
        const res = await client.post(path, { json: body });
        return { status: res.status, body: await res.json() };
      };
      const fast = await send(`/fast${strict}${order}`);
      const slow = await send(`/slow${strict}${order}`);
      expect(fast).toEqual(slow);
    }
  } finally {
    await client.close();
  }
});

test('a nested value that is no instance has its own path, not `customer.undefined`', async () => {
  class Loose {
    @ValidateNested() customer!: object; // no @Type: a plain object, which class-validator refuses
  }
  @Controller()
  class C {
    @Post('/loose') @Schema(Loose) add() {
      return {};
    }
  }
  const client = await testClient(createApp({ controllers: [C], plugins: [schemas()] }));
  try {
    const res = await client.post('/loose', { json: { customer: { name: 'Ada' } } });
    expect(res.status).toBe(422);
    expect((await res.json()).errors).toEqual([
      { path: 'customer', messages: ['an unknown value was passed to the validate function'] },
    ]);
  } finally {
    await client.close();
  }
});
