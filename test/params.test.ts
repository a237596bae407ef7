import { IsInt, IsString, Length, Min } from 'class-validator';
import {
  Body,
  Controller,
  createApp,
  createParamDecorator,
  Get,
  Header,
  HTTPUnauthorized,
  Param,
  Post,
  Query,
  Req,
  RococoError,
  openapi,
  schemas,
  Session,
  sessions,
  EncryptedCookieStorage,
  type Request,
} from '../src';
import { testClient, type TestClient } from '../src/testing';
import { swaggerParserVerdict, validateOpenAPI } from './helpers/openapi';

/**
 * Handler parameter decorators through real HTTP: each one present, missing, of the wrong
 * type, and a custom one; converters giving typed path parameters; @Body() validated through
 * the schemas plugin; and the mistakes createApp refuses.
 */

class NewTask {
  @IsString() @Length(1, 40) title!: string;
  @IsInt() @Min(1) points!: number;
}

class Paging {
  @IsInt() @Min(1) page!: number;
}

const CurrentUser = createParamDecorator((req: Request) => {
  const user = req.headers['x-user'];
  if (user === undefined) throw new HTTPUnauthorized('Who are you?');
  return { name: user };
}, 'CurrentUser');
const Slow = createParamDecorator(async (_req: Request, data: number | undefined) => {
  await new Promise((resolve) => setTimeout(resolve, 5));
  return data ?? 0;
}, 'Slow');

@Controller('/t', { name: 't' })
class Tasks {
  @Get('/<id:int>') byInt(@Param('id') id: number) {
    return { id, type: typeof id };
  }
  @Get('/plain/<id>') byPlain(@Param('id') id: number, @Req() req: Request) {
    return { id, type: typeof id, raw: req.params.id };
  }
  @Get('/text/<slug>') byText(@Param('slug') slug: string) {
    return { slug };
  }
  @Get('/search') search(
    @Query('q') q: string,
    @Query('page', { default: 1 }) page: number,
    // `open?: boolean`, not `boolean | undefined`: TypeScript records a union's type as Object.
    @Query('open', { optional: true }) open?: boolean,
    @Query('tag', { optional: true }) tags?: string[],
    @Query('since', { optional: true }) since?: Date,
  ) {
    return { q, page, open: open ?? null, tags: tags ?? null, since: since?.toISOString() ?? null };
  }
  @Get('/paged') paged(@Query() paging: Paging) {
    return { page: paging.page, isPaging: paging instanceof Paging };
  }
  @Get('/raw-query') rawQuery(@Query() query: URLSearchParams) {
    return { keys: [...query.keys()] };
  }
  @Get('/header') header(
    @Header('X-Count') count: number,
    @Header('x-note', { optional: true }) note?: string,
  ) {
    return { count, note: note ?? null };
  }
  @Post('') add(@Body() task: NewTask) {
    return { task, isTask: task instanceof NewTask };
  }
  @Post('/json') json(@Body() body: unknown) {
    return { body };
  }
  @Post('/text') text(@Body() body: string) {
    return { length: body.length };
  }
  @Get('/me') me(@CurrentUser() user: { name: string }, @Slow(7) slow: number) {
    return { user, slow };
  }
}

describe('handler parameters', () => {
  let client: TestClient;
  beforeAll(async () => {
    client = await testClient(createApp({ controllers: [Tasks], plugins: [schemas()] }));
  });
  afterAll(() => client.close());

  const get = async (path: string, headers?: Record<string, string>) => {
    const res = await client.get(path, { headers });
    return [res.status, await res.json()] as const;
  };

  it('@Param: a converter gives a number, the declared type converts a plain one', async () => {
    expect(await get('/t/42')).toEqual([200, { id: 42, type: 'number' }]);
    expect(await get('/t/plain/7')).toEqual([200, { id: 7, type: 'number', raw: '7' }]);
    expect(await get('/t/text/a-b')).toEqual([200, { slug: 'a-b' }]);
  });

  it('@Param: what does not convert is a 404, as a path that does not exist', async () => {
    for (const path of ['/t/abc', '/t/1e3', '/t/-1x', `/t/${'9'.repeat(40)}`, '/t/plain/abc'])
      expect([path, (await client.get(path)).status]).toEqual([path, 404]);
  });

  it('@Query: converted, defaulted, optional, repeated; missing or bad is a 400 naming it', async () => {
    expect(await get('/t/search?q=x&page=3&open=yes&tag=a&tag=b&since=2026-01-02')).toEqual([
      200,
      { q: 'x', page: 3, open: true, tags: ['a', 'b'], since: '2026-01-02T00:00:00.000Z' },
    ]);
    expect(await get('/t/search?q=x')).toEqual([
      200,
      { q: 'x', page: 1, open: null, tags: null, since: null },
    ]);
    const [status, body] = await get('/t/search');
    expect([status, body.detail, body.errors]).toEqual([
      400,
      "The query parameter 'q' is required",
      [{ path: 'q', messages: ['q is required'] }],
    ]);
    expect((await get('/t/search?q=x&page=two'))[1].detail).toBe(
      "The query parameter 'page' must be a number",
    );
    expect((await get('/t/search?q=x&open=maybe'))[1].detail).toBe(
      "The query parameter 'open' must be a boolean",
    );
    expect((await get('/t/search?q=x&since=never'))[1].detail).toBe(
      "The query parameter 'since' must be a date",
    );
  });

  it('@Query() of a schema class is validated; an untyped one is the URLSearchParams', async () => {
    expect(await get('/t/paged?page=2')).toEqual([200, { page: 2, isPaging: true }]);
    const [status, body] = await get('/t/paged?page=0');
    expect([status, body.errors[0].path]).toEqual([422, 'page']);
    expect(await get('/t/raw-query?a=1&b=2')).toEqual([200, { keys: ['a', 'b'] }]);
  });

  it('@Header: case-insensitive, converted, optional; missing or bad is a 400', async () => {
    expect(await get('/t/header', { 'x-count': '3', 'x-note': 'hi' })).toEqual([
      200,
      { count: 3, note: 'hi' },
    ]);
    expect(await get('/t/header', { 'x-count': '3' })).toEqual([200, { count: 3, note: null }]);
    expect((await get('/t/header'))[1].detail).toBe("The header 'x-count' is required");
    expect((await get('/t/header', { 'x-count': 'many' }))[1].detail).toBe(
      "The header 'x-count' must be a number",
    );
  });

  it('@Body(): a schema class validated (422 listing fields), JSON, text', async () => {
    const ok = await client.post('/t', { json: { title: 'Write tests', points: 3, extra: 1 } });
    expect([ok.status, await ok.json()]).toEqual([
      200,
      { task: { title: 'Write tests', points: 3 }, isTask: true },
    ]);
    const bad = await client.post('/t', { json: { title: '', points: 'x' } });
    const problem = await bad.json();
    expect([bad.status, problem.errors.map((e: { path: string }) => e.path).sort()]).toEqual([
      422,
      ['points', 'title'],
    ]);
    const form = await client.post('/t', {
      body: 'title=Form&points=2',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect((await form.json()).task).toEqual({ title: 'Form', points: 2 });
    const json = await client.post('/t/json', { json: [1, 2] });
    expect(await json.json()).toEqual({ body: [1, 2] });
    const broken = await client.post('/t/json', {
      body: '{',
      headers: { 'content-type': 'application/json' },
    });
    expect(broken.status).toBe(400);
    const text = await client.post('/t/text', {
      body: 'héllo',
      headers: { 'content-type': 'text/plain' },
    });
    expect(await text.json()).toEqual({ length: 5 });
  });

  it('a custom decorator: its value, its async value with data, its HTTP error', async () => {
    expect(await get('/t/me', { 'x-user': 'ann' })).toEqual([
      200,
      { user: { name: 'ann' }, slow: 7 },
    ]);
    const [status, body] = await get('/t/me');
    expect([status, body.detail]).toEqual([401, 'Who are you?']);
  });
});

describe('the OpenAPI document', () => {
  it('lists what the decorators read: query and header parameters, bodies, their answers', async () => {
    const app = createApp({
      controllers: [Tasks],
      plugins: [schemas(), openapi({ title: 'Tasks', version: '1' })],
    });
    const client = await testClient(app);
    let doc;
    try {
      doc = await (await client.get('/openapi.json')).json();
    } finally {
      await client.close();
    }
    expect(validateOpenAPI(doc).valid).toBe(true);
    expect(swaggerParserVerdict(doc)).toMatchObject({ valid: true });
    const search = doc.paths['/t/search'].get;
    expect(search.parameters).toEqual([
      { name: 'q', in: 'query', required: true, schema: { type: 'string' } },
      { name: 'page', in: 'query', required: false, schema: { type: 'number', default: 1 } },
      { name: 'open', in: 'query', required: false, schema: { type: 'boolean' } },
      {
        name: 'tag',
        in: 'query',
        required: false,
        schema: { type: 'array', items: { type: 'string' } },
      },
      {
        name: 'since',
        in: 'query',
        required: false,
        schema: { type: 'string', format: 'date-time' },
      },
    ]);
    expect(Object.keys(search.responses)).toEqual(['200', '400', 'default']);
    expect(doc.paths['/t/header'].get.parameters[0]).toEqual({
      name: 'x-count',
      in: 'header',
      required: true,
      schema: { type: 'number' },
    });
    expect(doc.paths['/t/paged'].get.parameters[0]).toMatchObject({
      name: 'page',
      in: 'query',
      required: true,
    });
    const add = doc.paths['/t'].post;
    expect(add.requestBody.content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/NewTask',
    });
    expect(Object.keys(add.responses)).toEqual(['200', '400', '413', '415', '422', 'default']);
    expect(Object.keys(doc.paths['/t/text'].post.requestBody.content)).toEqual(['text/plain']);
  });
});

describe('@Session()', () => {
  @Controller('/cart')
  class Cart {
    @Post('/<item>') add(@Session() session: Session, @Param('item') item: string) {
      const items = [...((session.get('items') as string[] | undefined) ?? []), item];
      session.set('items', items);
      return { items };
    }
  }

  it('is the request session, saved as getSession() saves it', async () => {
    const app = createApp({
      controllers: [Cart],
      middlewares: [sessions(new EncryptedCookieStorage(Buffer.alloc(32, 7).toString('base64')))],
    });
    const client = await testClient(app);
    try {
      const first = await client.post('/cart/apple');
      expect(await first.json()).toEqual({ items: ['apple'] });
      const cookie = (first.headers.get('set-cookie') ?? '').split(';')[0];
      const second = await client.post('/cart/pear', { headers: { cookie } });
      expect(await second.json()).toEqual({ items: ['apple', 'pear'] });
    } finally {
      await client.close();
    }
  });
});

describe('mistakes stop createApp', () => {
  const refused = (controller: new () => object, plugins = [schemas()]): string => {
    try {
      createApp({ controllers: [controller], plugins });
    } catch (e) {
      expect(e).toBeInstanceOf(RococoError);
      return (e as Error).message;
    }
    throw new Error('createApp did not refuse');
  };

  it('an undecorated parameter, an unknown path parameter, an unconvertible type, a schema without its plugin', () => {
    @Controller('/a')
    class Undecorated {
      @Get('/<id>') show(@Param('id') id: string, req: Request) {
        return { id, req: req.id };
      }
    }
    expect(refused(Undecorated)).toBe(
      'ROCOCO_PARAM: Undecorated.show: parameter 2 has no decorator; a handler that declares one declares all (@Req() for the request)',
    );
    @Controller('/b')
    class Unknown {
      @Get('/<id>') show(@Param('key') key: string) {
        return { key };
      }
    }
    expect(refused(Unknown)).toBe(
      "ROCOCO_PARAM: Unknown.show: @Param('key'): the route's pattern has no parameter 'key' (it has 'id')",
    );
    @Controller('/c')
    class Unconvertible {
      @Get('') show(@Query('when') when: Map<string, string>) {
        return { when };
      }
    }
    expect(refused(Unconvertible)).toBe(
      "ROCOCO_PARAM: Unconvertible.show: @Query('when'): a query converts to string, number, boolean or Date (or string[] for a repeated key), not Map",
    );
    @Controller('/d')
    class NoPlugin {
      @Post('') add(@Body() task: NewTask) {
        return task;
      }
    }
    expect(refused(NoPlugin, [])).toBe(
      "ROCOCO_PLUGIN: NoPlugin.add: @Body() of the class NewTask needs the 'schemas' plugin: add schemas() to createApp({ plugins })",
    );
  });

  it('decorator misuse throws where it is written', () => {
    expect(() => Query('q', { defualt: 1 } as never)).toThrow(
      "@Query('q'): unknown option 'defualt' (known: optional, default)",
    );
    expect(() => Param('')).toThrow('@Param: the name must be a non-empty string');
    expect(() => createParamDecorator(42 as never)).toThrow(
      'createParamDecorator: give it a function of the request',
    );
  });
});
