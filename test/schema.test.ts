import { Expose, plainToInstance, Type } from 'class-transformer';
import {
  IsArray,
  IsBoolean,
  IsDate,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Length,
  Matches,
  MaxLength,
  Min,
  validate,
  ValidateNested,
} from 'class-validator';
import {
  Controller,
  createApp,
  Delete,
  flattenErrors,
  Get,
  HTTPConflict,
  HTTPForbidden,
  immutableSettings,
  json,
  Post,
  Request,
  RococoError,
  Schema,
  serialize,
  type Constructor,
  type SchemaOptions,
  schemas,
} from '../src';
import { testClient, type TestClient } from '../src/testing';
import { memoryLogger, type LogRecord } from './helpers/memory-logger';

/**
 * `@Schema` through real HTTP: conversion of strings (query, params, forms) to the declared
 * types, JSON left as sent, whitelist and forbidUnknown, nested errors with their paths,
 * non-object bodies, prototype-pollution attempts, and the serialization of responses.
 */

const JSON_TYPE = 'application/json; charset=utf-8';
const PROBLEM_TYPE = 'application/problem+json';
const FORBIDDEN = ['__proto__', 'constructor', 'prototype'];

// --- schema classes ----------------------------------------------------------------------------

/** One property of each convertible type. */
class Conv {
  @IsOptional() @IsInt() int?: number;
  @IsOptional() @IsNumber() float?: number;
  @IsOptional() @IsBoolean() flag?: boolean;
  @IsOptional() @IsDate() when?: Date;
  @IsOptional() @IsArray() @IsString({ each: true }) tags?: string[];
  @IsOptional() @IsArray() @Type(() => Number) @IsInt({ each: true }) ids?: number[];
  @IsOptional() @IsString() text?: string;
}

/** Route parameters, all strings in the path. */
class ConvParams {
  @IsInt() @Min(1) int!: number;
  @IsNumber() float!: number;
  @IsBoolean() flag!: boolean;
  @IsDate() when!: Date;
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

class ThingParams {
  @IsInt() @Min(1) thing_id!: number;
}

class ThingQuery {
  @IsOptional() @IsInt() @Min(1) page?: number;
  @IsOptional() @IsBoolean() archived?: boolean;
}

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

/** A response class with validators: what the handler returns is checked against it. */
class StrictOut {
  @Expose() @IsInt() id!: number;
  @Expose() @IsString() @Length(1, 8) name!: string;
}

/** A database row as a handler gets it: with columns the API must never show. */
function row(id = 1) {
  return {
    id,
    name: `project ${id}`,
    password_hash: '$2b$12$rowsecret',
    internal_notes: 'do not show',
    owner: { id: 9, name: 'Ann', password_hash: '$2b$12$ownersecret', email: 'ann@example.com' },
    members: [
      { id: 9, name: 'Ann', password_hash: '$2b$12$m1' },
      { id: 10, name: 'Bob', password_hash: '$2b$12$m2' },
    ],
    created_at: new Date('2024-05-01T10:20:30.000Z'),
  };
}

/** `row()` as the API must show it. */
function shown(id = 1) {
  return {
    id,
    name: `project ${id}`,
    owner: { id: 9, name: 'Ann' },
    members: [
      { id: 9, name: 'Ann' },
      { id: 10, name: 'Bob' },
    ],
    created_at: '2024-05-01T10:20:30.000Z',
  };
}

/** A value's own defined properties with their runtime types, to see what a conversion gave. */
function typed(value: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    if (v instanceof Date)
      out[k] = ['Date', Number.isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString()];
    else if (Array.isArray(v)) out[k] = ['array', v.map((x) => [typeof x, x])];
    else out[k] = [typeof v, v];
  }
  return out;
}

/** What a handler can tell about a validated instance: its class and no forbidden own key. */
function inspect(value: object, cls: Constructor) {
  return {
    isInstance: value instanceof cls,
    constructorIsClass: value.constructor === cls,
    prototypeIsClass: Object.getPrototypeOf(value) === cls.prototype,
    forbiddenOwnKeys: Reflect.ownKeys(value).filter((k) => FORBIDDEN.includes(String(k))),
  };
}

// --- controllers ---------------------------------------------------------------------------------

@Controller()
class ConvController {
  @Get('/conv')
  @Schema(Conv)
  getConv(req: Request<Conv>) {
    return { data: typed(req.data), isInstance: req.data instanceof Conv };
  }

  @Delete('/conv')
  @Schema(Conv)
  deleteConv(req: Request<Conv>) {
    return { data: typed(req.data), isInstance: req.data instanceof Conv };
  }

  @Post('/conv')
  @Schema(Conv)
  postConv(req: Request<Conv>) {
    return { data: typed(req.data), isInstance: req.data instanceof Conv };
  }

  @Get('/params/<int:-?\\d+>/<float>/<flag>/<when>')
  @Schema({ params: ConvParams })
  params(req: Request<unknown, unknown, ConvParams>) {
    return {
      params: typed(req.validParams),
      isInstance: req.validParams instanceof ConvParams,
      data: req.data === undefined,
      raw: req.params,
    };
  }

  @Get('/things/<thing_id>')
  @Schema({ params: ThingParams, query: ThingQuery })
  thing(req: Request<unknown, ThingQuery, ThingParams>) {
    return {
      params: typed(req.validParams),
      query: typed(req.validQuery),
      paramsIsInstance: req.validParams instanceof ThingParams,
      queryIsInstance: req.validQuery instanceof ThingQuery,
      data: req.data === undefined,
    };
  }
}

@Controller()
class InputController {
  @Post('/projects')
  @Schema(AddProject)
  add(req: Request<AddProject>) {
    return {
      data: req.data,
      hasExtra: Object.hasOwn(req.data, 'extra'),
      ...inspect(req.data, AddProject),
      items: (req.data.items ?? []).map((item) => inspect(item, Item)),
    };
  }

  @Post('/strict')
  @Schema({ request: AddProject, forbidUnknown: true })
  strict(req: Request<AddProject>) {
    return { data: req.data };
  }

  @Get('/strict-query')
  @Schema({ request: Conv, forbidUnknown: true })
  strictQuery(req: Request<Conv>) {
    return { data: typed(req.data) };
  }

  @Post('/orders')
  @Schema(Order)
  order(req: Request<Order>) {
    return {
      data: req.data,
      isInstance: req.data instanceof Order,
      ownerIsOwner: req.data.owner instanceof Owner,
      addressIsAddress: req.data.owner.address instanceof Address,
      linesAreLines: req.data.lines.every((l) => l instanceof Line),
    };
  }

  @Post('/plain')
  async plain(req: Request) {
    return {
      data: req.data === undefined,
      validQuery: req.validQuery === undefined,
      validParams: req.validParams === undefined,
      body: await req.json(),
    };
  }
}

@Controller()
class OutputController {
  @Get('/view')
  @Schema({ response: ProjectView })
  view() {
    return row(1);
  }

  @Get('/views')
  @Schema({ response: [ProjectView] })
  async views() {
    return [row(1), row(2)];
  }

  @Post('/views')
  @Schema({ request: AddProject, response: ProjectView, status: 201 })
  addView(req: Request<AddProject>) {
    return { ...row(3), name: req.data.name };
  }

  @Post('/created')
  @Schema({ request: AddProject, status: 201 })
  created(req: Request<AddProject>) {
    return { name: req.data.name };
  }

  @Get('/strict-out/<mode>')
  @Schema({ response: StrictOut })
  strictOut(req: Request) {
    if (req.params.mode === 'good') return { id: 3, name: 'ok', password_hash: 'hunter2' };
    if (req.params.mode === 'list') return [{ id: 3, name: 'ok' }];
    return { id: 'seven', name: '', password_hash: 'hunter2' };
  }

  @Get('/strict-list/<mode>')
  @Schema({ response: [StrictOut] })
  strictList(req: Request) {
    if (req.params.mode === 'good') return [{ id: 1, name: 'a', password_hash: 'x' }];
    return { id: 3, name: 'ok' };
  }

  @Post('/passthrough/<mode>')
  @Schema({ request: AddProject, response: StrictOut, status: 201 })
  passthrough(req: Request<AddProject>) {
    if (req.params.mode === 'response')
      return json(
        { custom: req.data.name, password_hash: 'as the handler chose' },
        { status: 202, headers: { 'x-custom': 'yes' } },
      );
    if (req.params.mode === 'returned') return new HTTPForbidden('Not yours');
    throw new HTTPConflict('The slug is taken');
  }
}

@Controller()
class UnknownOption {
  @Get('/x')
  @Schema({ request: AddProject, reponse: StrictOut } as unknown as SchemaOptions)
  x() {
    return {};
  }
}

@Controller()
class NotAClass {
  @Post('/x')
  @Schema({ request: 'AddProject' } as unknown as SchemaOptions)
  x() {
    return {};
  }
}

/** What a JSON-body @Schema route without a response class may return (its own fast path). */
@Controller()
class ReturnsController {
  @Post('/returns/<mode>')
  @Schema({ request: AddProject })
  returns(req: Request<AddProject>) {
    const mode = req.params.mode;
    if (mode === 'data') return req.data;
    if (mode === 'promise') return Promise.resolve({ name: req.data.name });
    if (mode === 'thenable')
      return { then: (done: (v: unknown) => void) => done({ thenable: req.data.name }) };
    if (mode === 'response') return json({ custom: req.data.name }, { status: 202 });
    if (mode === 'rejected') return Promise.reject(new HTTPConflict('Rejected'));
    if (mode === 'undefined') return undefined;
    if (mode === 'json')
      return Promise.all([req.json(), req.json()]).then(([a, b]) => ({ body: a, same: a === b }));
    throw new HTTPConflict('The slug is taken');
  }
}

// --- helpers -------------------------------------------------------------------------------------

let client: TestClient;

beforeAll(async () => {
  client = await testClient(
    createApp({
      plugins: [schemas()],
      controllers: [ConvController, InputController, OutputController, ReturnsController],
    }),
  );
});

afterAll(async () => {
  await client?.close();
});

afterEach(() => {
  // No request of any test may have reached Object.prototype.
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted');
});

type Source = 'query' | 'urlencoded' | 'multipart' | 'delete-query';

/** Sends `pairs` to the Conv routes as a query string, a urlencoded form or a multipart form. */
function sendConv(source: Source, pairs: [string, string][]): Promise<globalThis.Response> {
  if (source === 'query') return client.get('/conv?' + new URLSearchParams(pairs).toString());
  if (source === 'delete-query')
    return client.delete('/conv?' + new URLSearchParams(pairs).toString());
  if (source === 'urlencoded') return client.post('/conv', { form: new URLSearchParams(pairs) });
  const form = new FormData();
  for (const [k, v] of pairs) form.append(k, v);
  return client.post('/conv', { form });
}

function problem422(detail: string, errors: { path: string; messages: string[] }[]) {
  return { type: 'about:blank', title: 'Unprocessable Entity', status: 422, detail, errors };
}

async function expectProblem(
  res: globalThis.Response,
  status: number,
  body: Record<string, unknown>,
): Promise<void> {
  expect([res.status, res.headers.get('content-type'), await res.json()]).toEqual([
    status,
    PROBLEM_TYPE,
    body,
  ]);
}

async function expectJson(res: globalThis.Response, status: number, body: unknown): Promise<void> {
  expect([res.status, res.headers.get('content-type'), await res.json()]).toEqual([
    status,
    JSON_TYPE,
    body,
  ]);
}

/** Each conversion: what was sent, and the property as the handler saw it. */
const CONVERSIONS: [[string, string][], Record<string, unknown>][] = [
  [[['int', '42']], { int: ['number', 42] }],
  [[['int', '-7']], { int: ['number', -7] }],
  [[['int', '0']], { int: ['number', 0] }],
  [[['float', '2.5']], { float: ['number', 2.5] }],
  [[['float', '-0.125']], { float: ['number', -0.125] }],
  [[['float', '3']], { float: ['number', 3] }],
  [[['flag', 'true']], { flag: ['boolean', true] }],
  [[['flag', '1']], { flag: ['boolean', true] }],
  [[['flag', 'yes']], { flag: ['boolean', true] }],
  [[['flag', 'on']], { flag: ['boolean', true] }],
  [[['flag', 'false']], { flag: ['boolean', false] }],
  [[['flag', '0']], { flag: ['boolean', false] }],
  [[['flag', 'no']], { flag: ['boolean', false] }],
  [[['flag', 'off']], { flag: ['boolean', false] }],
  [[['when', '2024-05-01T10:20:30Z']], { when: ['Date', '2024-05-01T10:20:30.000Z'] }],
  [[['when', '2024-05-01']], { when: ['Date', '2024-05-01T00:00:00.000Z'] }],
  [
    [
      ['tags', 'a'],
      ['tags', 'b'],
    ],
    {
      tags: [
        'array',
        [
          ['string', 'a'],
          ['string', 'b'],
        ],
      ],
    },
  ],
  [[['tags', 'solo']], { tags: ['array', [['string', 'solo']]] }],
  [
    [
      ['ids', '1'],
      ['ids', '2'],
      ['ids', '30'],
    ],
    {
      ids: [
        'array',
        [
          ['number', 1],
          ['number', 2],
          ['number', 30],
        ],
      ],
    },
  ],
  [[['ids', '7']], { ids: ['array', [['number', 7]]] }],
  // A string property stays a string, however numeric or boolean it looks.
  [[['text', '42']], { text: ['string', '42'] }],
  [[['text', 'true']], { text: ['string', 'true'] }],
  [
    [
      ['int', '5'],
      ['float', '0.5'],
      ['flag', 'off'],
      ['when', '2000-01-02T03:04:05.678Z'],
      ['tags', 'x'],
      ['ids', '8'],
      ['text', 'hi'],
    ],
    {
      int: ['number', 5],
      float: ['number', 0.5],
      flag: ['boolean', false],
      when: ['Date', '2000-01-02T03:04:05.678Z'],
      tags: ['array', [['string', 'x']]],
      ids: ['array', [['number', 8]]],
      text: ['string', 'hi'],
    },
  ],
];

/** Strings that do not convert: a 422 naming the field. */
const INVALID: [[string, string][], { path: string; messages: string[] }[]][] = [
  [[['int', '4.5']], [{ path: 'int', messages: ['int must be an integer number'] }]],
  [[['int', 'abc']], [{ path: 'int', messages: ['int must be an integer number'] }]],
  [[['int', '']], [{ path: 'int', messages: ['int must be an integer number'] }]],
  [
    [
      ['int', '1'],
      ['int', '2'],
    ],
    [{ path: 'int', messages: ['int must be an integer number'] }],
  ],
  [
    [['float', 'abc']],
    [
      {
        path: 'float',
        messages: ['float must be a number conforming to the specified constraints'],
      },
    ],
  ],
  [[['flag', 'maybe']], [{ path: 'flag', messages: ['flag must be a boolean value'] }]],
  [[['flag', '']], [{ path: 'flag', messages: ['flag must be a boolean value'] }]],
  [[['when', 'not-a-date']], [{ path: 'when', messages: ['when must be a Date instance'] }]],
  [
    [
      ['ids', '1'],
      ['ids', 'x'],
    ],
    [{ path: 'ids', messages: ['each value in ids must be an integer number'] }],
  ],
  [
    [
      ['int', 'x'],
      ['float', 'y'],
      ['flag', 'z'],
      ['when', 'w'],
    ],
    [
      { path: 'int', messages: ['int must be an integer number'] },
      {
        path: 'float',
        messages: ['float must be a number conforming to the specified constraints'],
      },
      { path: 'flag', messages: ['flag must be a boolean value'] },
      { path: 'when', messages: ['when must be a Date instance'] },
    ],
  ],
];

// --- conversions ---------------------------------------------------------------------------------

describe.each<[Source, string]>([
  ['query', 'The query string did not validate'],
  ['delete-query', 'The query string did not validate'],
  ['urlencoded', 'The body did not validate'],
  ['multipart', 'The body did not validate'],
])('strings from %s', (source, detail) => {
  test('convert to the declared types', async () => {
    const got: unknown[] = [];
    for (const [pairs] of CONVERSIONS) {
      const res = await sendConv(source, pairs);
      got.push([pairs, res.status, await res.json()]);
    }
    expect(got).toEqual(
      CONVERSIONS.map(([pairs, data]) => [pairs, 200, { data, isInstance: true }]),
    );
  });

  test('that do not convert are a 422 naming each field', async () => {
    const got: unknown[] = [];
    for (const [pairs] of INVALID) {
      const res = await sendConv(source, pairs);
      got.push([pairs, res.status, res.headers.get('content-type'), await res.json()]);
    }
    expect(got).toEqual(
      INVALID.map(([pairs, errors]) => [pairs, 422, PROBLEM_TYPE, problem422(detail, errors)]),
    );
  });

  test('nothing sent: every optional property stays undefined', async () => {
    await expectJson(await sendConv(source, []), 200, { data: {}, isInstance: true });
  });
});

test('route parameters are converted into req.validParams', async () => {
  const res = await client.get('/params/12/0.25/yes/2024-05-01T10%3A20%3A30Z');
  await expectJson(res, 200, {
    params: {
      int: ['number', 12],
      float: ['number', 0.25],
      flag: ['boolean', true],
      when: ['Date', '2024-05-01T10:20:30.000Z'],
    },
    isInstance: true,
    data: true,
    raw: { int: '12', float: '0.25', flag: 'yes', when: '2024-05-01T10:20:30Z' },
  });
  const off = await client.get('/params/1/-3/off/2024-01-01');
  expect((await off.json()).params).toEqual({
    int: ['number', 1],
    float: ['number', -3],
    flag: ['boolean', false],
    when: ['Date', '2024-01-01T00:00:00.000Z'],
  });
});

test('route parameters that do not convert are a 422 listing every field', async () => {
  await expectProblem(
    await client.get('/params/0/abc/maybe/never'),
    422,
    problem422('The path did not validate', [
      { path: 'int', messages: ['int must not be less than 1'] },
      {
        path: 'float',
        messages: ['float must be a number conforming to the specified constraints'],
      },
      { path: 'flag', messages: ['flag must be a boolean value'] },
      { path: 'when', messages: ['when must be a Date instance'] },
    ]),
  );
});

test('explicit query and params schemas: req.validQuery and req.validParams are instances of their classes', async () => {
  await expectJson(await client.get('/things/5?page=2&archived=no&extra=dropped'), 200, {
    params: { thing_id: ['number', 5] },
    query: { page: ['number', 2], archived: ['boolean', false] },
    paramsIsInstance: true,
    queryIsInstance: true,
    data: true,
  });
  await expectProblem(
    await client.get('/things/0'),
    422,
    problem422('The path did not validate', [
      { path: 'thing_id', messages: ['thing_id must not be less than 1'] },
    ]),
  );
  await expectProblem(
    await client.get('/things/abc'),
    422,
    problem422('The path did not validate', [
      {
        path: 'thing_id',
        messages: ['thing_id must not be less than 1', 'thing_id must be an integer number'],
      },
    ]),
  );
  await expectProblem(
    await client.get('/things/3?page=0&archived=perhaps'),
    422,
    problem422('The query string did not validate', [
      { path: 'page', messages: ['page must not be less than 1'] },
      { path: 'archived', messages: ['archived must be a boolean value'] },
    ]),
  );
});

// --- JSON ------------------------------------------------------------------------------------------

describe('JSON bodies', () => {
  test('are taken with their own types', async () => {
    await expectJson(
      await client.post('/conv', {
        json: { int: 42, float: 2.5, flag: false, tags: ['a'], ids: [1, 2], text: 'x' },
      }),
      200,
      {
        data: {
          int: ['number', 42],
          float: ['number', 2.5],
          flag: ['boolean', false],
          tags: ['array', [['string', 'a']]],
          ids: [
            'array',
            [
              ['number', 1],
              ['number', 2],
            ],
          ],
          text: ['string', 'x'],
        },
        isInstance: true,
      },
    );
  });

  test('are not coerced: strings for numbers, booleans and dates, a single value for a list, are 422s', async () => {
    await expectProblem(
      await client.post('/conv', {
        json: {
          int: '42',
          float: '2.5',
          flag: 'true',
          when: '2024-05-01T10:20:30Z',
          tags: 'a',
          text: 42,
        },
      }),
      422,
      problem422('The body did not validate', [
        { path: 'int', messages: ['int must be an integer number'] },
        {
          path: 'float',
          messages: ['float must be a number conforming to the specified constraints'],
        },
        { path: 'flag', messages: ['flag must be a boolean value'] },
        { path: 'when', messages: ['when must be a Date instance'] },
        { path: 'tags', messages: ['tags must be an array'] },
        { path: 'text', messages: ['text must be a string'] },
      ]),
    );
    await expectProblem(
      await client.post('/conv', { json: { int: '42' } }),
      422,
      problem422('The body did not validate', [
        { path: 'int', messages: ['int must be an integer number'] },
      ]),
    );
  });

  test('nested objects built by @Type are not coerced either', async () => {
    const body = {
      title: 'T',
      owner: { name: 'Ann', address: { city: 'Kyiv' } },
      lines: [{ name: 'tea', qty: '3' }],
    };
    await expectProblem(
      await client.post('/orders', { json: body }),
      422,
      problem422('The body did not validate', [
        {
          path: 'lines[0].qty',
          messages: ['qty must not be less than 1', 'qty must be an integer number'],
        },
      ]),
    );
  });

  test('non-object bodies are a 422, not a 500', async () => {
    const notObject = problem422('The body did not validate', [
      { path: '', messages: ['The body must be a JSON object.'] },
    ]);
    for (const value of [[{ name: 'a', slug: 'a' }], [], 'a string', 42, 0, true, null]) {
      await expectProblem(await client.post('/projects', { json: value }), 422, notObject);
    }
  });

  test('malformed JSON is a 400', async () => {
    const res = await client.post('/projects', {
      body: '{"name": ',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(400);
  });
});

// --- whitelist and forbid ---------------------------------------------------------------------------

test('unknown properties are stripped: the handler never sees them', async () => {
  const res = await client.post('/projects', {
    json: {
      name: 'Rococo',
      slug: 'rococo',
      extra: 1,
      isAdmin: true,
      items: [{ name: 'a', color: 'red' }],
    },
  });
  await expectJson(res, 200, {
    data: { name: 'Rococo', slug: 'rococo', items: [{ name: 'a' }] },
    hasExtra: false,
    isInstance: true,
    constructorIsClass: true,
    prototypeIsClass: true,
    forbiddenOwnKeys: [],
    items: [
      { isInstance: true, constructorIsClass: true, prototypeIsClass: true, forbiddenOwnKeys: [] },
    ],
  });
  const form = await client.post('/projects', { form: { name: 'F', slug: 'f', extra: 'x' } });
  expect([form.status, (await form.json()).data]).toEqual([200, { name: 'F', slug: 'f' }]);
  const query = await client.get('/conv?int=1&extra=x');
  await expectJson(query, 200, { data: { int: ['number', 1] }, isInstance: true });
});

test('forbidUnknown: true makes unknown properties a 422 naming them, nested ones too', async () => {
  await expectProblem(
    await client.post('/strict', { json: { name: 'Rococo', slug: 'rococo', extra: 1 } }),
    422,
    problem422('The body did not validate', [
      { path: 'extra', messages: ['property extra should not exist'] },
    ]),
  );
  await expectProblem(
    await client.post('/strict', {
      json: {
        name: 'Rococo',
        slug: 'rococo',
        items: [{ name: 'a' }, { name: 'b', color: 'red' }],
        extra: 1,
      },
    }),
    422,
    problem422('The body did not validate', [
      { path: 'extra', messages: ['property extra should not exist'] },
      { path: 'items[1].color', messages: ['property color should not exist'] },
    ]),
  );
  await expectProblem(
    await client.post('/strict', { form: { name: 'Rococo', slug: 'rococo', extra: 'x' } }),
    422,
    problem422('The body did not validate', [
      { path: 'extra', messages: ['property extra should not exist'] },
    ]),
  );
  await expectProblem(
    await client.get('/strict-query?int=1&extra=x'),
    422,
    problem422('The query string did not validate', [
      { path: 'extra', messages: ['property extra should not exist'] },
    ]),
  );
  await expectJson(
    await client.post('/strict', { json: { name: 'Rococo', slug: 'rococo' } }),
    200,
    { data: { name: 'Rococo', slug: 'rococo' } },
  );
});

// --- nested objects and arrays ----------------------------------------------------------------------

test('nested objects and arrays validate into instances of their classes', async () => {
  const body = {
    title: 'Order 1',
    owner: { name: 'Ann', address: { city: 'Kyiv', street: 'Khreshchatyk', zip: 'dropped' } },
    lines: [
      { name: 'tea', qty: 2 },
      { name: 'cake', qty: 1, price: 'dropped' },
    ],
  };
  await expectJson(await client.post('/orders', { json: body }), 200, {
    data: {
      title: 'Order 1',
      owner: { name: 'Ann', address: { city: 'Kyiv', street: 'Khreshchatyk' } },
      lines: [
        { name: 'tea', qty: 2 },
        { name: 'cake', qty: 1 },
      ],
    },
    isInstance: true,
    ownerIsOwner: true,
    addressIsAddress: true,
    linesAreLines: true,
  });
});

test('every failing field is reported at once, top-level and nested, with its path', async () => {
  const body = {
    title: '',
    owner: { name: 7, address: { city: '', street: 5 } },
    lines: [{ name: 1, qty: 1 }, { name: 'ok', qty: 0 }, 'not an object'],
  };
  await expectProblem(
    await client.post('/orders', { json: body }),
    422,
    problem422('The body did not validate', [
      { path: 'title', messages: ['title must be longer than or equal to 1 characters'] },
      { path: 'owner.name', messages: ['name must be a string'] },
      {
        path: 'owner.address.city',
        messages: ['city must be longer than or equal to 1 characters'],
      },
      { path: 'owner.address.street', messages: ['street must be a string'] },
      { path: 'lines[0].name', messages: ['name must be a string'] },
      { path: 'lines[1].qty', messages: ['qty must not be less than 1'] },
      {
        path: 'lines[2]',
        messages: ['each value in nested property lines must be either object or array'],
      },
    ]),
  );
});

test('wrong types and missing fields at every level', async () => {
  await expectProblem(
    await client.post('/orders', { json: { title: 5, owner: 'Ann', lines: { name: 'tea' } } }),
    422,
    problem422('The body did not validate', [
      {
        path: 'title',
        messages: [
          'title must be longer than or equal to 1 and shorter than or equal to 32 characters',
          'title must be a string',
        ],
      },
      { path: 'owner', messages: ['nested property owner must be either object or array'] },
      { path: 'lines', messages: ['lines must be an array'] },
      // An object where the list was expected is still checked as one Line.
      {
        path: 'lines.qty',
        messages: ['qty must not be less than 1', 'qty must be an integer number'],
      },
    ]),
  );
  await expectProblem(
    await client.post('/orders', { json: { owner: { address: {} }, lines: [{}] } }),
    422,
    problem422('The body did not validate', [
      {
        path: 'title',
        messages: ['title must be longer than or equal to 1 characters', 'title must be a string'],
      },
      { path: 'owner.name', messages: ['name must be a string'] },
      {
        path: 'owner.address.city',
        messages: ['city must be longer than or equal to 1 characters', 'city must be a string'],
      },
      { path: 'lines[0].name', messages: ['name must be a string'] },
      {
        path: 'lines[0].qty',
        messages: ['qty must not be less than 1', 'qty must be an integer number'],
      },
    ]),
  );
  await expectProblem(
    await client.post('/projects', {
      json: { name: 5, slug: 'Bad Slug', description: 'x'.repeat(256), items: [{ name: 1 }] },
    }),
    422,
    problem422('The body did not validate', [
      {
        path: 'name',
        messages: [
          'name must be longer than or equal to 1 and shorter than or equal to 32 characters',
          'name must be a string',
        ],
      },
      { path: 'slug', messages: ['slug must match /^[a-z0-9-]+$/ regular expression'] },
      {
        path: 'description',
        messages: ['description must be shorter than or equal to 255 characters'],
      },
      { path: 'items[0].name', messages: ['name must be a string'] },
    ]),
  );
});

// --- bodies -----------------------------------------------------------------------------------------

test('an empty POST body is validated as an empty object: the required fields fail', async () => {
  await expectProblem(
    await client.post('/projects'),
    422,
    problem422('The body did not validate', [
      {
        path: 'name',
        messages: ['name must be longer than or equal to 1 characters', 'name must be a string'],
      },
      {
        path: 'slug',
        messages: [
          'slug must be longer than or equal to 1 characters',
          'slug must match /^[a-z0-9-]+$/ regular expression',
        ],
      },
    ]),
  );
});

test('a body of an unsupported content type is a 415', async () => {
  await expectProblem(
    await client.post('/projects', { body: 'name=x', headers: { 'content-type': 'text/plain' } }),
    415,
    {
      type: 'about:blank',
      title: 'Unsupported Media Type',
      status: 415,
      detail: "Send JSON, urlencoded or multipart data, not 'text/plain'",
    },
  );
  await expectProblem(await client.post('/projects', { body: '{"name":"x","slug":"x"}' }), 415, {
    type: 'about:blank',
    title: 'Unsupported Media Type',
    status: 415,
    detail: "Send JSON, urlencoded or multipart data, not 'none'",
  });
});

test('a +json content type is read as JSON', async () => {
  const res = await client.post('/projects', {
    body: '{"name":"J","slug":"j"}',
    headers: { 'content-type': 'application/merge-patch+json' },
  });
  expect([res.status, (await res.json()).data]).toEqual([200, { name: 'J', slug: 'j' }]);
});

// --- prototype pollution ------------------------------------------------------------------------------

describe('prototype pollution', () => {
  const refused = async (text: string) => {
    const res = await client.post('/projects', {
      body: text,
      headers: { 'content-type': 'application/json' },
    });
    const body = await res.json();
    expect([res.status, res.headers.get('content-type'), body.title]).toEqual([
      400,
      PROBLEM_TYPE,
      'Bad Request',
    ]);
  };

  test('__proto__ in JSON, at any depth, is a 400 from the body parser', async () => {
    await refused('{"name":"a","slug":"a","__proto__":{"polluted":true}}');
    await refused('{"name":"a","slug":"a","items":[{"name":"i","__proto__":{"polluted":true}}]}');
    await refused('{"name":"a","slug":"a","\\u005f_proto__":{"polluted":true}}');
    await refused('{"name":"a","slug":"a","constructor":{"prototype":{"polluted":true}}}');
    await refused(
      '{"name":"a","slug":"a","items":[{"name":"i","constructor":{"prototype":{"polluted":true}}}]}',
    );
  });

  test('constructor and prototype keys at any depth never reach the instance', async () => {
    const text =
      '{"name":"a","slug":"a","constructor":{"polluted":true},"prototype":{"polluted":true},' +
      '"items":[{"name":"i","constructor":"evil","prototype":{"polluted":true}}]}';
    const res = await client.post('/projects', {
      body: text,
      headers: { 'content-type': 'application/json' },
    });
    await expectJson(res, 200, {
      data: { name: 'a', slug: 'a', items: [{ name: 'i' }] },
      hasExtra: false,
      isInstance: true,
      constructorIsClass: true,
      prototypeIsClass: true,
      forbiddenOwnKeys: [],
      items: [
        {
          isInstance: true,
          constructorIsClass: true,
          prototypeIsClass: true,
          forbiddenOwnKeys: [],
        },
      ],
    });
    const strict = await client.post('/strict', {
      body: '{"name":"a","slug":"a","constructor":{"polluted":true}}',
      headers: { 'content-type': 'application/json' },
    });
    await expectJson(strict, 200, { data: { name: 'a', slug: 'a' } });
  });

  test.each<['urlencoded' | 'multipart']>([['urlencoded'], ['multipart']])(
    '%s fields named __proto__, constructor and prototype are dropped',
    async (kind) => {
      const pairs: [string, string][] = [
        ['__proto__', 'x'],
        ['__proto__', 'y'],
        ['constructor', 'x'],
        ['prototype', 'x'],
        ['name', 'a'],
        ['slug', 'a'],
      ];
      let form: URLSearchParams | FormData;
      if (kind === 'urlencoded') {
        form = new URLSearchParams(pairs);
      } else {
        form = new FormData();
        for (const [k, v] of pairs) form.append(k, v);
      }
      await expectJson(await client.post('/projects', { form }), 200, {
        data: { name: 'a', slug: 'a' },
        hasExtra: false,
        isInstance: true,
        constructorIsClass: true,
        prototypeIsClass: true,
        forbiddenOwnKeys: [],
        items: [],
      });
      // forbidUnknown: they are gone before validation, neither kept nor a 500.
      const strict = await client.post('/strict', {
        form: kind === 'urlencoded' ? new URLSearchParams(pairs) : form,
      });
      await expectJson(strict, 200, { data: { name: 'a', slug: 'a' } });
    },
  );

  test('query keys named __proto__, constructor and prototype are dropped', async () => {
    const res = await client.get('/conv?__proto__=x&constructor=y&prototype=z&int=3');
    await expectJson(res, 200, { data: { int: ['number', 3] }, isInstance: true });
  });
});

// --- GET, routes without @Schema -----------------------------------------------------------------------

test('GET with @Schema(Class) validates the query into req.data', async () => {
  await expectJson(await client.get('/conv?int=9&flag=yes'), 200, {
    data: { int: ['number', 9], flag: ['boolean', true] },
    isInstance: true,
  });
  await expectProblem(
    await client.get('/conv?int=nine'),
    422,
    problem422('The query string did not validate', [
      { path: 'int', messages: ['int must be an integer number'] },
    ]),
  );
});

test('a route without @Schema is untouched: no req.data, the body as sent', async () => {
  await expectJson(
    await client.post('/plain', { json: { name: 5, extra: 'kept', nested: { x: '1' } } }),
    200,
    {
      data: true,
      validQuery: true,
      validParams: true,
      body: { name: 5, extra: 'kept', nested: { x: '1' } },
    },
  );
});

// --- responses ------------------------------------------------------------------------------------------

describe('response serialization', () => {
  test('only @Expose fields leave, nested classes too; dates as ISO strings', async () => {
    const res = await client.get('/view');
    const text = await res.clone().text();
    await expectJson(res, 200, shown(1));
    for (const secret of ['password_hash', '$2b$12$', 'internal_notes', 'email', 'ann@example.com'])
      expect(text).not.toContain(secret);
  });

  test('a list with response: [Class]', async () => {
    const res = await client.get('/views');
    const text = await res.clone().text();
    await expectJson(res, 200, [shown(1), shown(2)]);
    expect(text).not.toContain('password_hash');
  });

  test('status sets the success status', async () => {
    await expectJson(await client.post('/views', { json: { name: 'New', slug: 'new' } }), 201, {
      ...shown(3),
      name: 'New',
    });
    await expectJson(await client.post('/created', { json: { name: 'New', slug: 'new' } }), 201, {
      name: 'New',
    });
  });

  test('a response class with validators: a matching value is serialized', async () => {
    await expectJson(await client.get('/strict-out/good'), 200, { id: 3, name: 'ok' });
    await expectJson(await client.get('/strict-list/good'), 200, [{ id: 1, name: 'a' }]);
  });

  test('a Response returned, an HTTPError returned or thrown, pass through', async () => {
    const valid = { json: { name: 'N', slug: 'n' } };
    const res = await client.post('/passthrough/response', valid);
    expect([res.status, res.headers.get('x-custom'), await res.json()]).toEqual([
      202,
      'yes',
      { custom: 'N', password_hash: 'as the handler chose' },
    ]);
    await expectProblem(await client.post('/passthrough/returned', valid), 403, {
      type: 'about:blank',
      title: 'Forbidden',
      status: 403,
      detail: 'Not yours',
    });
    await expectProblem(await client.post('/passthrough/thrown', valid), 409, {
      type: 'about:blank',
      title: 'Conflict',
      status: 409,
      detail: 'The slug is taken',
    });
    // The input is still validated first.
    expect((await client.post('/passthrough/thrown', { json: {} })).status).toBe(422);
  });
});

describe('response mismatch', () => {
  const BARE_500 = { type: 'about:blank', title: 'Internal Server Error', status: 500 };
  const MISMATCH_LOG = {
    level: 50,
    route: 'OutputController.strictOut',
    errors: [
      { path: 'id', messages: ['id must be an integer number'] },
      { path: 'name', messages: ['name must be longer than or equal to 1 characters'] },
    ],
    msg: 'the response does not match its @Schema',
  };
  const pick = (r: LogRecord) => {
    const out: Record<string, unknown> = { level: r.level };
    for (const k of ['route', 'errors', 'msg']) if (k in r) out[k] = r[k];
    return out;
  };

  test('is a 500 naming nothing in the body, the field in the log', async () => {
    const { logger, records } = memoryLogger('warn');
    const c = await testClient(
      createApp({ plugins: [schemas()], controllers: [OutputController], logger }),
    );
    try {
      const res = await c.get('/strict-out/bad');
      const text = await res.clone().text();
      await expectProblem(res, 500, BARE_500);
      for (const leak of ['id', 'name', 'hunter2', 'seven']) expect(text).not.toContain(leak);
      expect(records.map(pick)).toEqual([MISMATCH_LOG]);
      expect(JSON.stringify(records)).not.toContain('hunter2');
    } finally {
      await c.close();
    }
  });

  test('under DEBUG the body names the field', async () => {
    const { logger, records } = memoryLogger('warn');
    const c = await testClient(
      createApp({
        plugins: [schemas()],
        controllers: [OutputController],
        logger,
        settings: immutableSettings({ DEBUG: true }),
      }),
    );
    try {
      await expectProblem(await c.get('/strict-out/bad'), 500, {
        ...BARE_500,
        detail:
          'The response does not match its schema: id: id must be an integer number; name: name must be longer than or equal to 1 characters',
      });
      expect(records.map(pick)).toEqual([MISMATCH_LOG]);
    } finally {
      await c.close();
    }
  });

  test('one item for a list schema, or a list for one item, is a 500', async () => {
    const { logger, records } = memoryLogger('warn');
    const c = await testClient(
      createApp({ plugins: [schemas()], controllers: [OutputController], logger }),
    );
    const d = await testClient(
      createApp({
        plugins: [schemas()],
        controllers: [OutputController],
        logger: memoryLogger('warn').logger,
        settings: immutableSettings({ DEBUG: true }),
      }),
    );
    try {
      await expectProblem(await c.get('/strict-list/one'), 500, BARE_500);
      await expectProblem(await c.get('/strict-out/list'), 500, BARE_500);
      expect(records.map(pick)).toEqual([
        {
          level: 50,
          route: 'OutputController.strictList',
          msg: 'the handler returned one item where @Schema declares a list',
        },
        {
          level: 50,
          route: 'OutputController.strictOut',
          msg: 'the handler returned a list where @Schema declares one item',
        },
      ]);
      await expectProblem(await d.get('/strict-list/one'), 500, {
        ...BARE_500,
        detail: 'The response is not a list, unlike its schema',
      });
      await expectProblem(await d.get('/strict-out/list'), 500, {
        ...BARE_500,
        detail: 'The response is a list, unlike its schema',
      });
    } finally {
      await c.close();
      await d.close();
    }
  });
});

// --- startup errors, exports -------------------------------------------------------------------------------

test('an unknown @Schema option stops createApp with ROCOCO_SCHEMA', () => {
  let caught: unknown;
  try {
    createApp({ plugins: [schemas()], controllers: [UnknownOption] });
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(RococoError);
  expect([(caught as RococoError).code, (caught as RococoError).message]).toEqual([
    'ROCOCO_SCHEMA',
    "ROCOCO_SCHEMA: UnknownOption.x: @Schema: unknown option 'reponse' (known: request, query, params, response, status, forbidUnknown)",
  ]);
  expect(() => createApp({ plugins: [schemas()], controllers: [NotAClass] })).toThrow(
    new RococoError('ROCOCO_SCHEMA', 'NotAClass.x: @Schema request must be a class'),
  );
  // Without the plugin, the route names it.
  expect(() => createApp({ controllers: [InputController] })).toThrow(
    /ROCOCO_PLUGIN: InputController\.\w+: @Schema needs the 'schemas' plugin: add it to createApp\(\{ plugins \}\)/,
  );
});

test('serialize() keeps only the @Expose fields of a class, nested ones too', () => {
  const out = serialize(ProjectView, row(4));
  expect(out).toEqual({ ...shown(4), created_at: new Date('2024-05-01T10:20:30.000Z') });
  expect(Object.keys(out).sort()).toEqual(['created_at', 'id', 'members', 'name', 'owner']);
  expect(JSON.stringify(out)).not.toContain('password_hash');
});

test('flattenErrors() gives readable paths, each field once', async () => {
  const order = plainToInstance(Order, {
    title: 'T',
    owner: { name: 'A', address: { city: 5 } },
    lines: [
      { name: 'a', qty: 1 },
      { name: 2, qty: 1 },
    ],
  });
  expect(flattenErrors(await validate(order))).toEqual([
    {
      path: 'owner.address.city',
      messages: [
        'city must be longer than or equal to 1 and shorter than or equal to 64 characters',
        'city must be a string',
      ],
    },
    { path: 'lines[1].name', messages: ['name must be a string'] },
  ]);
  expect(flattenErrors([])).toEqual([]);
});

test('a JSON-body @Schema route answers whatever its handler returns, as before its fast path', async () => {
  const body = { name: 'Rococo', slug: 'rococo', extra: 'dropped' };
  const post = (mode: string, type = 'application/json', text = JSON.stringify(body)) =>
    client.post(`/returns/${mode}`, { body: text, headers: { 'content-type': type } });
  await expectJson(await post('data'), 200, { name: 'Rococo', slug: 'rococo' });
  await expectJson(await post('data', 'application/vnd.api+json'), 200, {
    name: 'Rococo',
    slug: 'rococo',
  });
  await expectJson(await post('data', 'Application/JSON; charset=utf-8'), 200, {
    name: 'Rococo',
    slug: 'rococo',
  });
  await expectJson(await post('promise'), 200, { name: 'Rococo' });
  // The body the route parsed, as it came: json() after the route's own reading.
  await expectJson(await post('json'), 200, { body, same: true });
  await expectJson(await post('thenable'), 200, { thenable: 'Rococo' });
  await expectJson(await post('response'), 202, { custom: 'Rococo' });
  expect((await post('rejected')).status).toBe(409);
  expect((await post('throw')).status).toBe(409);
  expect((await post('undefined')).status).toBe(204);
  // Refused by the compiled check: class-validator's 422.
  const bad = await post('data', 'application/json', JSON.stringify({ name: '', slug: 'A B' }));
  expect([
    bad.status,
    ((await bad.json()) as { errors: { path: string }[] }).errors.map((e) => e.path),
  ]).toEqual([422, ['name', 'slug']]);
  const list = await post('data', 'application/json', '[1]');
  expect([list.status, ((await list.json()) as { errors: unknown }).errors]).toEqual([
    422,
    [{ path: '', messages: ['The body must be a JSON object.'] }],
  ]);
  expect((await post('data', 'application/json', '{"name": ')).status).toBe(400);
  // A form goes through the async wrapper: the same instance.
  const form = await client.post('/returns/data', {
    form: new URLSearchParams({ name: 'Rococo', slug: 'rococo' }),
  });
  await expectJson(form, 200, { name: 'Rococo', slug: 'rococo' });
});
