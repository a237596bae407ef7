import { join } from 'node:path';
import { Expose, Type } from 'class-transformer';
import {
  IsArray,
  IsBoolean,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  Min,
  ValidateNested,
} from 'class-validator';
import { createSampleApp } from '../sample/app';
import { logIn, sampleSettings } from './helpers/sample';
import {
  Controller,
  createApp,
  Delete,
  Doc,
  Get,
  immutableSettings,
  JSONSchema,
  openapi,
  Post,
  Put,
  Request,
  RococoError,
  Schema,
  schemas,
  Use,
  type AppOptions,
  type Middleware,
  type OpenAPIOptions,
  type OperationDoc,
  type Response,
  staticFiles,
} from '../src';
import { memoryLogger } from './helpers/memory-logger';
import { testClient, type TestClient } from '../src/testing';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { validateOpenAPI } from './helpers/openapi';

/**
 * The OpenAPI 3.1 document built from routes and `@Schema` classes: validated by the official
 * schema, for an app built for the test and for the sample, whose /api it must describe exactly.
 */

const JSON_TYPE = 'application/json; charset=utf-8';
const STATIC = join(__dirname, 'fixtures', 'static');

// --- a purpose-built app --------------------------------------------------------------------------

class Address {
  @IsString() @Length(1, 64) city!: string;
  @IsOptional() @IsString() street?: string;
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

class ItemParams {
  @IsInt() item_id!: number;
}

class ListQuery {
  @IsOptional() @IsInt() @Min(1) page?: number;
  @IsString() sort!: string;
}

class SearchQuery {
  @IsString() @Length(1, 100) q!: string;
  @IsOptional() @IsInt() limit?: number;
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

@Controller('/shop', { name: 'shop' })
class ShopController {
  @Get('/items', { name: 'items' })
  @Schema({ query: ListQuery, response: [ItemOut] })
  @Doc({ summary: 'All items', description: 'Paged, sorted.' })
  items() {
    return [];
  }

  @Post('/items', { name: 'add_item' })
  @Schema({ request: AddItem, response: ItemOut, status: 201 })
  @Doc({ summary: 'Add an item', tags: ['write'] })
  add() {
    return {};
  }

  @Get('/items/<item_id:\\d+>', { name: 'item' })
  @Schema({ params: ItemParams, response: ItemOut })
  item() {
    return {};
  }

  @Put('/items/<item_id:\\d+>', { name: 'edit_item' })
  @Schema({ params: ItemParams, request: AddItem, response: ItemOut })
  @Doc({ summary: 'Change an item', deprecated: true })
  edit() {
    return {};
  }

  @Delete('/items/<item_id:\\d+>', { name: 'delete_item' })
  @Schema({ params: ItemParams, status: 204 })
  remove() {}

  @Get('/search', { name: 'search' })
  @Schema(SearchQuery)
  search(req: Request<SearchQuery>) {
    return { q: req.data.q };
  }

  @Get('/stats', { name: 'stats' })
  @Schema({ response: StatsOut })
  stats() {
    return { count: 0 };
  }

  @Get('/by-slug/<slug>', { name: 'by_slug' })
  bySlug() {
    return {};
  }
}

@Controller('/misc')
class MiscController {
  @Get('/health')
  health() {
    return { ok: true };
  }
}

type Doc = Record<string, any>;

function shopApp(options: OpenAPIOptions, extra: Partial<AppOptions> = {}) {
  return createApp({
    controllers: [ShopController, MiscController],
    ...extra,
    plugins: [schemas(), openapi(options), ...(extra.plugins ?? [])],
  });
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const PATH_ID = { name: 'item_id', in: 'path', required: true, schema: { type: 'integer' } };
const BODY = (name: string) => ({
  required: true,
  content: {
    'application/json': { schema: ref(name) },
    'application/x-www-form-urlencoded': { schema: ref(name) },
    'multipart/form-data': { schema: ref(name) },
  },
});
const INVALID = {
  description: 'The input did not validate; every failing field is listed',
  content: { 'application/problem+json': { schema: ref('ValidationProblem') } },
};
const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: ref('Problem') } },
});
const TOO_MANY = problem(
  'Too many requests: a rate limit of this route is spent (`Retry-After` says when to try again)',
);
const DEFAULT = problem(
  'A server error: 500, or 503 while a service it needs (the database, the session store) is unavailable',
);
/** What the framework answers for every route that reads a body through @Schema. */
const BODY_ERRORS = {
  '400': problem('The body is malformed (JSON that does not parse)'),
  '413': problem('The body is larger than MAX_BODY_SIZE'),
  '415': problem('The body is not JSON, urlencoded or multipart'),
};
const NOT_FOUND = {
  '404': problem('Nothing here: no such resource, or a path parameter out of its range'),
};
const ANY_JSON = { description: 'Any JSON: the route declares no response class' };
const success = (schema: unknown = ANY_JSON) => ({
  description: 'Success',
  content: { 'application/json': { schema } },
});
const NO_CONTENT = { description: 'Done; no content' };

const PROBLEM = {
  type: 'object',
  description: 'RFC 9457 problem details',
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
  },
  required: ['type', 'title', 'status'],
};
const VALIDATION_PROBLEM = {
  allOf: [
    ref('Problem'),
    {
      type: 'object',
      properties: {
        errors: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              path: { type: 'string' },
              messages: { type: 'array', items: { type: 'string' } },
            },
            required: ['path', 'messages'],
          },
        },
      },
      required: ['errors'],
    },
  ],
};

/** Every `$ref` anywhere in the document. */
function refs(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) refs(v, out);
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref') out.push(v as string);
      else refs(v, out);
    }
  }
  return out;
}

/** `{ path: [methods] }` of a document. */
function operations(doc: Doc): Record<string, string[]> {
  return Object.fromEntries(
    Object.entries(doc.paths as Record<string, object>).map(([p, ops]) => [p, Object.keys(ops)]),
  );
}

describe('the document of an app built for the test', () => {
  let client: TestClient;
  let doc: Doc;

  beforeAll(async () => {
    client = await testClient(
      shopApp(
        { title: 'Shop API', version: '2.1.0', description: 'Items for sale.' },
        { plugins: [staticFiles([{ prefix: '/static', dir: STATIC }])] },
      ),
    );
    const res = await client.get('/openapi.json');
    expect([res.status, res.headers.get('content-type')]).toEqual([200, JSON_TYPE]);
    doc = await res.json();
  });

  afterAll(async () => {
    await client?.close();
  });

  test('validates against the OpenAPI 3.1 schema', () => {
    expect(validateOpenAPI(doc)).toEqual({ valid: true });
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc)).toEqual(['openapi', 'info', 'tags', 'paths', 'components']);
  });

  test('info and tags: controller names, then @Doc tags', () => {
    expect(doc.info).toEqual({
      title: 'Shop API',
      version: '2.1.0',
      description: 'Items for sale.',
    });
    expect(doc.tags).toEqual([{ name: 'shop' }, { name: 'write' }, { name: 'MiscController' }]);
  });

  test('paths: every controller route, <name:regex> as {name}; static files, the document and the docs are not listed', async () => {
    expect(operations(doc)).toEqual({
      '/shop/items': ['get', 'post'],
      '/shop/items/{item_id}': ['get', 'put', 'delete'],
      '/shop/search': ['get'],
      '/shop/stats': ['get'],
      '/shop/by-slug/{slug}': ['get'],
      '/misc/health': ['get'],
    });
    // Those routes do exist on the app.
    for (const path of [
      '/static/hello.txt',
      '/openapi.json',
      '/docs',
      '/docs/assets/swagger-ui.css',
    ]) {
      expect([path, (await client.get(path)).status]).toEqual([path, 200]);
    }
  });

  test('operationId is the route name (controller and handler names when the route has none)', () => {
    const ids = Object.values(
      doc.paths as Record<string, Record<string, { operationId: string }>>,
    ).flatMap((ops) => Object.values(ops).map((o) => o.operationId));
    expect(ids).toEqual([
      'shop.items',
      'shop.add_item',
      'shop.item',
      'shop.edit_item',
      'shop.delete_item',
      'shop.search',
      'shop.stats',
      'shop.by_slug',
      'MiscController.health',
    ]);
  });

  test('GET with a query schema: query parameters, required as the class says; a list response', () => {
    expect(doc.paths['/shop/items'].get).toEqual({
      operationId: 'shop.items',
      tags: ['shop'],
      summary: 'All items',
      description: 'Paged, sorted.',
      parameters: [
        { name: 'page', in: 'query', required: false, schema: { type: 'integer', minimum: 1 } },
        { name: 'sort', in: 'query', required: true, schema: { type: 'string' } },
      ],
      responses: {
        '200': success({ type: 'array', items: ref('ItemOut') }),
        '422': INVALID,
        default: DEFAULT,
      },
    });
  });

  test('POST: a request body in the three content types, the 201 and the 422', () => {
    expect(doc.paths['/shop/items'].post).toEqual({
      operationId: 'shop.add_item',
      tags: ['shop', 'write'],
      summary: 'Add an item',
      requestBody: BODY('AddItem'),
      responses: {
        '201': success(ref('ItemOut')),
        ...BODY_ERRORS,
        '422': INVALID,
        default: DEFAULT,
      },
    });
  });

  test('path parameters typed by the params class (over the regex), else strings; a 404 for each', () => {
    expect(doc.paths['/shop/items/{item_id}'].get).toEqual({
      operationId: 'shop.item',
      tags: ['shop'],
      parameters: [PATH_ID],
      responses: { '200': success(ref('ItemOut')), ...NOT_FOUND, '422': INVALID, default: DEFAULT },
    });
    expect(doc.paths['/shop/by-slug/{slug}'].get).toEqual({
      operationId: 'shop.by_slug',
      tags: ['shop'],
      parameters: [{ name: 'slug', in: 'path', required: true, schema: { type: 'string' } }],
      responses: { '200': success(), ...NOT_FOUND, default: DEFAULT },
    });
  });

  test('PUT: path parameter, body, @Doc deprecated', () => {
    expect(doc.paths['/shop/items/{item_id}'].put).toEqual({
      operationId: 'shop.edit_item',
      tags: ['shop'],
      summary: 'Change an item',
      deprecated: true,
      parameters: [PATH_ID],
      requestBody: BODY('AddItem'),
      responses: {
        '200': success(ref('ItemOut')),
        '400': BODY_ERRORS['400'],
        ...NOT_FOUND,
        '413': BODY_ERRORS['413'],
        '415': BODY_ERRORS['415'],
        '422': INVALID,
        default: DEFAULT,
      },
    });
  });

  test('DELETE: a 204 without content', () => {
    expect(doc.paths['/shop/items/{item_id}'].delete).toEqual({
      operationId: 'shop.delete_item',
      tags: ['shop'],
      parameters: [PATH_ID],
      responses: { '204': NO_CONTENT, ...NOT_FOUND, '422': INVALID, default: DEFAULT },
    });
  });

  test('GET with @Schema(Class): its properties as query parameters, no body', () => {
    expect(doc.paths['/shop/search'].get).toEqual({
      operationId: 'shop.search',
      tags: ['shop'],
      parameters: [
        {
          name: 'q',
          in: 'query',
          required: true,
          schema: { type: 'string', minLength: 1, maxLength: 100 },
        },
        { name: 'limit', in: 'query', required: false, schema: { type: 'integer' } },
      ],
      responses: { '200': success(), '422': INVALID, default: DEFAULT },
    });
  });

  test('the 422 only where there is an input schema; routes without @Schema still listed', () => {
    expect(doc.paths['/shop/stats'].get).toEqual({
      operationId: 'shop.stats',
      tags: ['shop'],
      responses: { '200': success(ref('StatsOut')), default: DEFAULT },
    });
    expect(doc.paths['/misc/health'].get).toEqual({
      operationId: 'MiscController.health',
      tags: ['MiscController'],
      responses: { '200': success(), default: DEFAULT },
    });
    const with422 = Object.values(doc.paths as Record<string, Record<string, any>>)
      .flatMap((ops) => Object.values(ops))
      .filter((o) => '422' in o.responses)
      .map((o) => o.operationId);
    expect(with422).toEqual([
      'shop.items',
      'shop.add_item',
      'shop.item',
      'shop.edit_item',
      'shop.delete_item',
      'shop.search',
    ]);
  });

  test('components: the problems, the schema classes and the classes nested in them; every $ref resolves', () => {
    const schemas = doc.components.schemas;
    expect(Object.keys(schemas).sort()).toEqual([
      'AddItem',
      'Address',
      'ItemOut',
      'OwnerOut',
      'Problem',
      'StatsOut',
      'Tag',
      'ValidationProblem',
    ]);
    expect(schemas.Problem).toEqual(PROBLEM);
    expect(schemas.ValidationProblem).toEqual(VALIDATION_PROBLEM);
    expect(schemas.AddItem).toEqual({
      type: 'object',
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 32 },
        price: { type: 'integer', minimum: 0, maximum: 1000 },
        hidden: { type: 'boolean' },
        warehouse: ref('Address'),
        tags: { type: 'array', items: ref('Tag') },
      },
      required: ['name', 'price', 'warehouse'],
    });
    expect(schemas.Address).toEqual({
      type: 'object',
      properties: {
        city: { type: 'string', minLength: 1, maxLength: 64 },
        street: { type: 'string' },
      },
      required: ['city'],
    });
    expect(schemas.Tag).toEqual({
      type: 'object',
      properties: { label: { type: 'string', pattern: '^[a-z]+$' } },
      required: ['label'],
    });
    // Response classes: every exposed property is required (serialization writes it).
    expect(schemas.ItemOut).toEqual({
      type: 'object',
      properties: {
        id: { type: 'number' },
        name: { type: 'string' },
        price: { type: 'number' },
        owner: ref('OwnerOut'),
        created_at: { type: 'string', format: 'date-time' },
      },
      required: ['id', 'name', 'price', 'owner', 'created_at'],
    });
    expect(schemas.OwnerOut).toEqual({
      type: 'object',
      properties: { id: { type: 'number' }, name: { type: 'string' } },
      required: ['id', 'name'],
    });
    const unresolved = refs(doc).filter(
      (r) =>
        !(
          r.startsWith('#/components/schemas/') &&
          r.slice('#/components/schemas/'.length) in schemas
        ),
    );
    expect(unresolved).toEqual([]);
  });

  test('the docs page and its assets are served by the app itself', async () => {
    const page = await client.get('/docs');
    const html = await page.text();
    expect([page.status, page.headers.get('content-type')]).toEqual([
      200,
      'text/html; charset=utf-8',
    ]);
    expect(html).toContain('<title>Shop API · API</title>');
    expect(html).toContain('<link rel="stylesheet" href="/docs/assets/swagger-ui.css">');
    expect(html).toContain('<script src="/docs/assets/swagger-ui-bundle.js"></script>');
    expect(html).toContain('<div id="docs" data-url="/openapi.json"></div>');
    // No inline script, so that it runs under a CSP without 'unsafe-inline' (securityHeaders).
    expect(html).not.toContain('<script>');
    expect(html).toContain('<script src="/docs/init.js"></script>');
    expect(await (await client.get('/docs/init.js')).text()).toContain('SwaggerUIBundle');
    expect(html).not.toMatch(/(https?:)?\/\/[a-z]/i);
    for (const asset of ['/docs/assets/swagger-ui.css', '/docs/assets/swagger-ui-bundle.js']) {
      const res = await client.get(asset);
      expect([asset, res.status]).toEqual([asset, 200]);
    }
  });
});

describe('openapi options', () => {
  test('prefix documents only the routes under it; @Doc({ hidden }) leaves one out', async () => {
    @Controller('/shop2', { name: 'shop2' })
    class Hidden {
      @Get('/shown', { name: 'shown' }) shown() {
        return {};
      }
      @Get('/secret', { name: 'secret' }) @Doc({ hidden: true }) secret() {
        return {};
      }
    }
    const all = await testClient(
      createApp({
        controllers: [Hidden, MiscController],
        plugins: [openapi({ title: 'T', version: '1' })],
      }),
    );
    const scoped = await testClient(
      createApp({
        controllers: [Hidden, MiscController],
        plugins: [openapi({ title: 'T', version: '1', prefix: '/shop2' })],
      }),
    );
    try {
      expect(Object.keys((await (await all.get('/openapi.json')).json()).paths)).toEqual([
        '/shop2/shown',
        '/misc/health',
      ]);
      expect(Object.keys((await (await scoped.get('/openapi.json')).json()).paths)).toEqual([
        '/shop2/shown',
      ]);
      expect((await all.get('/shop2/secret')).status).toBe(200);
    } finally {
      await all.close();
      await scoped.close();
    }
  });

  test('a custom path for the document and for the docs page', async () => {
    const client = await testClient(
      shopApp({ title: 'T', version: '1', path: '/spec/openapi.json', docs: '/reference' }),
    );
    try {
      const res = await client.get('/spec/openapi.json');
      const doc = await res.json();
      expect([res.status, res.headers.get('content-type'), doc.info]).toEqual([
        200,
        JSON_TYPE,
        { title: 'T', version: '1' },
      ]);
      expect(validateOpenAPI(doc)).toEqual({ valid: true });
      expect(Object.keys(doc.paths)).toEqual([
        '/shop/items',
        '/shop/items/{item_id}',
        '/shop/search',
        '/shop/stats',
        '/shop/by-slug/{slug}',
        '/misc/health',
      ]);
      const page = await client.get('/reference');
      const html = await page.text();
      expect(page.status).toBe(200);
      expect(html).toContain('data-url="/spec/openapi.json"');
      expect(html).toContain('<script src="/reference/init.js"></script>');
      expect(html).toContain('<script src="/reference/assets/swagger-ui-bundle.js"></script>');
      expect((await client.get('/reference/assets/swagger-ui-bundle.js')).status).toBe(200);
      expect((await client.get('/openapi.json')).status).toBe(404);
      expect((await client.get('/docs')).status).toBe(404);
    } finally {
      await client.close();
    }
  });

  test('docs: false serves the document and no docs page', async () => {
    const client = await testClient(shopApp({ title: 'T', version: '1', docs: false }));
    try {
      expect((await client.get('/openapi.json')).status).toBe(200);
      expect((await client.get('/docs')).status).toBe(404);
      expect((await client.get('/docs/assets/swagger-ui-bundle.js')).status).toBe(404);
    } finally {
      await client.close();
    }
  });

  test('an unknown openapi option stops createApp with ROCOCO_OPTIONS', () => {
    expect(() => shopApp({ title: 'T', version: '1', theme: 'dark' } as OpenAPIOptions)).toThrow(
      new RococoError(
        'ROCOCO_OPTIONS',
        "openapi: unknown option 'theme' (known: title, version, description, path, docs, prefix)",
      ),
    );
    let caught: unknown;
    try {
      shopApp({ title: 'T', version: '1', theme: 'dark' } as OpenAPIOptions);
    } catch (e) {
      caught = e;
    }
    expect((caught as RococoError).code).toBe('ROCOCO_OPTIONS');
  });

  test('middlewares and @Doc add their answers and security; converters type path parameters', async () => {
    const tokenRequired: Middleware = Object.assign(
      async (_req: Request, next: () => Promise<Response>) => next(),
      {
        openapi: {
          responses: { 401: 'No token' },
          security: [{ token: [] }],
          securitySchemes: { token: { type: 'http', scheme: 'bearer' } },
        },
      },
    );
    const audited: Middleware = Object.assign(
      async (_req: Request, next: () => Promise<Response>) => next(),
      {
        openapi: ({ method }: { method: string }): OperationDoc | undefined =>
          method === 'GET'
            ? undefined
            : { responses: { 429: 'Too many writes' }, security: [{ audit: [] }, {}] },
      },
    );
    class Note {
      @Expose() @JSONSchema({ type: 'integer' }) id!: number;
      @Expose() @IsOptional() @IsString() remark?: string;
    }
    @Controller('/notes', { name: 'notes' })
    @Use(tokenRequired)
    class Notes {
      @Get('/<note_id:int>/<key:uuid>', { name: 'note' }) @Schema({ response: Note }) one() {
        return { id: 1 };
      }
      @Delete('/<note_id:int>', { name: 'forget' })
      @Doc({ responses: { 401: 'Or an expired token', 409: 'Still referenced' } })
      forget() {}
    }
    const client = await testClient(
      createApp({
        controllers: [Notes],
        middlewares: [audited],
        plugins: [schemas(), openapi({ title: 'T', version: '1' })],
      }),
    );
    try {
      const doc = await (await client.get('/openapi.json')).json();
      expect(validateOpenAPI(doc)).toEqual({ valid: true });
      const one = doc.paths['/notes/{note_id}/{key}'].get;
      expect(one.parameters).toEqual([
        {
          name: 'note_id',
          in: 'path',
          required: true,
          schema: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
        },
        { name: 'key', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } },
      ]);
      expect(one.security).toEqual([{ token: [] }]);
      expect(Object.keys(one.responses)).toEqual(['200', '401', '404', 'default']);
      const forget = doc.paths['/notes/{note_id}'].delete;
      expect(forget.security).toEqual([{ audit: [], token: [] }, { token: [] }]);
      expect(forget.responses['401'].description).toBe('No token; or: Or an expired token');
      expect(Object.keys(forget.responses)).toEqual(['200', '401', '404', '409', '429', 'default']);
      expect(doc.components.securitySchemes).toEqual({ token: { type: 'http', scheme: 'bearer' } });
      // An @IsOptional() property of a response class is not required; the others are.
      expect(doc.components.schemas.Note).toEqual({
        type: 'object',
        properties: { id: { type: 'integer' }, remark: { type: 'string' } },
        required: ['id'],
      });
    } finally {
      await client.close();
    }
  });

  test('in DEBUG, startup names the operations whose JSON has no response class', async () => {
    const { logger, records } = memoryLogger();
    createApp({
      controllers: [ShopController, MiscController],
      settings: immutableSettings({ DEBUG: true }),
      logger,
      plugins: [schemas(), openapi({ title: 'T', version: '1' })],
    });
    expect(records.filter((l) => l.msg?.startsWith('openapi:'))).toEqual([
      expect.objectContaining({
        level: 40,
        operations: ['GET /shop/search', 'GET /shop/by-slug/{slug}', 'GET /misc/health'],
      }),
    ]);
  });

  test('without the openapi option there is no document', async () => {
    const client = await testClient(
      createApp({ controllers: [ShopController], plugins: [schemas()] }),
    );
    try {
      expect((await client.get('/openapi.json')).status).toBe(404);
      expect((await client.get('/docs')).status).toBe(404);
    } finally {
      await client.close();
    }
  });
});

describe("the sample's document", () => {
  let db: TestDatabase;
  let client: TestClient;
  let app: ReturnType<typeof createSampleApp>;
  let doc: Doc;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = createSampleApp(sampleSettings(db.url));
    client = await testClient(app);
    const res = await client.get('/openapi.json');
    expect([res.status, res.headers.get('content-type')]).toEqual([200, JSON_TYPE]);
    doc = await res.json();
  });

  afterAll(async () => {
    await client?.close();
    await db?.drop();
  });

  /** The sample's /api routes as the router holds them: `{ '/api/projects/{project_id}': ['get', ...] }`. */
  function apiRoutes(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const r of app.router.routes) {
      if (!r.pattern.source.startsWith('/api/') && r.pattern.source !== '/api') continue;
      const path = r.pattern.source.replace(/<(\w+)(:[^>]*)?>/g, '{$1}');
      (out[path] ??= []).push(...r.methods.map((m) => m.toLowerCase()));
    }
    return out;
  }

  test('validates against the OpenAPI 3.1 schema', () => {
    expect(validateOpenAPI(doc)).toEqual({ valid: true });
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info).toEqual({
      title: 'Rococo Tracker API',
      version: '1.0.0',
      description: 'Projects of the rococo sample, as JSON.',
    });
  });

  test('its /api routes are as expected', () => {
    expect(apiRoutes()).toEqual({
      '/api/': ['get'],
      '/api/projects': ['get', 'post'],
      '/api/projects/{project_id}': ['get', 'put', 'delete'],
    });
  });

  test('its paths are exactly its /api routes, its operations exactly the api.* route names', () => {
    expect(operations(doc)).toEqual(apiRoutes());
    const ids = Object.values(
      doc.paths as Record<string, Record<string, { operationId: string }>>,
    ).flatMap((ops) => Object.values(ops).map((o) => o.operationId));
    expect(ids.sort()).toEqual([
      'api.add_project',
      'api.delete_project',
      'api.edit_project',
      'api.index',
      'api.project',
      'api.projects',
    ]);
    expect(doc.tags).toEqual([{ name: 'api' }]);
  });

  test('each /api operation: its route name, method and path match the router', () => {
    const byName = new Map(
      app.router.routes.filter((r) => r.name?.startsWith('api.')).map((r) => [r.name as string, r]),
    );
    expect([...byName.keys()].sort()).toEqual([
      'api.add_project',
      'api.delete_project',
      'api.edit_project',
      'api.index',
      'api.project',
      'api.projects',
    ]);
    for (const [name, route] of byName) {
      const path = route.pattern.source.replace(/<(\w+)(:[^>]*)?>/g, '{$1}');
      expect([name, doc.paths[path]?.[route.methods[0].toLowerCase()]?.operationId]).toEqual([
        name,
        name,
      ]);
    }
  });

  test('the /api operations: summaries, parameters, bodies, responses', () => {
    // The id converter's bounds, with the params class's type (the same: integer).
    const PROJECT_ID = {
      name: 'project_id',
      in: 'path',
      required: true,
      schema: { type: 'integer', minimum: 1, maximum: 2147483647 },
    };
    const UNAUTHORIZED = problem('Not logged in: log in at /login, then send the session cookie');
    const CSRF = 'Cross-site request refused, or the CSRF token is missing or wrong';
    const CONFLICT = problem('The slug is taken');
    // Writes: the session cookie, with or without the CSRF header (JSON clients that are no browser need none).
    const SECURITY = [{ session: [], csrf: [] }, { session: [] }];
    const api = Object.fromEntries(
      Object.entries(doc.paths as Record<string, unknown>).filter(([p]) => p.startsWith('/api/')),
    );
    expect(api).toEqual({
      '/api/': {
        get: {
          operationId: 'api.index',
          tags: ['api'],
          summary: 'Where everything is',
          description: 'URLs of the API, the project URL with a `{project_id}` placeholder.',
          parameters: [
            {
              name: 'locale',
              in: 'query',
              required: false,
              schema: { type: 'string', pattern: '^[a-z]{2,3}([_-][A-Za-z]{2,4})?$' },
            },
          ],
          responses: { '200': success(ref('ApiIndex')), '422': INVALID, default: DEFAULT },
        },
      },
      '/api/projects': {
        get: {
          operationId: 'api.projects',
          tags: ['api'],
          summary: 'All projects',
          description: 'Ordered by id.',
          responses: { '200': success(ref('ProjectList')), default: DEFAULT },
        },
        post: {
          operationId: 'api.add_project',
          tags: ['api'],
          summary: 'Add a project',
          description: 'A taken slug is a 409.',
          requestBody: BODY('ProjectInput'),
          security: SECURITY,
          responses: {
            '201': success(ref('ProjectOut')),
            ...BODY_ERRORS,
            '401': UNAUTHORIZED,
            '403': problem(CSRF),
            '409': CONFLICT,
            '422': INVALID,
            '429': TOO_MANY,
            default: DEFAULT,
          },
        },
      },
      '/api/projects/{project_id}': {
        get: {
          operationId: 'api.project',
          tags: ['api'],
          summary: 'One project',
          parameters: [PROJECT_ID],
          responses: {
            '200': success(ref('ProjectOut')),
            ...NOT_FOUND,
            '422': INVALID,
            default: DEFAULT,
          },
        },
        put: {
          operationId: 'api.edit_project',
          tags: ['api'],
          summary: 'Change a project',
          parameters: [PROJECT_ID],
          requestBody: BODY('ProjectInput'),
          security: SECURITY,
          responses: {
            '200': success(ref('ProjectOut')),
            ...BODY_ERRORS,
            '401': UNAUTHORIZED,
            '403': problem(`${CSRF}; or: Only its owner may change a project`),
            ...NOT_FOUND,
            '409': CONFLICT,
            '422': INVALID,
            '429': TOO_MANY,
            default: DEFAULT,
          },
        },
        delete: {
          operationId: 'api.delete_project',
          tags: ['api'],
          summary: 'Delete a project',
          parameters: [PROJECT_ID],
          security: SECURITY,
          responses: {
            '204': NO_CONTENT,
            '401': UNAUTHORIZED,
            '403': problem(`${CSRF}; or: Only its owner may delete a project`),
            ...NOT_FOUND,
            '422': INVALID,
            '429': TOO_MANY,
            default: DEFAULT,
          },
        },
      },
    });
  });

  test('components: the problems and the schema classes, nested ProjectOut included', () => {
    const schemas = doc.components.schemas;
    expect(Object.keys(schemas).sort()).toEqual([
      'ApiIndex',
      'ApiUrls',
      'Problem',
      'ProjectInput',
      'ProjectList',
      'ProjectOut',
      'ValidationProblem',
    ]);
    expect(schemas.Problem).toEqual(PROBLEM);
    expect(schemas.ValidationProblem).toEqual(VALIDATION_PROBLEM);
    expect(schemas.ProjectList).toEqual({
      type: 'object',
      properties: { projects: { type: 'array', items: ref('ProjectOut') } },
      required: ['projects'],
    });
    expect(schemas.ProjectInput).toEqual({
      type: 'object',
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 32 },
        slug: { type: 'string', pattern: '^[a-z0-9-]{1,32}$' },
        description: { type: 'string', maxLength: 255 },
      },
      required: ['name', 'slug'],
    });
    // @JSONSchema says what the runtime types cannot: an integer id, an owner that may be null.
    expect(schemas.ProjectOut).toEqual({
      type: 'object',
      properties: {
        id: { type: 'integer' },
        name: { type: 'string' },
        slug: { type: 'string' },
        description: { type: 'string' },
        owner_id: { type: ['integer', 'null'] },
        owner_name: { type: ['string', 'null'] },
        created_at: { type: 'string', format: 'date-time' },
      },
      required: ['id', 'name', 'slug', 'description', 'owner_id', 'owner_name', 'created_at'],
    });
    expect(doc.components.securitySchemes).toEqual({
      session: {
        type: 'apiKey',
        in: 'cookie',
        name: 'rococo_session',
        description: 'The session cookie, set by the app (log in first)',
      },
      csrf: {
        type: 'apiKey',
        in: 'header',
        name: 'X-CSRF-Token',
        description:
          "The session's CSRF token (in a page: csrf_token(); in the form field 'csrf_token' instead, for forms). A JSON request from a client that is not a browser (no Origin, no Sec-Fetch-Site) needs none.",
      },
    });
  });

  test('what the document says is what the API does', async () => {
    await logIn(client); // writes need a session (sample/auth)
    const res = await client.post('/api/projects', {
      json: { name: 'Doc check', slug: 'doc-check', extra: 'dropped' },
    });
    const body = await res.json();
    expect([res.status, Object.keys(body).sort()]).toEqual([
      201,
      Object.keys(doc.components.schemas.ProjectOut.properties).sort(),
    ]);
    const bad = await client.post('/api/projects', { json: { name: '', slug: 'Bad Slug' } });
    const problem = await bad.json();
    expect([bad.status, bad.headers.get('content-type'), Object.keys(problem)]).toEqual([
      422,
      'application/problem+json',
      ['type', 'title', 'status', 'detail', 'errors'],
    ]);
    const list = await client.get('/api/projects');
    expect(Object.keys(await list.json())).toEqual(['projects']);
    expect((await client.delete(`/api/projects/${body.id}`)).status).toBe(204);
  });
});
