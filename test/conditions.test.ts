import { Controller, createApp, Get, Post, RococoError, type Request } from '../src';
import { testClient, type TestClient } from '../src/testing';

/**
 * Route conditions: routes with one method and path told apart by host, header values or a
 * test of the user's, the first that holds winning, the route without conditions taking the
 * rest; Vary on header-conditioned paths; routes without conditions untouched.
 */

@Controller('/items', { name: 'items' })
class ItemsController {
  @Get('', { name: 'v2', conditions: { headers: { 'accept-version': '2' } } })
  v2() {
    return { version: 2 };
  }

  @Get('', { name: 'v3', conditions: { headers: { 'Accept-Version': /^3(\.\d+)?$/ } } })
  v3() {
    return { version: 3 };
  }

  @Get('', { name: 'list' })
  list() {
    return { version: 1 };
  }

  @Get('/<id:\\d+>', { name: 'admin_show', conditions: { host: 'admin.example.com' } })
  adminShow(req: Request) {
    return { admin: true, id: req.params.id };
  }

  @Get('/<item_id:\\d+>', { name: 'show' })
  show(req: Request) {
    return { admin: false, id: req.params.item_id };
  }

  @Get('/only-internal', { conditions: { match: (req) => req.headers['x-internal'] === 'yes' } })
  internal() {
    return { internal: true };
  }

  @Post('/upload', { conditions: { host: /^(api|upload)\.example\.com$/ } })
  upload() {
    return { uploaded: true };
  }
}

@Controller('/plain')
class PlainController {
  @Get('')
  plain() {
    return { plain: true };
  }
}

let client: TestClient;

beforeAll(async () => {
  client = await testClient(createApp({ controllers: [ItemsController, PlainController] }));
});

afterAll(() => client.close());

test('a header condition picks its route; without the header, the route without conditions', async () => {
  expect(await (await client.get('/items', { headers: { 'accept-version': '2' } })).json()).toEqual(
    { version: 2 },
  );
  expect(
    await (await client.get('/items', { headers: { 'accept-version': '3.1' } })).json(),
  ).toEqual({ version: 3 });
  expect(await (await client.get('/items', { headers: { 'accept-version': '9' } })).json()).toEqual(
    { version: 1 },
  );
  expect(await (await client.get('/items')).json()).toEqual({ version: 1 });
});

test('responses of a header-conditioned path carry Vary with those headers, whichever route answered', async () => {
  expect(
    (await client.get('/items', { headers: { 'accept-version': '2' } })).headers.get('vary'),
  ).toBe('accept-version');
  expect((await client.get('/items')).headers.get('vary')).toBe('accept-version');
});

test('a route without conditions pays nothing for them: no Vary', async () => {
  const res = await client.get('/plain');
  expect(await res.json()).toEqual({ plain: true });
  expect(res.headers.get('vary')).toBeNull();
});

test('a host condition (port and case ignored), with its own parameter names', async () => {
  expect(
    await (await client.get('/items/7', { headers: { host: 'Admin.Example.com:8443' } })).json(),
  ).toEqual({ admin: true, id: '7' });
  expect(await (await client.get('/items/7')).json()).toEqual({ admin: false, id: '7' });
  expect((await client.get('/items/7')).headers.get('vary')).toBeNull(); // Host is already in every cache key
});

test('a host regex; no route without conditions: the others get a 404, other methods a 405', async () => {
  expect(
    (await client.post('/items/upload', { headers: { host: 'api.example.com' } })).status,
  ).toBe(200);
  expect(
    (await client.post('/items/upload', { headers: { host: 'evil.example.com' } })).status,
  ).toBe(404);
  const wrong = await client.get('/items/upload', { headers: { host: 'api.example.com' } });
  expect(wrong.status).toBe(405);
  expect(wrong.headers.get('allow')).toBe('POST');
});

test('a custom condition: a function of the request', async () => {
  expect(
    (await client.get('/items/only-internal', { headers: { 'x-internal': 'yes' } })).status,
  ).toBe(200);
  expect((await client.get('/items/only-internal')).status).toBe(404);
});

test('names of conditioned routes build URLs as any route', () => {
  const app = createApp({ controllers: [ItemsController] });
  expect(app.url('items.v2')).toBe('/items');
  expect(app.url('items.admin_show', { id: 3 })).toBe('/items/3');
});

test('the same conditions twice on one method and path stop createApp; unknown or empty conditions too', () => {
  @Controller('/dup')
  class Dup {
    @Get('', { conditions: { headers: { 'accept-version': '2' } } })
    a() {
      return {};
    }
    @Get('', { conditions: { headers: { 'ACCEPT-VERSION': '2' } } })
    b() {
      return {};
    }
  }
  expect(() => createApp({ controllers: [Dup] })).toThrow(
    /ROCOCO_ROUTE_DUPLICATE: Dup\.b: GET \/dup is already declared by Dup\.a/,
  );

  @Controller('/bad')
  class Bad {
    @Get('', { conditions: { hots: 'x' } as never })
    a() {
      return {};
    }
  }
  expect(() => createApp({ controllers: [Bad] })).toThrow(RococoError);
  expect(() => createApp({ controllers: [Bad] })).toThrow(/unknown condition 'hots'/);

  @Controller('/empty')
  class Empty {
    @Get('', { conditions: {} })
    a() {
      return {};
    }
  }
  expect(() => createApp({ controllers: [Empty] })).toThrow(/conditions are empty/);
});

test("a response's own Vary is merged with the route conditions', not put in its place", async () => {
  const app = createApp({ controllers: [ItemsController] });
  app.onSend((req, response) => void response.setHeader('vary', 'Accept-Encoding'));
  const own = await testClient(app);
  try {
    const res = await own.get('/items', { headers: { 'accept-version': '2' } });
    expect(res.headers.get('vary')).toBe('accept-version, Accept-Encoding');
    expect((await own.get('/items/7')).headers.get('vary')).toBe('Accept-Encoding');
  } finally {
    await own.close();
  }
});
