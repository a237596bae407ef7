/**
 * Routing, through real HTTP: patterns and params, priorities, 404/405/HEAD, prefixes, route
 * names and `url()`, and the mistakes `createApp` refuses at startup.
 */
import {
  createApp,
  Controller,
  Get,
  Post,
  Put,
  Delete,
  Head,
  Route,
  inject,
  text,
  json,
  type Application,
  type Request,
} from '../src';
import { testClient, type TestClient } from '../src/testing';

const clients: TestClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

/** Serves an app of these controllers; the client is closed after the test. */
async function serve(
  ...controllers: (new (...args: never[]) => object)[]
): Promise<{ app: Application; client: TestClient }> {
  const app = createApp({ controllers });
  const client = await testClient(app);
  clients.push(client);
  return { app, client };
}

/** GETs a path and expects a 200 JSON body. */
async function expectJson(client: TestClient, path: string, body: unknown): Promise<void> {
  const res = await client.get(path);
  expect({ path, status: res.status, body: await res.json() }).toEqual({ path, status: 200, body });
}

/** Expects a problem+json answer with this status. */
async function expectProblem(
  res: globalThis.Response,
  status: number,
): Promise<Record<string, unknown>> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  const body = (await res.json()) as Record<string, unknown>;
  expect(body.status).toBe(status);
  expect(body.type).toBe('about:blank');
  return body;
}

async function expectStatus(
  client: TestClient,
  method: string,
  path: string,
  status: number,
): Promise<void> {
  const res = await client.request(method, path);
  await res.arrayBuffer();
  expect({ method, path, status: res.status }).toEqual({ method, path, status });
}

/** The error `fn` throws (fails the test if it does not throw). */
function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a throw');
}

const params = (req: Request) => ({ ...req.params });

// ---------------------------------------------------------------------------------------------
describe('parameters', () => {
  test('<name> matches exactly one non-empty segment', async () => {
    @Controller()
    class C {
      @Get('/users/<name>') user(req: Request) {
        return params(req);
      }
      @Get('/users/<name>/posts/<post>') post(req: Request) {
        return params(req);
      }
    }
    const { client } = await serve(C);
    await expectJson(client, '/users/bob', { name: 'bob' });
    await expectJson(client, '/users/bob/posts/7', { name: 'bob', post: '7' });
    await expectStatus(client, 'GET', '/users/', 404);
    await expectStatus(client, 'GET', '/users/bob/x', 404);
    await expectStatus(client, 'GET', '/users//posts/7', 404);
    await expectStatus(client, 'GET', '/users', 404);
  });

  test('<name:regex> matches the whole segment only', async () => {
    @Controller()
    class C {
      @Get('/items/<id:\\d+>') item(req: Request) {
        return params(req);
      }
      @Get('/slugs/<slug:[a-z-]+>') slug(req: Request) {
        return params(req);
      }
      @Get('/ver/<v:\\d+\\.\\d+>') ver(req: Request) {
        return params(req);
      }
      @Get('/cmp/<op:[<>=]+>') cmp(req: Request) {
        return params(req);
      }
    }
    const { client } = await serve(C);
    await expectJson(client, '/items/42', { id: '42' });
    await expectStatus(client, 'GET', '/items/abc', 404);
    await expectStatus(client, 'GET', '/items/4a', 404);
    await expectStatus(client, 'GET', '/items/a4', 404);
    await expectJson(client, '/slugs/hello-world', { slug: 'hello-world' });
    await expectStatus(client, 'GET', '/slugs/Hello', 404);
    await expectStatus(client, 'GET', '/slugs/a_b', 404);
    await expectJson(client, '/ver/1.20', { v: '1.20' });
    await expectStatus(client, 'GET', '/ver/1x2', 404);
    // A regex with '>' inside a class: the parser must not stop at it.
    await expectJson(client, '/cmp/%3E%3D', { op: '>=' });
    await expectStatus(client, 'GET', '/cmp/x', 404);
  });

  test('alternation is anchored as a whole', async () => {
    @Controller()
    class C {
      @Get('/fmt/<kind:json|xml>') fmt(req: Request) {
        return params(req);
      }
      @Get('/doc.<ext:html|pdf>') doc(req: Request) {
        return params(req);
      }
    }
    const { client } = await serve(C);
    await expectJson(client, '/fmt/json', { kind: 'json' });
    await expectJson(client, '/fmt/xml', { kind: 'xml' });
    await expectStatus(client, 'GET', '/fmt/jsonx', 404);
    await expectStatus(client, 'GET', '/fmt/xjson', 404);
    await expectStatus(client, 'GET', '/fmt/xmlx', 404);
    await expectJson(client, '/doc.html', { ext: 'html' });
    await expectJson(client, '/doc.pdf', { ext: 'pdf' });
    await expectStatus(client, 'GET', '/doc.htmlx', 404);
    await expectStatus(client, 'GET', '/doc.xpdf', 404);
  });

  test('a regex with its own groups still gives the right params', async () => {
    @Controller()
    class C {
      @Get('/range/<r:(\\d+)-(\\d+)>/<tail>') range(req: Request) {
        return params(req);
      }
      @Get('/span/<a:(\\d+)-(\\d+)>to<b>') span(req: Request) {
        return params(req);
      }
      @Get('/named/<n:(?<first>[a-z])(?<rest>\\d+)>/<m>') named(req: Request) {
        return params(req);
      }
      @Get('/tree/<path:(\\w+/)*\\w+>/<leaf:[A-Z]+>') tree(req: Request) {
        return params(req);
      }
    }
    const { client } = await serve(C);
    await expectJson(client, '/range/1-2/z', { r: '1-2', tail: 'z' });
    await expectStatus(client, 'GET', '/range/1-x/z', 404);
    await expectJson(client, '/span/10-20toX', { a: '10-20', b: 'X' });
    await expectJson(client, '/named/a12/q', { n: 'a12', m: 'q' });
    await expectJson(client, '/tree/a/b/c/LEAF', { path: 'a/b/c', leaf: 'LEAF' });
  });

  test('mixed segments: static text around params', async () => {
    @Controller()
    class C {
      @Get('/files/<name>.json') file(req: Request) {
        return params(req);
      }
      @Get('/api/v<major:\\d+>/status') status(req: Request) {
        return params(req);
      }
    }
    const { client } = await serve(C);
    await expectJson(client, '/files/report.json', { name: 'report' });
    await expectJson(client, '/files/a.b.json', { name: 'a.b' });
    await expectStatus(client, 'GET', '/files/report.txt', 404);
    await expectStatus(client, 'GET', '/files/.json', 404);
    await expectStatus(client, 'GET', '/files/report.jsonx', 404);
    await expectJson(client, '/api/v2/status', { major: '2' });
    await expectJson(client, '/api/v10/status', { major: '10' });
    await expectStatus(client, 'GET', '/api/vx/status', 404);
    await expectStatus(client, 'GET', '/api/v/status', 404);
    await expectStatus(client, 'GET', '/api/2/status', 404);
  });

  test('a regex that can match "/" spans segments', async () => {
    @Controller()
    class C {
      @Get('/static/<path:.+>') stat(req: Request) {
        return params(req);
      }
      @Get('/<a>/files/<rest:.*>/raw') raw(req: Request) {
        return params(req);
      }
      @Get('/neg/<x:[^-]+>') neg(req: Request) {
        return params(req);
      }
    }
    const { client } = await serve(C);
    await expectJson(client, '/static/site.css', { path: 'site.css' });
    await expectJson(client, '/static/css/vendor/site.css', { path: 'css/vendor/site.css' });
    await expectStatus(client, 'GET', '/static/', 404);
    await expectStatus(client, 'GET', '/static', 404);
    await expectJson(client, '/proj/files/src/main.ts/raw', { a: 'proj', rest: 'src/main.ts' });
    await expectJson(client, '/proj/files/x/raw', { a: 'proj', rest: 'x' });
    await expectStatus(client, 'GET', '/proj/files/src/main.ts', 404);
    await expectJson(client, '/neg/a/b', { x: 'a/b' });
    await expectStatus(client, 'GET', '/neg/a-b', 404);
  });

  test('a regex that cannot match "/" does not span', async () => {
    @Controller()
    class C {
      @Get('/nums/<n:\\d+>') nums(req: Request) {
        return params(req);
      }
      @Get('/words/<w:[a-z.]+>') words(req: Request) {
        return params(req);
      }
      @Get('/ids/<id:\\w+>') ids(req: Request) {
        return params(req);
      }
    }
    const { client } = await serve(C);
    await expectJson(client, '/nums/12', { n: '12' });
    await expectStatus(client, 'GET', '/nums/1/2', 404);
    await expectJson(client, '/words/a.b', { w: 'a.b' });
    await expectStatus(client, 'GET', '/words/a/b', 404);
    await expectJson(client, '/ids/a_1', { id: 'a_1' });
    await expectStatus(client, 'GET', '/ids/a/1', 404);
  });

  test('params are percent-decoded', async () => {
    @Controller()
    class C {
      @Get('/p/<name>') p(req: Request) {
        return params(req);
      }
      @Get('/p/<name>/edit') edit(req: Request) {
        return { edit: req.params.name };
      }
      @Get('/n/<id:\\d+>') n(req: Request) {
        return params(req);
      }
      @Get('/static/<path:.+>') stat(req: Request) {
        return params(req);
      }
      @Get('/café/<x>') cafe(req: Request) {
        return params(req);
      }
      @Get('/naïve') naive() {
        return { naive: true };
      }
    }
    const { client } = await serve(C);
    await expectJson(client, '/p/caf%C3%A9', { name: 'café' });
    await expectJson(client, '/p/hello%20world', { name: 'hello world' });
    await expectJson(client, '/p/100%25', { name: '100%' });
    // An encoded slash is part of the segment, not a separator.
    await expectJson(client, '/p/a%2Fb', { name: 'a/b' });
    await expectJson(client, '/p/a%2Fb/edit', { edit: 'a/b' });
    await expectJson(client, '/n/%34%32', { id: '42' });
    await expectJson(client, '/static/a%20b/c%C3%A9.txt', { path: 'a b/cé.txt' });
    await expectJson(client, '/caf%C3%A9/1', { x: '1' });
    await expectJson(client, '/na%C3%AFve', { naive: true });
  });

  test('an encoded slash is a slash inside a parameter that spans segments (documented)', async () => {
    @Controller()
    class C {
      @Get('/<a>/files/<rest:.*>/raw') raw(req: Request) {
        return params(req);
      }
    }
    const { client } = await serve(C);
    await expectJson(client, '/p/files/x%2Fy/raw', { a: 'p', rest: 'x/y' });
    // A spanning parameter matches the decoded rest of the path, where %2F has become '/'.
    await expectJson(client, '/p/files/x%2Fraw', { a: 'p', rest: 'x' });
  });

  test('malformed percent-encoding is a 400, not a 500, and the server keeps serving', async () => {
    @Controller()
    class C {
      @Get('/p/<name>') p(req: Request) {
        return params(req);
      }
      @Get('/static/<path:.+>') stat(req: Request) {
        return params(req);
      }
      @Get('/plain') plain() {
        return { ok: true };
      }
    }
    const { client } = await serve(C);
    for (const path of [
      '/p/%zz',
      '/p/%E0%A4%A',
      '/p/%C3',
      '/static/a/%ZZ',
      '/plain%',
      '/nowhere/%GG',
    ]) {
      const res = await client.get(path);
      expect({ path, status: res.status }).toEqual({ path, status: 400 });
      await expectProblem(res, 400);
    }
    await expectStatus(client, 'POST', '/p/%zz', 400);
    await expectJson(client, '/p/ok', { name: 'ok' });
  });
});

// ---------------------------------------------------------------------------------------------
describe('priorities', () => {
  test('a static segment beats a param, whatever the declaration order', async () => {
    @Controller('/projects')
    class ParamFirst {
      @Get('/<id>') show(req: Request) {
        return { show: req.params.id };
      }
      @Get('/new') create() {
        return { create: true };
      }
    }
    @Controller('/tasks')
    class StaticFirst {
      @Get('/new') create() {
        return { create: true };
      }
      @Get('/<id>') show(req: Request) {
        return { show: req.params.id };
      }
    }
    const { client } = await serve(ParamFirst, StaticFirst);
    await expectJson(client, '/projects/new', { create: true });
    await expectJson(client, '/projects/42', { show: '42' });
    await expectJson(client, '/tasks/new', { create: true });
    await expectJson(client, '/tasks/42', { show: '42' });
  });

  test('across controllers, the param controller listed first', async () => {
    @Controller('/projects')
    class Show {
      @Get('/<id>') show(req: Request) {
        return { show: req.params.id };
      }
    }
    @Controller('/projects')
    class New {
      @Get('/new') create() {
        return { create: true };
      }
    }
    const { client } = await serve(Show, New);
    await expectJson(client, '/projects/new', { create: true });
    await expectJson(client, '/projects/7', { show: '7' });
  });

  test('a static segment beats a param deeper in the path too', async () => {
    @Controller()
    class C {
      @Get('/<org>/<repo>/issues') issues(req: Request) {
        return { issues: params(req) };
      }
      @Get('/<org>/settings/issues') settings(req: Request) {
        return { settings: params(req) };
      }
    }
    const { client } = await serve(C);
    await expectJson(client, '/acme/settings/issues', { settings: { org: 'acme' } });
    await expectJson(client, '/acme/rococo/issues', { issues: { org: 'acme', repo: 'rococo' } });
  });

  test('a regex param beats a plain param, whatever the order', async () => {
    @Controller()
    class C {
      @Get('/r/<any>') any(req: Request) {
        return { any: req.params.any };
      }
      @Get('/r/<num:\\d+>') num(req: Request) {
        return { num: req.params.num };
      }
      @Get('/s/<num:\\d+>') snum(req: Request) {
        return { num: req.params.num };
      }
      @Get('/s/<any>') sany(req: Request) {
        return { any: req.params.any };
      }
    }
    const { client } = await serve(C);
    await expectJson(client, '/r/5', { num: '5' });
    await expectJson(client, '/r/x', { any: 'x' });
    await expectJson(client, '/s/5', { num: '5' });
    await expectJson(client, '/s/x', { any: 'x' });
  });

  test('a segment param beats a spanning param', async () => {
    @Controller()
    class C {
      @Get('/m/<rest:.+>') rest(req: Request) {
        return { rest: req.params.rest };
      }
      @Get('/m/<a>') one(req: Request) {
        return { a: req.params.a };
      }
    }
    const { client } = await serve(C);
    await expectJson(client, '/m/x', { a: 'x' });
    await expectJson(client, '/m/x/y', { rest: 'x/y' });
  });

  test('backtracking: a static branch that fails falls back to a param branch', async () => {
    @Controller()
    class C {
      @Get('/a/<x>/b') first(req: Request) {
        return { first: params(req) };
      }
      @Get('/a/c/d') second() {
        return { second: true };
      }
    }
    const { client } = await serve(C);
    await expectJson(client, '/a/c/b', { first: { x: 'c' } });
    await expectJson(client, '/a/c/d', { second: true });
    await expectJson(client, '/a/z/b', { first: { x: 'z' } });
    await expectStatus(client, 'GET', '/a/c/e', 404);
  });

  test('backtracking resets the params captured by a failed branch', async () => {
    @Controller()
    class C {
      @Get('/bt/<n:\\d+>/x/<m:\\d+>') num(req: Request) {
        return { num: params(req) };
      }
      @Get('/bt/<s>/x/<t>') any(req: Request) {
        return { any: params(req) };
      }
      @Get('/st/a/<p>/end') st(req: Request) {
        return { st: params(req) };
      }
      @Get('/st/<rest:.+>') tail(req: Request) {
        return { tail: params(req) };
      }
    }
    const { client } = await serve(C);
    await expectJson(client, '/bt/1/x/2', { num: { n: '1', m: '2' } });
    await expectJson(client, '/bt/1/x/y', { any: { s: '1', t: 'y' } });
    await expectJson(client, '/st/a/q/end', { st: { p: 'q' } });
    await expectJson(client, '/st/a/q/other', { tail: { rest: 'a/q/other' } });
  });
});

// ---------------------------------------------------------------------------------------------
describe('404, 405, HEAD, trailing slash', () => {
  test('no matching path: 404 problem', async () => {
    @Controller()
    class C {
      @Get('/here') here() {
        return { here: true };
      }
    }
    const { client } = await serve(C);
    const res = await client.get('/nowhere');
    expect(await expectProblem(res, 404)).toEqual({
      type: 'about:blank',
      title: 'Not Found',
      status: 404,
    });
    await expectStatus(client, 'POST', '/nowhere', 404);
    await expectStatus(client, 'GET', '/HERE', 404);
  });

  test('path matches but the method does not: 405 with the exact Allow header', async () => {
    @Controller()
    class C {
      @Get('/things') list() {
        return [];
      }
      @Post('/things') add() {
        return { added: true };
      }
      @Put('/things/<id:\\d+>') put(req: Request) {
        return params(req);
      }
      @Delete('/things/<id:\\d+>') del(req: Request) {
        return params(req);
      }
      @Head('/probe') probe() {
        return text('');
      }
      @Route(['GET', 'PUT'], '/both') both() {
        return { both: true };
      }
    }
    const { client } = await serve(C);
    const allow = (res: globalThis.Response) => (res.headers.get('allow') ?? '').split(', ').sort();

    let res = await client.delete('/things');
    const body = await expectProblem(res, 405);
    expect(body.title).toBe('Method Not Allowed');
    expect(allow(res)).toEqual(['GET', 'HEAD', 'POST']);

    res = await client.get('/things/5');
    await expectProblem(res, 405);
    expect(allow(res)).toEqual(['DELETE', 'PUT']);

    res = await client.head('/things/5');
    expect(res.status).toBe(405);
    expect(allow(res)).toEqual(['DELETE', 'PUT']);

    // The regex refuses 'abc': no path matches, so 404, not 405.
    await expectStatus(client, 'GET', '/things/abc', 404);

    res = await client.get('/probe');
    await expectProblem(res, 405);
    expect(allow(res)).toEqual(['HEAD']);

    res = await client.post('/both');
    await expectProblem(res, 405);
    expect(allow(res)).toEqual(['GET', 'HEAD', 'PUT']);
  });

  test('GET routes answer HEAD with no body and the same headers', async () => {
    @Controller()
    class C {
      @Get('/obj') obj() {
        return { a: 1 };
      }
      @Get('/text') txt() {
        return text('hello', { headers: { 'x-kind': 'text' } });
      }
      @Get('/json/<id:\\d+>') js(req: Request) {
        return json({ id: req.params.id }, { status: 201 });
      }
    }
    const { client } = await serve(C);
    const cases: [string, number, string, string, string][] = [
      ['/obj', 200, 'application/json; charset=utf-8', '7', '{"a":1}'],
      ['/text', 200, 'text/plain; charset=utf-8', '5', 'hello'],
      ['/json/12', 201, 'application/json; charset=utf-8', '11', '{"id":"12"}'],
    ];
    for (const [path, status, type, length, content] of cases) {
      const get = await client.get(path);
      expect([
        path,
        get.status,
        get.headers.get('content-type'),
        get.headers.get('content-length'),
        await get.text(),
      ]).toEqual([path, status, type, length, content]);
      const head = await client.head(path);
      expect([
        path,
        head.status,
        head.headers.get('content-type'),
        head.headers.get('content-length'),
        await head.text(),
      ]).toEqual([path, status, type, length, '']);
    }
    const head = await client.head('/text');
    await head.arrayBuffer();
    expect(head.headers.get('x-kind')).toBe('text');
  });

  test('an explicit @Head route overrides the implicit one, whatever the order', async () => {
    const calls: string[] = [];
    @Controller()
    class C {
      @Get('/a') getA() {
        calls.push('get a');
        return { a: 1 };
      }
      @Head('/a') headA() {
        calls.push('head a');
        return text('', { headers: { 'x-head': 'explicit-a' } });
      }
      @Head('/b') headB() {
        calls.push('head b');
        return text('', { headers: { 'x-head': 'explicit-b' } });
      }
      @Get('/b') getB() {
        calls.push('get b');
        return { b: 1 };
      }
    }
    const { client } = await serve(C);
    for (const p of ['a', 'b']) {
      const res = await client.head('/' + p);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-head')).toBe('explicit-' + p);
      expect(await res.text()).toBe('');
    }
    expect(calls).toEqual(['head a', 'head b']);
    await expectJson(client, '/a', { a: 1 });
    await expectJson(client, '/b', { b: 1 });
    expect(calls).toEqual(['head a', 'head b', 'get a', 'get b']);
  });

  test('a trailing slash is a different path', async () => {
    @Controller()
    class C {
      @Get('/t') t() {
        return { t: true };
      }
      @Get('/u/') u() {
        return { u: true };
      }
      @Get('/users/<name>') user(req: Request) {
        return params(req);
      }
      @Get('/ids/<id:\\d+>') id(req: Request) {
        return params(req);
      }
    }
    const { client } = await serve(C);
    await expectJson(client, '/t', { t: true });
    await expectStatus(client, 'GET', '/t/', 404);
    await expectJson(client, '/u/', { u: true });
    await expectStatus(client, 'GET', '/u', 404);
    await expectJson(client, '/users/bob', { name: 'bob' });
    await expectStatus(client, 'GET', '/users/bob/', 404);
    await expectStatus(client, 'GET', '/ids/1/', 404);
  });
});

// ---------------------------------------------------------------------------------------------
describe('prefixes', () => {
  test('join without doubled slashes', async () => {
    @Controller('/api/')
    class Api {
      @Get('/x') x() {
        return { api: 'x' };
      }
    }
    @Controller()
    class Root {
      @Get('/') root() {
        return { root: true };
      }
    }
    @Controller('/pre')
    class Pre {
      @Get() index() {
        return { pre: 'index' };
      }
      @Get('/<id:\\d+>') show(req: Request) {
        return { pre: req.params.id };
      }
    }
    const { client } = await serve(Api, Root, Pre);
    await expectJson(client, '/api/x', { api: 'x' });
    await expectStatus(client, 'GET', '/api//x', 404);
    await expectJson(client, '/', { root: true });
    await expectJson(client, '/pre', { pre: 'index' });
    await expectStatus(client, 'GET', '/pre/', 404);
    await expectStatus(client, 'GET', '/pre//', 404);
    await expectJson(client, '/pre/3', { pre: '3' });
  });

  test('url() of prefixed routes has single slashes', async () => {
    @Controller('/api/', { name: 'api' })
    class Api {
      @Get('/x', { name: 'x' }) x() {
        return {};
      }
    }
    @Controller('/pre', { name: 'pre' })
    class Pre {
      @Get('', { name: 'index' }) index() {
        return {};
      }
    }
    @Controller()
    class Root {
      @Get('/', { name: 'root' }) root() {
        return {};
      }
    }
    const app = createApp({ controllers: [Api, Pre, Root] });
    expect(app.url('api.x')).toBe('/api/x');
    expect(app.url('pre.index')).toBe('/pre');
    expect(app.url('root')).toBe('/');
  });
});

// ---------------------------------------------------------------------------------------------
describe('route names and url()', () => {
  @Controller('/api', { name: 'api' })
  class ApiController {
    @Get('/projects/<id:\\d+>', { name: 'project' })
    project(req: Request) {
      return {
        self: req.app.url('api.project', { id: req.params.id }, { tab: 'issues' }),
        id: req.params.id,
      };
    }
    @Get('/unnamed') unnamed() {
      return {};
    }
    @Get('/u/<name>', { name: 'user' }) user(req: Request) {
      return params(req);
    }
    @Get('/static/<path:.+>', { name: 'static' }) stat(req: Request) {
      return params(req);
    }
    @Get('/v<major:\\d+>/<kind:json|xml>', { name: 'ver' }) ver(req: Request) {
      return params(req);
    }
    @Get('/café/<x>', { name: 'cafe' }) cafe(req: Request) {
      return params(req);
    }
  }

  @Controller('/misc')
  class MiscController {
    @Get('/health', { name: 'health' }) health() {
      return { ok: true };
    }
  }

  let app: Application;
  let client: TestClient;
  beforeAll(async () => {
    app = createApp({ controllers: [ApiController, MiscController] });
    client = await testClient(app);
  });
  afterAll(() => client.close());

  test('full names: controller.route when the controller has a name, the route name otherwise', async () => {
    expect(app.url('api.project', { id: 42 })).toBe('/api/projects/42');
    expect(app.url('health')).toBe('/misc/health');
    const names = app.router.routes.map((r) => r.name);
    expect(names).toEqual([
      'api.project',
      undefined,
      'api.user',
      'api.static',
      'api.ver',
      'api.cafe',
      'health',
    ]);
    expect(thrown(() => app.url('project', { id: 1 })).code).toBe('ROCOCO_URL');
    expect(thrown(() => app.url('misc.health')).code).toBe('ROCOCO_URL');
  });

  test('req.app.url() inside a handler', async () => {
    await expectJson(client, '/api/projects/5', { self: '/api/projects/5?tab=issues', id: '5' });
  });

  test('params are percent-encoded and round-trip through the router', async () => {
    const cases: [Record<string, string>, string][] = [
      [{ name: 'a b' }, '/api/u/a%20b'],
      [{ name: 'a/b' }, '/api/u/a%2Fb'],
      [{ name: 'café' }, '/api/u/caf%C3%A9'],
      [{ name: '100%' }, '/api/u/100%25'],
      [{ name: 'a?b#c' }, '/api/u/a%3Fb%23c'],
    ];
    for (const [p, expected] of cases) {
      const url = app.url('api.user', p);
      expect(url).toBe(expected);
      await expectJson(client, url, p);
    }
    expect(app.url('api.ver', { major: 3, kind: 'xml' })).toBe('/api/v3/xml');
    await expectJson(client, '/api/v3/xml', { major: '3', kind: 'xml' });
    expect(app.url('api.cafe', { x: 'y' })).toBe('/api/caf%C3%A9/y');
    await expectJson(client, app.url('api.cafe', { x: 'y' }), { x: 'y' });
  });

  test('spanning params keep their slashes', async () => {
    const url = app.url('api.static', { path: 'css/a b/site.css' });
    expect(url).toBe('/api/static/css/a%20b/site.css');
    await expectJson(client, url, { path: 'css/a b/site.css' });
  });

  test('query appended: records, arrays, undefined skipped, URLSearchParams', () => {
    expect(
      app.url('health', {}, { q: 'x y', tags: ['a', 'b'], skip: undefined, n: 2, on: true }),
    ).toBe('/misc/health?q=x+y&tags=a&tags=b&n=2&on=true');
    expect(
      app.url(
        'health',
        {},
        new URLSearchParams([
          ['a', '1'],
          ['a', '2'],
          ['b', 'é&'],
        ]),
      ),
    ).toBe('/misc/health?a=1&a=2&b=%C3%A9%26');
    expect(app.url('health', {}, {})).toBe('/misc/health');
    expect(app.url('health', {}, { skip: undefined })).toBe('/misc/health');
    expect(app.url('health', undefined, new URLSearchParams())).toBe('/misc/health');
    expect(app.url('api.project', { id: 1 }, { tab: 'a/b' })).toBe('/api/projects/1?tab=a%2Fb');
  });

  test('unknown name: a clear error', () => {
    const e = thrown(() => app.url('api.nope'));
    expect(e.code).toBe('ROCOCO_URL');
    expect(e.message).toContain("'api.nope'");
  });

  test('missing param: a clear error', () => {
    const e = thrown(() => app.url('api.project'));
    expect(e.code).toBe('ROCOCO_URL');
    expect(e.message).toContain('api.project');
    expect(e.message).toContain("'id'");
    const e2 = thrown(() => app.url('api.ver', { major: 1 }));
    expect(e2.code).toBe('ROCOCO_URL');
    expect(e2.message).toContain("'kind'");
  });

  test('unknown extra param: a clear error', () => {
    const e = thrown(() => app.url('api.project', { id: 1, page: 2 }));
    expect(e.code).toBe('ROCOCO_URL');
    expect(e.message).toContain('api.project');
    expect(e.message).toContain("'page'");
  });

  test("a value the param's regex refuses: a clear error", () => {
    const e = thrown(() => app.url('api.project', { id: 'abc' }));
    expect(e.code).toBe('ROCOCO_URL');
    expect(e.message).toContain('api.project');
    expect(e.message).toContain("'abc'");
    expect(e.message).toContain('id');
    // Whole value only, and alternation anchored as a whole.
    expect(thrown(() => app.url('api.project', { id: '12a' })).code).toBe('ROCOCO_URL');
    expect(thrown(() => app.url('api.ver', { major: 1, kind: 'jsonx' })).code).toBe('ROCOCO_URL');
    expect(thrown(() => app.url('api.ver', { major: 1, kind: 'xjson' })).code).toBe('ROCOCO_URL');
    // A plain param is one non-empty segment.
    expect(thrown(() => app.url('api.user', { name: '' })).code).toBe('ROCOCO_URL');
  });
});

// ---------------------------------------------------------------------------------------------
describe('startup errors from createApp', () => {
  function expectStartupError(
    controllers: (new (...args: never[]) => object)[],
    code: string | RegExp,
    ...mentions: string[]
  ): void {
    const make = () => createApp({ controllers });
    expect(make).toThrow(mentions[0]);
    const e = thrown(make);
    if (typeof code === 'string') expect(e.code).toBe(code);
    else expect(e.code).toMatch(code);
    for (const m of mentions) expect(e.message).toContain(m);
  }

  test.each([
    ['<id:[>', /^ROCOCO_ROUTE_(REGEX|PATTERN)$/],
    ['<id:(>', /^ROCOCO_ROUTE_(REGEX|PATTERN)$/],
    ['<id:a{2,1}>', 'ROCOCO_ROUTE_REGEX'],
    ['<id:+>', 'ROCOCO_ROUTE_REGEX'],
    ['<id:(?<n>a)(?<n>b)>', 'ROCOCO_ROUTE_REGEX'],
  ])('invalid regex %s', (param, code) => {
    @Controller('/api')
    class ApiController {
      @Get(`/items/${param}`) show() {
        return {};
      }
    }
    expectStartupError([ApiController], code, 'ApiController.show', 'id');
  });

  test('duplicate route name across two controllers', () => {
    @Controller('/a')
    class AController {
      @Get('/one', { name: 'dup' }) one() {
        return {};
      }
    }
    @Controller('/b')
    class BController {
      @Get('/two', { name: 'dup' }) two() {
        return {};
      }
    }
    expectStartupError(
      [AController, BController],
      'ROCOCO_ROUTE_NAME',
      'BController.two',
      'AController.one',
      "'dup'",
    );
  });

  test('duplicate full name: a named controller and a dotted route name', () => {
    @Controller('/a', { name: 'api' })
    class AController {
      @Get('/one', { name: 'x' }) one() {
        return {};
      }
    }
    @Controller('/b')
    class BController {
      @Get('/two', { name: 'api.x' }) two() {
        return {};
      }
    }
    expectStartupError(
      [AController, BController],
      'ROCOCO_ROUTE_NAME',
      'BController.two',
      'AController.one',
      "'api.x'",
    );
  });

  test('the same name in two named controllers is fine', () => {
    @Controller('/a', { name: 'a' })
    class AController {
      @Get('/i', { name: 'index' }) index() {
        return {};
      }
    }
    @Controller('/b', { name: 'b' })
    class BController {
      @Get('/i', { name: 'index' }) index() {
        return {};
      }
    }
    const app = createApp({ controllers: [AController, BController] });
    expect([app.url('a.index'), app.url('b.index')]).toEqual(['/a/i', '/b/i']);
  });

  test('the same method and path twice', () => {
    @Controller('/api')
    class ApiController {
      @Get('/same') first() {
        return {};
      }
      @Get('/same') show() {
        return {};
      }
    }
    expectStartupError(
      [ApiController],
      'ROCOCO_ROUTE_DUPLICATE',
      'ApiController.show',
      'ApiController.first',
      'GET',
    );
  });

  test('the same method and path twice, across controllers', () => {
    @Controller('/api')
    class AController {
      @Post('/x') one() {
        return {};
      }
    }
    @Controller()
    class BController {
      @Route(['GET', 'POST'], '/api/x') two() {
        return {};
      }
    }
    expectStartupError(
      [AController, BController],
      'ROCOCO_ROUTE_DUPLICATE',
      'BController.two',
      'AController.one',
      'POST',
    );
  });

  test.each([
    ['/a/<x>', '/a/<y>'],
    ['/a/<x>/b', '/a/<y>/b'],
    ['/a/<x:\\d+>', '/a/<y:\\d+>'],
    ['/a/v<x:\\d+>.json', '/a/v<y:\\d+>.json'],
    ['/a/<x:.+>', '/a/<y:.+>'],
    ['/a/<x>/<r:.*>/raw', '/a/<y>/<s:.*>/raw'],
  ])('the same path with different param names: %s vs %s', (p1, p2) => {
    @Controller()
    class ApiController {
      @Get(p1) first() {
        return {};
      }
      @Get(p2) show() {
        return {};
      }
    }
    expectStartupError(
      [ApiController],
      'ROCOCO_ROUTE_DUPLICATE',
      'ApiController.show',
      'ApiController.first',
    );
  });

  test('the same path with different methods, or different regexes, is fine', async () => {
    @Controller()
    class C {
      @Get('/a/<x>') get(req: Request) {
        return { get: req.params.x };
      }
      @Post('/a/<y>') post(req: Request) {
        return { post: req.params.y };
      }
      @Get('/b/<x:\\d+>') num(req: Request) {
        return { num: req.params.x };
      }
      @Get('/b/<y:[a-z]+>') word(req: Request) {
        return { word: req.params.y };
      }
    }
    const { client } = await serve(C);
    await expectJson(client, '/a/1', { get: '1' });
    const res = await client.post('/a/2');
    expect([res.status, await res.json()]).toEqual([200, { post: '2' }]);
    await expectJson(client, '/b/1', { num: '1' });
    await expectJson(client, '/b/q', { word: 'q' });
  });

  test.each(['/items/<id', '/items/<id:\\d+', '/items/<id>/<'])('unclosed < in %s', (path) => {
    @Controller('/api')
    class ApiController {
      @Get(path) show() {
        return {};
      }
    }
    expectStartupError([ApiController], 'ROCOCO_ROUTE_PATTERN', 'ApiController.show');
  });

  test('a route path that does not start with "/"', () => {
    @Controller()
    class ApiController {
      @Get('items') show() {
        return {};
      }
    }
    expectStartupError([ApiController], 'ROCOCO_ROUTE_PATTERN', 'ApiController.show', 'items');
  });

  test('a controller prefix that does not start with "/" fails where it is written', () => {
    const declare = () => {
      @Controller('api')
      class ApiController {
        @Get('/x') show() {
          return {};
        }
      }
      return ApiController;
    };
    expect(declare).toThrow(TypeError);
    expect(declare).toThrow("'api'");
  });

  test('a class without @Controller in controllers', () => {
    class PlainClass {
      @Get('/x') show() {
        return {};
      }
    }
    expectStartupError([PlainClass], 'ROCOCO_CONTROLLER', 'PlainClass', '@Controller');
  });

  test('a controller the container cannot build', () => {
    @Controller('/api')
    class ApiController {
      constructor(@inject('NoSuchService') readonly dep: unknown) {}
      @Get('/x') show() {
        return {};
      }
    }
    expectStartupError([ApiController], 'ROCOCO_DI', 'ApiController');
  });

  test('an unknown HTTP method in @Route', () => {
    @Controller('/api')
    class ApiController {
      @Route(['GET', 'FETCH'], '/x') show() {
        return {};
      }
    }
    expectStartupError([ApiController], 'ROCOCO_ROUTE_METHOD', 'ApiController.show', 'FETCH');
  });

  test('an unknown option key in @Get options throws at decoration time', () => {
    const declare = () => {
      @Controller('/api')
      class ApiController {
        @Get('/x', { nmae: 'x' } as unknown as { name: string }) show() {
          return {};
        }
      }
      return ApiController;
    };
    expect(declare).toThrow(TypeError);
    expect(declare).toThrow("unknown option 'nmae'");
  });

  test('an unknown option key in @Controller options throws at decoration time', () => {
    const declare = () => {
      @Controller('/api', { nmae: 'api' } as unknown as { name: string })
      class ApiController {
        @Get('/x') show() {
          return {};
        }
      }
      return ApiController;
    };
    expect(declare).toThrow(TypeError);
    expect(declare).toThrow("unknown option 'nmae'");
  });
});
