import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import {
  createApp,
  Controller,
  Get,
  Template,
  Request,
  render,
  json,
  redirect,
  immutableSettings,
  HTTPNotFound,
  HTTPForbidden,
  RococoError,
  type ContextProcessor,
  type TemplatesOptions,
  templates,
  staticFiles,
} from '../src';
import { testClient, type TestClient } from '../src/testing';

const TEMPLATES = join(__dirname, 'fixtures', 'templates');
const STATIC = join(__dirname, 'fixtures', 'static');
const HTML_TYPE = 'text/html; charset=utf-8';
const PROBLEM_TYPE = 'application/problem+json';
const HASHED = /^\/static\/css\/site\.css\?v=([0-9a-f]{12})$/;

/** What createApp threw, to check its class, code and message. */
function startupError(build: () => unknown): RococoError {
  try {
    build();
  } catch (e) {
    expect(e).toBeInstanceOf(RococoError);
    return e as RococoError;
  }
  throw new Error('createApp did not throw');
}

/** A context for scopes.html: escaping in loops, nested loops, an empty one, pairs, tuples. */
const SCOPES = {
  rows: [
    { name: 'a<b', n: 1, tags: ['x', 'y'] },
    { name: 'c&d', n: 2, tags: [] },
    { name: '"e"', n: 3, tags: ['z'] },
  ],
  pairs: { k1: 'v1', k2: '<v2>' },
  tuples: [
    [1, 2],
    [3, 4],
  ],
};

/** What include-loop-error.html called: it must stop at the first error, as nunjucks does. */
const errorCalls: string[] = [];

const tick = () => new Promise((r) => setTimeout(r, 1));

const processors: ContextProcessor[] = [
  (req) => ({ user: 'ann', shared: 'processor', order: 'first', seenPath: req.path }),
  async () => {
    await tick();
    return { menu: ['home', 'projects'], order: 'second' };
  },
];

@Controller()
class PagesController {
  @Get('/page')
  @Template('page.html')
  page() {
    return { title: 'Hello' };
  }

  @Get('/created')
  @Template('page.html', { status: 201 })
  created() {
    return { title: 'New' };
  }

  @Get('/redirect')
  @Template('page.html')
  goElsewhere() {
    return redirect('/page');
  }

  @Get('/json-response')
  @Template('page.html')
  jsonResponse() {
    return json({ ok: true }, { status: 202 });
  }

  @Get('/throws')
  @Template('page.html')
  async throws(): Promise<object> {
    throw new HTTPNotFound('no such page');
  }

  @Get('/returns-error')
  @Template('page.html')
  returnsError() {
    return new HTTPForbidden('not yours');
  }

  @Get('/empty')
  @Template('empty.html')
  empty() {
    return undefined;
  }

  @Get('/escape')
  @Template('escape.html')
  escape() {
    return { value: '<script>alert("x")</script>' };
  }

  @Get('/globals')
  @Template('globals.html')
  globals() {
    return {};
  }

  @Get('/items/<id:\\d+>', { name: 'item' })
  item(req: Request) {
    return { id: Number(req.params.id) };
  }

  @Get('/processors')
  @Template('processors.html')
  processors() {
    return { shared: 'handler' };
  }

  @Get('/processors-empty')
  @Template('processors.html')
  processorsEmpty() {
    return undefined;
  }

  @Get('/inherit')
  @Template('child.html')
  inherit() {
    return { title: 'Child <title>', items: ['a', 'b'] };
  }

  @Get('/render')
  async rendered(req: Request) {
    return render(req, 'rendered.html', { title: 'R' }, { status: 202 });
  }

  @Get('/render-default')
  async renderedDefault(req: Request) {
    return render(req, 'rendered.html', { title: 'D' });
  }

  @Get('/render-processors')
  async renderedProcessors(req: Request) {
    return render(req, 'processors.html', { shared: 'render' });
  }

  @Get('/runtime-error')
  @Template('runtime-error.html')
  runtimeError() {
    return {};
  }

  @Get('/broken-include')
  @Template('broken-include.html')
  brokenInclude() {
    return {};
  }

  @Get('/include-loop-error')
  @Template('include-loop-error.html')
  includeLoopError() {
    errorCalls.length = 0;
    return {
      fail: (i: number) => {
        errorCalls.push(`fail ${i}`);
        throw new Error(`boom ${i}`);
      },
      calls: () => errorCalls.push('after the loop'),
    };
  }

  @Get('/scopes')
  @Template('scopes.html')
  scopes() {
    return SCOPES;
  }

  @Get('/extras')
  @Template('extras.html')
  extras() {
    return { word: 'hi' };
  }
}

describe('templates', () => {
  let client: TestClient;
  let app: ReturnType<typeof createApp>;

  beforeAll(async () => {
    app = createApp({
      controllers: [PagesController],
      settings: immutableSettings({ SITE_NAME: 'Rococo & Co' }),
      plugins: [
        templates({
          dir: TEMPLATES,
          contextProcessors: processors,
          filters: { shout: (s: string) => `${s.toUpperCase()}!` },
          globals: { answer: 42 },
        }),
        staticFiles([{ prefix: '/static', dir: STATIC }]),
      ],
    });
    client = await testClient(app);
  });
  afterAll(() => client.close());

  test('@Template renders the returned context as HTML 200', async () => {
    const res = await client.get('/page');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(HTML_TYPE);
    expect(await res.text()).toBe('<p>Hello</p>');
  });

  test('@Template status option', async () => {
    const res = await client.get('/created');
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toBe(HTML_TYPE);
    expect(await res.text()).toBe('<p>New</p>');
  });

  test('a returned Response bypasses the template', async () => {
    const r1 = await client.get('/redirect');
    expect(r1.status).toBe(302);
    expect(r1.headers.get('location')).toBe('/page');
    expect(await r1.text()).toBe('');

    const r2 = await client.get('/json-response');
    expect(r2.status).toBe(202);
    expect(r2.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await r2.json()).toEqual({ ok: true });
  });

  test('a thrown HTTP error bypasses the template', async () => {
    const res = await client.get('/throws');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe(PROBLEM_TYPE);
    expect(await res.json()).toEqual({
      type: 'about:blank',
      title: 'Not Found',
      status: 404,
      detail: 'no such page',
    });
  });

  test('a returned HTTP error bypasses the template', async () => {
    const res = await client.get('/returns-error');
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toBe(PROBLEM_TYPE);
    expect(await res.json()).toEqual({
      type: 'about:blank',
      title: 'Forbidden',
      status: 403,
      detail: 'not yours',
    });
  });

  test('returning undefined renders with an empty context', async () => {
    const res = await client.get('/empty');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(HTML_TYPE);
    expect(await res.text()).toBe('[]');
  });

  test('autoescape is on; |safe is not escaped', async () => {
    const res = await client.get('/escape');
    expect(await res.text()).toBe(
      'escaped=&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;|safe=<script>alert("x")</script>',
    );
  });

  test('globals: url (positional and keyword), static, request, settings', async () => {
    const res = await client.get('/globals?q=' + encodeURIComponent('<b>hi</b>'));
    expect(res.status).toBe(200);
    const body = await res.text();
    const parts = Object.fromEntries(
      body.split('|').map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]),
    );
    expect(Object.keys(parts)).toEqual(['url', 'kw', 'static', 'path', 'q', 'site']);
    expect(parts.url).toBe('/items/1?q=x');
    expect(parts.kw).toBe('/items/2');
    expect(parts.static).toMatch(HASHED);
    expect(parts.static).toBe(app.staticUrl!('css/site.css'));
    expect(parts.path).toBe('/globals');
    expect(parts.q).toBe('&lt;b&gt;hi&lt;/b&gt;');
    expect(parts.site).toBe('Rococo &amp; Co');

    // The URL from static() serves the file, cached for a year.
    const file = await client.get(parts.static);
    expect(file.status).toBe(200);
    expect(file.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await file.text()).toBe('body { color: #123456; }\n');
  });

  test('context processors (sync and async) are merged; the handler wins on conflicts', async () => {
    const r1 = await client.get('/processors');
    expect(await r1.text()).toBe(
      'user=ann|menu=home,projects|shared=handler|order=second|seen=/processors',
    );
    const r2 = await client.get('/processors-empty');
    expect(await r2.text()).toBe(
      'user=ann|menu=home,projects|shared=processor|order=second|seen=/processors-empty',
    );
  });

  test('template inheritance and includes', async () => {
    const res = await client.get('/inherit');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(
      '<!doctype html>\n' +
        '<title>Child &lt;title&gt;</title>\n' +
        '<main><h1>Child &lt;title&gt;</h1><li>a</li><li>b</li></main>\n' +
        '<footer>footer of Rococo &amp; Co\n</footer>\n',
    );
  });

  test('renders what nunjucks renders: loop variables, set, macros and caller, blocks and super, includes', async () => {
    // rococo renders with its own cheaper frame (template-frame.ts): same output, byte for byte.
    const nunjucks = require('nunjucks') as typeof import('nunjucks');
    const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(TEMPLATES), {
      autoescape: true,
    });
    const expected = env.render('scopes.html', {
      ...SCOPES,
      settings: { SITE_NAME: 'Rococo & Co' },
    });
    expect(expected).toContain('3/2/1/0/false/true/3 [1 of 1 in &quot;e&quot;: z]');
    expect(expected).toContain('total=6 shadow=&quot;e&quot; loop= row=');
    const res = await client.get('/scopes');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(expected);
  });

  test('render() without the decorator, with a status', async () => {
    const r1 = await client.get('/render');
    expect(r1.status).toBe(202);
    expect(r1.headers.get('content-type')).toBe(HTML_TYPE);
    expect(await r1.text()).toBe('rendered=R|status-page');

    const r2 = await client.get('/render-default');
    expect(r2.status).toBe(200);
    expect(r2.headers.get('content-type')).toBe(HTML_TYPE);
    expect(await r2.text()).toBe('rendered=D|status-page');
  });

  test('render() also gets the context processors', async () => {
    const res = await client.get('/render-processors');
    expect(await res.text()).toBe(
      'user=ann|menu=home,projects|shared=render|order=second|seen=/render-processors',
    );
  });

  test('filters and globals options', async () => {
    const res = await client.get('/extras');
    expect(await res.text()).toBe('shout=HI!|answer=42');
  });

  test('an included template that does not compile is a 500, not an empty page, and the server keeps serving', async () => {
    // nunjucks compiles an include when it renders it, and reports this one from a timer.
    const res = await client.get('/broken-include');
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({
      type: 'about:blank',
      title: 'Internal Server Error',
      status: 500,
    });
    await new Promise((r) => setTimeout(r, 50)); // the late report must not end the process
    expect((await client.get('/page')).status).toBe(200);
  });

  test('the first error inside a loop stops the render, as in nunjucks', async () => {
    const res = await client.get('/include-loop-error');
    expect(res.status).toBe(500);
    expect(errorCalls).toEqual(['fail 1']);
  });

  test('a runtime template error is a 500 that leaks nothing, and the server keeps serving', async () => {
    const res = await client.get('/runtime-error');
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toBe(PROBLEM_TYPE);
    expect(await res.json()).toEqual({
      type: 'about:blank',
      title: 'Internal Server Error',
      status: 500,
    });
    const next = await client.get('/page');
    expect(next.status).toBe(200);
    expect(await next.text()).toBe('<p>Hello</p>');
  });
});

describe('template errors at startup', () => {
  test('a @Template whose file does not exist', () => {
    @Controller()
    class MissingController {
      @Get('/x')
      @Template('does-not-exist.html')
      show() {
        return {};
      }
    }
    const err = startupError(() =>
      createApp({ controllers: [MissingController], plugins: [templates({ dir: TEMPLATES })] }),
    );
    expect(err.code).toBe('ROCOCO_TEMPLATE');
    expect(err.message).toContain('MissingController.show');
    expect(err.message).toContain('does-not-exist.html');
  });

  test('a template with a syntax error', () => {
    @Controller()
    class BrokenController {
      @Get('/x')
      @Template('broken.html')
      show() {
        return {};
      }
    }
    const err = startupError(() =>
      createApp({ controllers: [BrokenController], plugins: [templates({ dir: TEMPLATES })] }),
    );
    expect(err.code).toBe('ROCOCO_TEMPLATE');
    expect(err.message).toContain('BrokenController.show');
    expect(err.message).toContain('broken.html');
    // nunjucks' own diagnosis is kept, not reported as a missing file.
    expect(err.message).toContain('expected elif, else, or endif, got end of file');
  });

  test('@Template without templates configured', () => {
    @Controller()
    class NoTemplatesController {
      @Get('/x')
      @Template('page.html')
      page() {
        return {};
      }
    }
    const err = startupError(() => createApp({ controllers: [NoTemplatesController] }));
    expect([err.code, err.message]).toEqual([
      'ROCOCO_PLUGIN',
      "ROCOCO_PLUGIN: NoTemplatesController.page: @Template needs the 'templates' plugin: add it to createApp({ plugins })",
    ]);
  });

  test("a template's url() with a route name that does not exist names the file and line", () => {
    const dir = mkdtempSync(join(tmpdir(), 'rococo-url-check-'));
    try {
      mkdirSync(join(dir, 'parts'));
      writeFileSync(
        join(dir, 'parts', 'nav.html'),
        `<a href="{{ url('pages.home') }}">home</a>\n{# fine: built at render time #}{{ url(name) }}\n<a href="{{ url( "pages.hom" ) }}">typo</a>\n`,
      );
      writeFileSync(join(dir, 'page.html'), `{{ url('nowhere', id=1) }}`);
      @Controller('', { name: 'pages' })
      class Pages {
        @Get('/', { name: 'home' })
        home() {
          return {};
        }
      }
      const err = startupError(() =>
        createApp({ controllers: [Pages], plugins: [templates({ dir })] }),
      );
      expect(err.code).toBe('ROCOCO_TEMPLATE_URL');
      const lines = err.message
        .split('\n')
        .slice(1)
        .map((l) => l.trim())
        .sort();
      expect(lines).toEqual([
        `${relative(process.cwd(), join(dir, 'page.html'))}:1: url('nowhere'): no route is named 'nowhere'`,
        `${relative(process.cwd(), join(dir, 'parts', 'nav.html'))}:3: url('pages.hom'): no route is named 'pages.hom'`,
      ]);
      // With the route there, the same templates start.
      writeFileSync(join(dir, 'page.html'), `{{ url('pages.home') }}`);
      writeFileSync(join(dir, 'parts', 'nav.html'), `{{ url("pages.home") }}`);
      expect(() =>
        createApp({ controllers: [Pages], plugins: [templates({ dir })] }),
      ).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an unknown key in the templates options', () => {
    const options = { dir: TEMPLATES, autoescape: false } as unknown as TemplatesOptions;
    const err = startupError(() => createApp({ plugins: [templates(options)] }));
    expect(err.code).toBe('ROCOCO_OPTIONS');
    expect(err.message).toContain('autoescape');
  });

  test('render() without templates configured is a 500', async () => {
    @Controller()
    class RenderController {
      @Get('/render')
      async page(req: Request) {
        return render(req, 'page.html', { title: 'x' });
      }

      @Get('/ok')
      ok() {
        return { ok: true };
      }
    }
    const client = await testClient(createApp({ controllers: [RenderController] }));
    try {
      const res = await client.get('/render');
      expect(res.status).toBe(500);
      expect(res.headers.get('content-type')).toBe(PROBLEM_TYPE);
      expect(await res.json()).toEqual({
        type: 'about:blank',
        title: 'Internal Server Error',
        status: 500,
      });
      const ok = await client.get('/ok');
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ ok: true });
    } finally {
      await client.close();
    }
  });
});

describe('DEBUG reloading and caching', () => {
  @Controller()
  class LiveController {
    @Get('/live')
    @Template('live.html')
    live() {
      return { n: 1 };
    }

    @Get('/live-render')
    async liveRender(req: Request) {
      return render(req, 'live-render.html', { n: 2 });
    }

    @Get('/hash')
    @Template('hash.html')
    hash() {
      return {};
    }
  }

  let root: string;
  const T0 = 1_700_000_000;

  /** A templates and a static folder of their own, and a client of an app over them. */
  async function setUp(name: string, debug: boolean): Promise<{ dir: string; client: TestClient }> {
    const dir = join(root, name);
    mkdirSync(join(dir, 'templates'), { recursive: true });
    mkdirSync(join(dir, 'static', 'css'), { recursive: true });
    writeFileSync(join(dir, 'templates', 'live.html'), 'v1 {{ n }}');
    writeFileSync(join(dir, 'templates', 'live-render.html'), 'render v1 {{ n }}');
    writeFileSync(join(dir, 'templates', 'hash.html'), '{{ static("css/site.css") }}');
    const css = join(dir, 'static', 'css', 'site.css');
    writeFileSync(css, 'body { color: red; }\n');
    utimesSync(css, T0, T0);
    const app = createApp({
      controllers: [LiveController],
      settings: immutableSettings(debug ? { DEBUG: true } : {}),
      plugins: [
        templates({ dir: join(dir, 'templates') }),
        staticFiles([{ prefix: '/static', dir: join(dir, 'static') }]),
      ],
    });
    return { dir, client: await testClient(app) };
  }

  /** Edits the files behind the app: new templates, a stylesheet with new content and mtime. */
  function edit(dir: string): void {
    writeFileSync(join(dir, 'templates', 'live.html'), 'v2 {{ n }}');
    writeFileSync(join(dir, 'templates', 'live-render.html'), 'render v2 {{ n }}');
    const css = join(dir, 'static', 'css', 'site.css');
    writeFileSync(css, 'body { color: blue; }\n');
    utimesSync(css, T0 + 100, T0 + 100);
  }

  async function body(client: TestClient, path: string): Promise<string> {
    const res = await client.get(path);
    expect(res.status).toBe(200);
    return res.text();
  }

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'rococo-templates-'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  test('with DEBUG, edited templates and files show at once', async () => {
    const { dir, client } = await setUp('debug', true);
    try {
      expect(await body(client, '/live')).toBe('v1 1');
      expect(await body(client, '/live-render')).toBe('render v1 2');
      const before = await body(client, '/hash');
      expect(before).toMatch(HASHED);

      edit(dir);

      expect(await body(client, '/live')).toBe('v2 1');
      expect(await body(client, '/live-render')).toBe('render v2 2');
      const after = await body(client, '/hash');
      expect(after).toMatch(HASHED);
      expect(after).not.toBe(before);
    } finally {
      await client.close();
    }
  });

  test('without DEBUG, templates are compiled once and hashes kept', async () => {
    const { dir, client } = await setUp('cached', false);
    try {
      expect(await body(client, '/live')).toBe('v1 1');
      expect(await body(client, '/live-render')).toBe('render v1 2');
      const before = await body(client, '/hash');
      expect(before).toMatch(HASHED);

      edit(dir);

      expect(await body(client, '/live')).toBe('v1 1');
      expect(await body(client, '/live-render')).toBe('render v1 2');
      expect(await body(client, '/hash')).toBe(before);
    } finally {
      await client.close();
    }
  });

  test('the same content gives the same hash in two apps', async () => {
    const a = await setUp('same-a', false);
    const b = await setUp('same-b', false);
    try {
      const ha = await body(a.client, '/hash');
      const hb = await body(b.client, '/hash');
      expect(ha).toMatch(HASHED);
      expect(ha).toBe(hb);
    } finally {
      await a.client.close();
      await b.client.close();
    }
  });
});
