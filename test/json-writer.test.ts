import 'reflect-metadata';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsEmail,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import fc from 'fast-check';
import {
  Controller,
  createApp,
  Get,
  Post,
  Request,
  Schema,
  schemas,
  Use,
  type Plugin,
} from '../src';
import { compileInput } from '../src/schemas/compiled-input';
import { bare, jsonWriter, quote } from '../src/schemas/json-writer';
import { testClient, type TestClient } from '../src/testing';

/**
 * The compiled JSON writer of @Schema input classes against JSON.stringify: whatever the value
 * (an instance built by the real compiled input path, then changed by hand in every way a
 * handler could), the writer gives JSON.stringify's text or gives up (undefined: the kernel
 * then calls JSON.stringify). It reaches into src/schemas for the writer and the builder; the
 * HTTP tests at the end go through the public API.
 */

// the bench's classes (bench/servers/dto.ts), copied
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
  @IsArray() @ValidateNested({ each: true }) @Type(() => OrderLine) lines!: OrderLine[];
  @IsOptional() @IsString() @MaxLength(500) comment?: string;
}
/** A class that nests itself: the writer's depth limit. */
class Tree {
  @IsString() label!: string;
  @IsOptional() @ValidateNested({ each: true }) @Type(() => Tree) children?: Tree[];
}
class Dated {
  @IsString() name!: string;
  toJSON() {
    return { renamed: this.name };
  }
}

const write = jsonWriter([OrderInput, ItemInput, Tree]) as (value: object) => string | undefined;

function stringify(value: unknown): string | Error {
  try {
    return JSON.stringify(value);
  } catch (e) {
    return e as Error;
  }
}

/** The writer's answer is JSON.stringify's, or none (then JSON.stringify writes, or throws). */
function same(value: object): string | undefined {
  const expected = stringify(value);
  const got = write(value);
  if (got !== undefined) expect(got).toBe(expected);
  return got;
}

const anyChar = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const text = fc.oneof(
  fc.string(),
  fc.string({ unit: anyChar }),
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: anyChar, minLength: 100, maxLength: 400 }),
  fc.constantFrom('\ud800', 'a\udfff', '😀', '\u2028\u2029', '"\\', '\u0000\u001f\u007f'),
);
const number = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(NaN, Infinity, -Infinity, -0, 1e21, 5e-324),
);

const build = (cls: Function, plain: Record<string, unknown>) =>
  (
    compileInput(cls as new () => object).compiled as NonNullable<
      ReturnType<typeof compileInput>['compiled']
    >
  )(plain, false);

/** Values a handler might put anywhere. */
const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({ withNullPrototype: true, withMap: true, withSet: true, withDate: true }),
  text,
  number,
  fc.constantFrom(
    undefined,
    null,
    () => 1,
    Symbol('s'),
    new Date(0),
    { toJSON: (key: string) => `key:${key}` },
    Object.assign(new Customer(), { name: 'c', email: 'e' }),
    Object.assign(new Dated(), { name: 'd' }),
    [undefined, () => 1, Symbol('x')],
    Object.assign([1, 2], { extra: 3 }),
    new Array(3),
    10n,
  ),
);

/** A change by hand to a built instance, somewhere in it. */
type Change = { path: number; key: string; value: unknown; remove: boolean };
const change = fc.record({
  path: fc.nat(5),
  key: fc.oneof(
    fc.constantFrom('name', 'quantity', 'tags', 'customer', 'lines', 'sku', 'note', 'email'),
    fc.constantFrom('toJSON', 'toResponse', '0', '10', '__proto__', 'constructor', ''),
    text,
  ),
  value: junk,
  remove: fc.boolean(),
});

function apply(root: object, changes: Change[]): void {
  for (const c of changes) {
    const targets: Record<string, unknown>[] = [];
    const walk = (v: unknown) => {
      if (v === null || typeof v !== 'object' || targets.length > 20) return;
      if (!Array.isArray(v)) targets.push(v as Record<string, unknown>);
      for (const inner of Object.values(v)) walk(inner);
    };
    walk(root);
    const target = targets[c.path % targets.length];
    if (c.remove) delete target[c.key];
    else
      Object.defineProperty(target, c.key, {
        value: c.value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
  }
}

// Valid input (the compiled path builds only what passes): any unicode where the rules allow it.
const name = (max: number) => text.filter((s) => s.length >= 1 && s.length <= max);
const email = fc.constantFrom('dev@example.com', 'Ada.Lovelace+tag_1-x@sub-domain.example.io');
const quantity = fc.integer({ min: 1, max: 100 });
const item = fc.record(
  { name: name(32), quantity, email, tags: fc.array(text, { maxLength: 5 }) },
  { requiredKeys: ['name', 'quantity', 'email'] },
);
const line = fc.record(
  { sku: name(32), quantity, note: fc.option(name(200), { nil: undefined }) },
  { requiredKeys: ['sku', 'quantity'] },
);
const order = fc.record(
  {
    customer: fc.record({ name: name(64), email }),
    lines: fc.array(line, { maxLength: 25 }),
    comment: name(500),
  },
  { requiredKeys: ['customer', 'lines'] },
);

describe("the compiled JSON writer writes JSON.stringify's text", () => {
  it('quotes strings as JSON.stringify', () => {
    fc.assert(
      fc.property(text, (s) => expect(quote(s)).toBe(JSON.stringify(s))),
      {
        numRuns: 2000,
      },
    );
  });

  it('leaves as they are only the strings JSON.stringify writes unescaped', () => {
    fc.assert(
      fc.property(text, (s) => {
        if (bare(s)) expect(JSON.stringify(s)).toBe('"' + s + '"');
      }),
      { numRuns: 2000 },
    );
    for (const c of ['"', '\\', '\u0000', '\u001f', '\ud800', '\udbff', '\udc00', '\udfff'])
      expect(bare(`ab${c}cd`)).toBe(false);
    for (const s of [
      '',
      'SKU-1000',
      'dev@example.com',
      '\u007f\u2028\ud7ff\ue000\uffff',
      'x'.repeat(128),
    ])
      expect(bare(s)).toBe(true);
    expect(bare('x'.repeat(129))).toBe(false);
  });

  it('writes the instances the compiled input path builds, untouched', () => {
    fc.assert(
      fc.property(fc.oneof(item, order), (plain) => {
        const instance = build('lines' in plain ? OrderInput : ItemInput, plain);
        expect(instance).toBeDefined();
        // never given up on: the writer is what answers these
        expect(same(instance as object)).toBeDefined();
      }),
      { numRuns: 1000 },
    );
  });

  it('writes them changed by hand, or gives up', () => {
    let written = 0;
    fc.assert(
      fc.property(fc.oneof(item, order), fc.array(change, { maxLength: 4 }), (plain, changes) => {
        const instance = build('lines' in plain ? OrderInput : ItemInput, plain) as object;
        apply(instance, changes);
        if (same(instance) !== undefined) written++;
      }),
      { numRuns: 3000 },
    );
    expect(written).toBeGreaterThan(1000); // most changes are written, not given up on
  });

  it('writes values of any shape and a nesting of its own class', () => {
    const tree: fc.Arbitrary<Tree> = fc.letrec<{ tree: Tree }>((tie) => ({
      tree: fc
        .record({
          label: text,
          children: fc.oneof(
            { maxDepth: 4, depthIdentifier: 'tree' },
            fc.constant([] as Tree[]),
            fc.array(tie('tree'), { maxLength: 3, depthIdentifier: 'tree' }),
          ),
          junk,
        })
        .map((r) => {
          const t = new Tree();
          t.label = r.label;
          if (r.children.length > 0) t.children = r.children;
          if (r.junk !== undefined) (t as unknown as Record<string, unknown>).junk = r.junk;
          return t;
        }),
    })).tree;
    fc.assert(
      fc.property(tree, (t) => void same(t)),
      { numRuns: 1000 },
    );
  });

  it('gives up on a cycle, a toJSON, a BigInt, a too deep nesting, and other classes', () => {
    const t = Object.assign(new Tree(), { label: 'a' });
    t.children = [t];
    expect(write(t)).toBeUndefined();
    let deep = Object.assign(new Tree(), { label: 'leaf' });
    for (let i = 0; i < 100; i++)
      deep = Object.assign(new Tree(), { label: 'n', children: [deep] });
    expect(write(deep)).toBeUndefined();
    const i = build(ItemInput, { name: 'w', quantity: 1, email: 'dev@example.com' }) as Record<
      string,
      unknown
    >;
    expect(write(i)).toBe('{"name":"w","quantity":1,"email":"dev@example.com"}');
    // its own keys only, as JSON.stringify
    expect(write(Object.create(i) as object)).toBe('{}');
    expect(write({ ...i })).toBeUndefined(); // a plain object: the kernel's JSON.stringify
    i.toResponse = () => null; // the kernel's toResponse() calls it
    expect(write(i)).toBeUndefined();
    delete i.toResponse;
    i.when = new Date(0);
    expect(write(i)).toBeUndefined();
    i.when = 10n;
    expect(write(i)).toBeUndefined();
    expect(write(new Customer())).toBeUndefined();
    expect(jsonWriter([Dated])).toBeUndefined();
  });
});

describe('HTTP', () => {
  @Controller('/')
  class C {
    @Post('/item')
    @Schema({ request: ItemInput })
    item(req: Request<ItemInput>) {
      if (req.data.name === 'mutate') {
        (req.data as unknown as Record<string, unknown>).name = 'lone \ud800 "quoted"';
        (req.data as unknown as Record<string, unknown>).extra = { toJSON: () => 'custom' };
      }
      return req.data;
    }
    @Post('/order')
    @Schema({ request: OrderInput })
    order(req: Request<OrderInput>) {
      return req.data;
    }
    @Post('/created')
    @Schema({ request: ItemInput, status: 201 })
    created(req: Request<ItemInput>) {
      return req.data;
    }
  }

  it("answers with JSON.stringify's bytes and headers", async () => {
    const client = await testClient(createApp({ controllers: [C], plugins: [schemas()] }));
    try {
      const body = {
        name: 'wïdget 😀',
        quantity: 3,
        email: 'dev@example.com',
        tags: ['a', '\u0001'],
        extra: 'dropped',
      };
      let res = await client.post('/item', { json: body });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
      const { extra: _, ...kept } = body;
      const text = await res.text();
      expect(text).toBe(JSON.stringify(kept));
      expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(text)));

      res = await client.post('/item', { json: { ...body, name: 'mutate' } });
      expect(await res.text()).toBe(
        JSON.stringify({ ...kept, name: 'lone \ud800 "quoted"', extra: 'custom' }),
      );

      const order = {
        customer: { name: 'Ada', email: 'ada@example.com' },
        lines: Array.from({ length: 20 }, (_, i) => ({ sku: `SKU-${i}`, quantity: i + 1 })),
        comment: 'tab\there',
      };
      res = await client.post('/order', { json: order });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(JSON.stringify(order));

      res = await client.post('/created', { json: body });
      expect(res.status).toBe(201);
      expect(await res.text()).toBe(JSON.stringify(kept));
    } finally {
      await client.close();
    }
  });
});

describe("a route's serialize (the kernel's seam)", () => {
  class Point {
    constructor(
      public x: number,
      public y: number,
    ) {}
  }
  @Controller('/')
  class P {
    @Get('/point')
    point() {
      return new Point(1, 2);
    }
    @Get('/other')
    other() {
      return new Point(3, 4);
    }
    @Get('/plain')
    plain() {
      return { x: 5 };
    }
  }
  const JSON_TYPE = 'application/json; charset=utf-8';
  /** Each path's type and body, after checking that it is a 200. */
  const bodies = async (client: TestClient, paths: string[]) => {
    const out: [string | null, string][] = [];
    for (const path of paths) {
      const res = await client.get(path);
      expect(res.status).toBe(200);
      out.push([res.headers.get('content-type'), await res.text()]);
    }
    return out;
  };
  const pointWriter: Plugin = {
    name: 'points',
    route(route) {
      if (route.pattern !== '/other')
        route.serialize = (v) => (v instanceof Point ? `[${v.x},${v.y}]` : undefined);
      else route.serialize = () => undefined; // "not mine": JSON.stringify as before
    },
  };

  it('writes the body that a middleware and a send hook see, falls back on undefined', async () => {
    const seen: string[] = [];
    @Controller('/')
    class M {
      @Get('/point')
      @Use(async (_req, next) => {
        const response = await next();
        seen.push(`middleware ${String(response.body)}`);
        return response;
      })
      point() {
        return new Point(1, 2);
      }
      @Get('/other')
      @Use((_req, next) => next())
      async other() {
        return new Point(3, 4);
      }
      @Get('/bare')
      bare() {
        return new Point(5, 6);
      }
    }
    const hook: Plugin = {
      name: 'hook',
      setup(app) {
        app.onSend((req, response) => void seen.push(`${req.path} ${String(response.body)}`));
      },
    };
    const client = await testClient(createApp({ controllers: [M], plugins: [pointWriter, hook] }));
    try {
      expect(await bodies(client, ['/point', '/other', '/bare'])).toEqual([
        [JSON_TYPE, '[1,2]'],
        [JSON_TYPE, '{"x":3,"y":4}'],
        [JSON_TYPE, '[5,6]'],
      ]);
      expect(seen).toEqual([
        'middleware [1,2]',
        '/point [1,2]',
        '/other {"x":3,"y":4}',
        '/bare [5,6]',
      ]);
    } finally {
      await client.close();
    }
  });

  it('writes what the handler returned, falls back on undefined, leaves plain objects alone', async () => {
    const client = await testClient(createApp({ controllers: [P], plugins: [pointWriter] }));
    try {
      expect(await bodies(client, ['/point', '/other', '/plain'])).toEqual([
        [JSON_TYPE, '[1,2]'],
        [JSON_TYPE, '{"x":3,"y":4}'],
        [JSON_TYPE, '{"x":5}'],
      ]);
    } finally {
      await client.close();
    }
  });
});
