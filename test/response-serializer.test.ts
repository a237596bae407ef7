import {
  Exclude,
  Expose,
  instanceToPlain,
  plainToInstance,
  Transform,
  Type,
} from 'class-transformer';
import { IsInt, IsString, Length, validate } from 'class-validator';
import fc from 'fast-check';
import { Controller, createApp, Get, Schema, schemas, serialize, type Constructor } from '../src';
import { exposer, notCompiled } from '../src/schemas/response-serializer';
import { testClient, type TestClient } from '../src/testing';
import { ApiIndex, ApiUrls, ProjectList, ProjectOut } from '../sample/projects/project.schemas';

/**
 * The compiled response serializer against class-transformer, differentially: for the sample's
 * response classes, the tests' (test/schema.test.ts, test/openapi.test.ts, copied here) and
 * some of its own (renamed, swapped, optional, inherited, recursive, dates and scalar @Types),
 * random values (right and wrong types, extra keys, undefined and null, Maps, Sets, class
 * instances, functions, sparse arrays, nested junk) give the same object, key for key and in
 * the same order, and the same JSON, or the same error; through HTTP, the same bytes and the
 * same 500s as the class-transformer path.
 */

// --- the tests' response classes (as declared in test/schema.test.ts and test/openapi.test.ts) ----

class UserOut {
  @Expose() id!: number;
  @Expose() name!: string;
}

class ProjectView {
  @Expose() id!: number;
  @Expose() name!: string;
  @Expose() @Type(() => UserOut) owner!: UserOut;
  @Expose() @Type(() => UserOut) members!: UserOut[];
  @Expose() created_at!: Date;
}

class StrictOut {
  @Expose() @IsInt() id!: number;
  @Expose() @IsString() @Length(1, 8) name!: string;
}

class OwnerOut {
  @Expose() id!: number;
  @Expose() name!: string;
}

class ItemOut {
  @Expose() id!: number;
  @Expose() name!: string;
  @Expose() price!: number;
  @Expose() @Type(() => OwnerOut) owner!: OwnerOut;
  @Expose() created_at!: Date;
}

class StatsOut {
  @Expose() count!: number;
}

// --- its own ---------------------------------------------------------------------------------------

class Tag {
  @Expose() label!: string;
}

class Person {
  @Expose({ name: 'full_name' }) name!: string;
  @Expose() @Type(() => Date) born?: Date;
  @Expose() nickname?: string;
  password_hash?: string;
}

/** Two properties each written under the other's name. */
class Swapped {
  @Expose({ name: 'b' }) a!: string;
  @Expose({ name: 'a' }) b!: string;
}

class Scalars {
  @Expose() @Type(() => String) s!: string;
  @Expose() @Type(() => Number) n!: number;
  @Expose() @Type(() => Boolean) flag!: boolean;
  @Expose() @Type(() => Date) at!: Date;
  @Expose() @Type(() => Number) ns!: number[];
}

class Tree {
  @Expose() name!: string;
  @Expose() @Type(() => Tree) children!: Tree[];
  @Expose() @Type(() => Tag) tag?: Tag;
}

class Base {
  @Expose() id!: number;
  internal?: string;
}

/** Inherited properties, a default the constructor sets (overwritten), a free-form object. */
class Derived extends Base {
  @Expose() @Type(() => Person) people!: Person[];
  @Expose() status: string = 'new';
  @Expose() meta!: Record<string, unknown>;
}

/** A renamed property written under the name of a field no @Expose names. */
class Shadow {
  @Expose({ name: 'label' }) title!: string;
  label?: string;
}

/** A key that is an array index, and a property whose design type is a class. */
class Indexed {
  @Expose({ name: '0' }) first!: string;
  @Expose() @Type(() => Tag) single!: Tag;
}

// --- classes class-transformer keeps -----------------------------------------------------------

class WithTransform {
  @Expose() @Transform(({ value }) => String(value).trim()) name!: string;
}
class WithExclude {
  @Expose() name!: string;
  @Exclude() secret!: string;
}
class WithGroups {
  @Expose({ groups: ['admin'] }) name!: string;
}
class WithGetter {
  @Expose() get name() {
    return 'x';
  }
}
class WithDefault {
  @Expose() name!: string;
  kind = 'internal';
}
class WithSet {
  @Expose() @Type(() => Tag) tags!: Set<Tag>;
}
class WithTypeArgument {
  @Expose() @Type((o) => (o?.object.kind === 'tag' ? Tag : Person)) item!: Tag | Person;
}
@Expose()
class WithClassExpose {
  @Expose() name!: string;
}

const COMPILED: Constructor[] = [
  ProjectOut,
  ProjectList,
  ApiIndex,
  ApiUrls,
  UserOut,
  ProjectView,
  StrictOut,
  OwnerOut,
  ItemOut,
  StatsOut,
  Tag,
  Person,
  Swapped,
  Scalars,
  Tree,
  Derived,
  Shadow,
  Indexed,
];

const KEPT: [Constructor, RegExp][] = [
  [WithTransform, /@Transform/],
  [WithExclude, /@Exclude/],
  [WithGroups, /@Expose\(groups\)/],
  [WithGetter, /accessor/],
  [WithDefault, /value in kind/],
  [WithSet, /declared type/],
  [WithTypeArgument, /argument/],
  [WithClassExpose, /class-level/],
];

// --- random values -------------------------------------------------------------------------------

const NAMES = [
  ...new Set([
    ...'id name slug description owner_id owner_name created_at projects urls locale add_project project owner members price count label full_name born nickname password_hash a b s n flag at ns children tag people status meta title 0 single'.split(
      ' ',
    ),
    'internal',
    'extra',
    '__proto__',
    'constructor',
    'toString',
    'valueOf',
    'hasOwnProperty',
    'then',
    '1',
  ]),
];

class Foreign {
  id = 7;
  name = 'foreign';
}

/** Leaves fc.anything does not make: what makes the compiled code hand a value over, and worse. */
const odd = fc.constantFrom<unknown>(
  Symbol('s'),
  () => 'called',
  new Foreign(),
  { then: () => undefined },
  Object.create(Function.prototype),
  Buffer.from('ab'),
  new Date(Number.NaN),
  new Date(0),
  '2024-05-01T10:20:30.000Z',
  -0,
  Number.NaN,
  Infinity,
  10n,
);

const junk = fc.anything({
  key: fc.oneof(fc.constantFrom(...NAMES), fc.string({ maxLength: 4 })),
  values: [
    fc.string({ maxLength: 6 }),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.date({ noInvalidDate: false }),
    odd,
  ],
  maxDepth: 3,
  maxKeys: 8,
  withBoxedValues: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withBigInt: true,
  withDate: true,
  withTypedArray: true,
  withSparseArray: true,
});

/** Mostly objects with the classes' keys, a list of them, or anything. */
const value = fc.oneof(
  { arbitrary: fc.dictionary(fc.constantFrom(...NAMES), junk, { maxKeys: 12 }), weight: 4 },
  {
    arbitrary: fc.array(fc.dictionary(fc.constantFrom(...NAMES), junk), { maxLength: 4 }),
    weight: 2,
  },
  { arbitrary: junk, weight: 1 },
);

/** A value as a string: every own key in order, prototypes, undefined, -0, holes, dates. */
function shape(x: unknown): string {
  if (typeof x === 'number') return Object.is(x, -0) ? '-0' : String(x);
  if (typeof x === 'string') return JSON.stringify(x);
  if (typeof x === 'symbol') return x.toString();
  if (typeof x === 'bigint') return `${x}n`;
  if (typeof x === 'function') return `function ${x.name}`;
  if (typeof x !== 'object' || x === null) return String(x);
  if (x instanceof Promise) return 'Promise';
  if (x instanceof Date) return `Date(${x.valueOf()})`;
  if (Buffer.isBuffer(x)) return `Buffer(${[...x].join(',')})`;
  if (x instanceof Map) return `Map(${[...x].map(([k, v]) => `${shape(k)}=>${shape(v)}`)})`;
  if (x instanceof Set) return `Set(${[...x].map(shape)})`;
  const proto = Object.getPrototypeOf(x);
  const kind = proto === null ? 'null' : (proto.constructor?.name ?? '?');
  if (Array.isArray(x))
    return `${kind}[${Array.from({ length: x.length }, (_, i) => (i in x ? shape(x[i]) : 'hole'))}]`;
  const keys = Reflect.ownKeys(x).map(
    (k) => `${String(k)}: ${shape((x as Record<string | symbol, unknown>)[k])}`,
  );
  return `${kind}{${keys.join(', ')}}`;
}

/** The JSON of what a function gave, or the error it threw (in it or in JSON.stringify). */
function jsonOf(run: () => unknown): string {
  try {
    return String(JSON.stringify(run()));
  } catch (e) {
    return `throws ${(e as Error).name}: ${(e as Error).message}`;
  }
}

/** What a function gave, comparable: the value (see shape()), its JSON; or the error. */
function outcome(run: () => unknown): string {
  let out: unknown;
  try {
    out = run();
  } catch (e) {
    return `throws ${(e as Error).name}: ${(e as Error).message}`;
  }
  let text: string;
  try {
    text = String(JSON.stringify(out));
  } catch (e) {
    text = `JSON throws ${(e as Error).name}: ${(e as Error).message}`;
  }
  return `${shape(out)}\n${text}`;
}

const reference = (cls: Constructor, v: unknown) =>
  instanceToPlain(plainToInstance(cls, v, { excludeExtraneousValues: true }));

// --- the tests -----------------------------------------------------------------------------------

test('the sample, test and own response classes compile; the others say why they do not', () => {
  expect(COMPILED.map((cls) => [cls.name, notCompiled(cls)])).toEqual(
    COMPILED.map((cls) => [cls.name, undefined]),
  );
  for (const [cls, why] of KEPT)
    expect([cls.name, notCompiled(cls)]).toEqual([cls.name, expect.stringMatching(why)]);
});

test.each([...COMPILED, ...KEPT.map(([cls]) => cls)].map((cls) => [cls.name, cls]))(
  '%s: the same object and JSON as class-transformer, for any value',
  (_name, cls) => {
    const compiled = exposer(cls as Constructor, false);
    const forJSON = exposer(cls as Constructor, true);
    fc.assert(
      fc.property(value, (v) => {
        expect(outcome(() => compiled(v))).toBe(outcome(() => reference(cls as Constructor, v)));
        expect(jsonOf(() => forJSON(v))).toBe(jsonOf(() => reference(cls as Constructor, v)));
      }),
      { numRuns: 1500 },
    );
  },
);

/** A list whose first item is a hole. */
const holey = <T>(items: T[]): T[] => {
  const out = new Array<T>(items.length + 1);
  items.forEach((item, i) => (out[i + 1] = item));
  return out;
};

test('known values: renames, shadowed and inherited fields, holes, dates, scalars', () => {
  const cases: [Constructor, unknown][] = [
    [Person, { full_name: 'Ann', name: 'no', born: '2020-01-02', password_hash: 'x' }],
    [Swapped, { a: 'A', b: 'B' }],
    [Shadow, { title: 'T', label: 'L' }],
    [
      Derived,
      { id: 1, status: undefined, people: holey([{ full_name: 'P' }]), meta: { x: [1, { y: 2 }] } },
    ],
    [Scalars, { s: 5, n: '7', flag: 0, at: 0, ns: ['1', 'x', null] }],
    [Scalars, { at: 'not a date', ns: [new Date(8.64e15), new Date(-8.64e15)] }],
    [ProjectView, { created_at: new Date(Number.NaN), members: [{ name: new Date(8.64e15) }] }],
    [Indexed, { 0: 'zero', single: [{ label: 'a' }, 'b'] }],
    [Tree, { name: 'r', children: [{ name: 'c', children: [], tag: { label: 't', x: 1 } }] }],
  ];
  for (const [cls, v] of cases) {
    expect(outcome(() => exposer(cls, false)(v))).toBe(outcome(() => reference(cls, v)));
    expect(jsonOf(() => exposer(cls, true)(v))).toBe(jsonOf(() => reference(cls, v)));
    expect(outcome(() => serialize(cls, v))).toBe(outcome(() => reference(cls, v)));
  }
  expect(JSON.stringify(serialize(Shadow, { title: 'T', label: 'L' }))).toBe('{}');
  // Dates are copies, as class-transformer's are: changing the output leaves the input alone.
  const row = { created_at: new Date(5), members: [{ id: 1 }] };
  const out = serialize(ProjectView, row) as { created_at: Date; members: object[] };
  expect([out.created_at !== row.created_at, out.members[0] !== row.members[0]]).toEqual([
    true,
    true,
  ]);
  expect(JSON.stringify(serialize(Swapped, { a: 'A', b: 'B' }))).toBe('{"b":"B","a":"A"}');
});

// --- through HTTP ----------------------------------------------------------------------------------

let current: unknown;

@Controller('/out')
class OutController {
  @Get('/project')
  @Schema({ response: ProjectOut })
  project() {
    return current;
  }

  @Get('/projects')
  @Schema({ response: [ProjectOut] })
  projects() {
    return current;
  }

  @Get('/view')
  @Schema({ response: ProjectView })
  view() {
    return current;
  }

  @Get('/derived')
  @Schema({ response: [Derived] })
  derived() {
    return current;
  }

  @Get('/strict')
  @Schema({ response: StrictOut })
  strict() {
    return current;
  }

  @Get('/stricts')
  @Schema({ response: [StrictOut] })
  stricts() {
    return current;
  }
}

const ROUTES: [string, Constructor, boolean, boolean][] = [
  ['/out/project', ProjectOut, false, false],
  ['/out/projects', ProjectOut, true, false],
  ['/out/view', ProjectView, false, false],
  ['/out/derived', Derived, true, false],
  ['/out/strict', StrictOut, false, true],
  ['/out/stricts', StrictOut, true, true],
];

/** What the class-transformer path answered: the status, and the body of a 200. */
async function expected(cls: Constructor, list: boolean, checked: boolean, v: unknown) {
  if (list !== Array.isArray(v)) return '500';
  try {
    const instance = plainToInstance(cls, v, { excludeExtraneousValues: true });
    if (checked) {
      const items = (Array.isArray(instance) ? instance : [instance]) as object[];
      for (const item of items)
        if ((await validate(item, { forbidUnknownValues: true })).length > 0) return '500';
    }
    return `200 ${JSON.stringify(instanceToPlain(instance)) ?? 'null'}`;
  } catch {
    return '500';
  }
}

describe('through HTTP', () => {
  let client: TestClient;
  beforeAll(async () => {
    client = await testClient(createApp({ plugins: [schemas()], controllers: [OutController] }));
  });
  afterAll(async () => {
    await client?.close();
  });

  test('the same bytes and the same 500s as the class-transformer path', async () => {
    // A thenable returned by a handler is awaited before anything is serialized.
    const returned = value.filter(
      (v) => !(v !== null && typeof (v as { then?: unknown }).then === 'function'),
    );
    const cases = fc.sample(
      fc.tuple(
        fc.constantFrom(...ROUTES),
        fc.oneof(returned, fc.array(returned, { maxLength: 3 })),
      ),
      { numRuns: 300, seed: 20 },
    );
    const strictGood: [(typeof ROUTES)[number], unknown][] = [
      [ROUTES[4], { id: 3, name: 'ok', extra: 'x' }],
      [
        ROUTES[5],
        [
          { id: 1, name: 'a' },
          { id: 2, name: 'b', password_hash: 'y' },
        ],
      ],
      [ROUTES[4], { id: 'seven', name: '' }],
    ];
    let ok = 0;
    for (const [[path, cls, list, checked], v] of [...strictGood, ...cases]) {
      current = v;
      const want = await expected(cls, list, checked, v);
      const res = await client.get(path);
      const got = res.status === 200 ? `200 ${await res.text()}` : String(res.status);
      if (res.status === 200) ok++;
      expect([path, got]).toEqual([path, want]);
    }
    // Not only errors: most cases were serialized.
    expect(ok).toBeGreaterThan(50);
  });
});
