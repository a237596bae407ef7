import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Controller,
  createApp,
  cspNonce,
  Get,
  html,
  HTTPForbidden,
  immutableSettings,
  openapi,
  Request,
  RococoError,
  Response,
  SecurityHeaders,
  securityHeaders,
  staticFiles,
  Template,
  templates,
  text,
  type Plugin,
  type SecurityHeadersOptions,
} from '../src';
import { testClient, type TestClient } from '../src/testing';

/**
 * securityHeaders() through HTTP: helmet 8's headers and their defaults on every response
 * (handlers, errors, 404s, static files, the docs page), HSTS only over HTTPS as req.protocol
 * sees it, options and @SecurityHeaders per controller and route, the CSP nonce of a page that
 * asks for one (and of no other), and the options refused at startup.
 */

/** helmet 8's policy, sent over HTTPS. */
const HTTPS_CSP =
  "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';" +
  "frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';" +
  "script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests";
/** Over plain HTTP, without upgrade-insecure-requests (it would ask for the page's own files over HTTPS). */
const DEFAULT_CSP = HTTPS_CSP.replace(';upgrade-insecure-requests', '');

/**
 * helmet 8's defaults over plain HTTP: no HSTS, and no Cross-Origin-Opener-Policy (browsers
 * honour it in secure contexts only, and Chromium logs an error for each page that sends it).
 */
const DEFAULTS: Record<string, string> = {
  'content-security-policy': DEFAULT_CSP,
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'SAMEORIGIN',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
};
const HSTS = 'max-age=31536000; includeSubDomains';

const dir = mkdtempSync(join(tmpdir(), 'rococo-security-'));
writeFileSync(
  join(dir, 'page.html'),
  '<p>{{ title }}</p><script nonce="{{ csp_nonce() }}">go()</script><style nonce="{{ csp_nonce() }}">p{}</style>',
);
writeFileSync(join(dir, 'plain.html'), '<p>{{ title }}</p>');
writeFileSync(join(dir, 'site.css'), 'p { color: red }');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

@Controller('')
class SiteController {
  @Get('/')
  index() {
    return { hello: 'world' };
  }

  @Get('/text')
  text() {
    return 'hi';
  }

  @Get('/boom')
  boom(): never {
    throw new Error('boom');
  }

  @Get('/forbidden')
  forbidden(): never {
    throw new HTTPForbidden();
  }

  @Get('/page')
  @Template('page.html')
  page() {
    return { title: 'Page' };
  }

  @Get('/plain')
  @Template('plain.html')
  plain() {
    return { title: 'Plain' };
  }

  @Get('/coded')
  coded(req: Request) {
    return html(`<script nonce="${cspNonce(req)}">go()</script>`);
  }

  @Get('/own')
  own() {
    return new Response('x', {
      headers: {
        'x-frame-options': 'DENY',
        'x-powered-by': 'PHP/5.2',
        'content-security-policy': "default-src 'none'",
      },
    });
  }

  @Get('/embed')
  @SecurityHeaders({
    xFrameOptions: false,
    contentSecurityPolicy: { directives: { frameAncestors: ['https://partner.example'] } },
  })
  embed() {
    return 'embed';
  }

  @Get('/raw')
  @SecurityHeaders(false)
  raw() {
    return 'raw';
  }
}

@Controller('/widgets')
@SecurityHeaders({ crossOriginResourcePolicy: 'cross-origin', referrerPolicy: 'same-origin' })
class WidgetsController {
  @Get('/one')
  one() {
    return 'one';
  }

  @Get('/two')
  @SecurityHeaders({ referrerPolicy: ['no-referrer', 'strict-origin-when-cross-origin'] })
  two() {
    return 'two';
  }
}

/** Inherits its base's @SecurityHeaders and layers its own over them. */
@Controller('/gadgets')
@SecurityHeaders({ xFrameOptions: 'DENY' })
class GadgetsController extends WidgetsController {}

/** Only a class-level @SecurityHeaders, for the missing-plugin check. */
@Controller('/plain-widgets')
@SecurityHeaders(false)
class PlainWidgetsController {
  @Get('/')
  index() {
    return 'plain';
  }
}

function app(options?: SecurityHeadersOptions, settings: object = {}, more: Plugin[] = []) {
  return createApp({
    controllers: [SiteController, WidgetsController],
    settings: immutableSettings(settings),
    plugins: [
      securityHeaders(options),
      templates({ dir }),
      staticFiles([{ prefix: '/static', dir }]),
      ...more,
    ],
  });
}

function securityOf(res: globalThis.Response): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const name of [
    ...Object.keys(DEFAULTS),
    'cross-origin-opener-policy',
    'strict-transport-security',
    'x-powered-by',
  ])
    out[name] = res.headers.get(name);
  return out;
}

const EXPECTED = {
  ...DEFAULTS,
  'cross-origin-opener-policy': null,
  'strict-transport-security': null,
  'x-powered-by': null,
};

describe('the defaults', () => {
  let client: TestClient;
  beforeAll(async () => {
    client = await testClient(app());
  });
  afterAll(() => client.close());

  test.each([
    ['a JSON route', '/', 200],
    ['a text route', '/text', 200],
    ['a template', '/plain', 200],
    ['an HTTP error', '/forbidden', 403],
    ['an unhandled error', '/boom', 500],
    ['a 404', '/nowhere', 404],
    ['a 405', '/text', 405],
    ['a static file', '/static/site.css', 200],
  ])('%s carries helmet 8 headers', async (_, path, status) => {
    const res = await client.request(status === 405 ? 'POST' : 'GET', path);
    expect(res.status).toBe(status);
    expect(securityOf(res)).toEqual(EXPECTED);
  });

  test('HEAD and a 304 of a static file carry them too', async () => {
    const first = await client.get('/static/site.css');
    const etag = first.headers.get('etag') as string;
    const res = await client.get('/static/site.css', { headers: { 'if-none-match': etag } });
    expect(res.status).toBe(304);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const head = await client.head('/text');
    expect(securityOf(head)).toEqual(EXPECTED);
  });

  test('a header the handler set is kept, and X-Powered-By is removed', async () => {
    const res = await client.get('/own');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('content-security-policy')).toBe("default-src 'none'");
    expect(res.headers.get('x-powered-by')).toBeNull();
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
  });

  test('HSTS is not sent over plain HTTP, nor believed from an untrusted proxy', async () => {
    const res = await client.get('/', { headers: { 'x-forwarded-proto': 'https' } });
    expect(res.headers.get('strict-transport-security')).toBeNull();
  });
});

describe('HTTPS', () => {
  let client: TestClient;
  beforeAll(async () => {
    client = await testClient(app({}, { TRUST_PROXY: true }));
  });
  afterAll(() => client.close());

  test('HSTS, COOP and upgrade-insecure-requests are sent when a trusted proxy says https', async () => {
    const res = await client.get('/', { headers: { 'x-forwarded-proto': 'https' } });
    expect(securityOf(res)).toEqual({
      ...EXPECTED,
      'content-security-policy': HTTPS_CSP,
      'cross-origin-opener-policy': 'same-origin',
      'strict-transport-security': HSTS,
    });
    const err = await client.get('/nowhere', { headers: { 'x-forwarded-proto': 'https' } });
    expect(err.headers.get('strict-transport-security')).toBe(HSTS);
  });

  test('and not when it says http', async () => {
    const res = await client.get('/', { headers: { 'x-forwarded-proto': 'http' } });
    expect(securityOf(res)).toEqual(EXPECTED);
    expect((await client.get('/')).headers.get('strict-transport-security')).toBeNull();
  });
});

describe('options', () => {
  test('each header configured or turned off', async () => {
    const client = await testClient(
      app(
        {
          contentSecurityPolicy: {
            directives: {
              imgSrc: ["'self'", 'https://img.example'],
              'upgrade-insecure-requests': null,
              connectSrc: "'self' wss://live.example",
            },
          },
          crossOriginEmbedderPolicy: 'require-corp',
          crossOriginOpenerPolicy: 'same-origin-allow-popups',
          crossOriginResourcePolicy: 'same-site',
          originAgentCluster: false,
          referrerPolicy: 'strict-origin-when-cross-origin',
          strictTransportSecurity: { maxAge: 63072000, preload: true },
          xContentTypeOptions: false,
          xDnsPrefetchControl: 'on',
          xDownloadOptions: false,
          xFrameOptions: 'deny' as 'DENY', // any case, as helmet takes it
          xPermittedCrossDomainPolicies: 'by-content-type',
          xXssProtection: false,
        },
        { TRUST_PROXY: true },
      ),
    );
    try {
      const res = await client.get('/', { headers: { 'x-forwarded-proto': 'https' } });
      expect(securityOf(res)).toEqual({
        'content-security-policy':
          DEFAULT_CSP.replace("img-src 'self' data:", "img-src 'self' https://img.example") +
          ";connect-src 'self' wss://live.example",
        'cross-origin-opener-policy': 'same-origin-allow-popups',
        'cross-origin-resource-policy': 'same-site',
        'origin-agent-cluster': null,
        'referrer-policy': 'strict-origin-when-cross-origin',
        'strict-transport-security': 'max-age=63072000; includeSubDomains; preload',
        'x-content-type-options': null,
        'x-dns-prefetch-control': 'on',
        'x-download-options': null,
        'x-frame-options': 'DENY',
        'x-permitted-cross-domain-policies': 'by-content-type',
        'x-xss-protection': null,
        'x-powered-by': null,
      });
      expect(res.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    } finally {
      await client.close();
    }
  });

  test('a policy without the defaults, report-only; everything off', async () => {
    const client = await testClient(
      app({
        contentSecurityPolicy: {
          useDefaults: false,
          reportOnly: true,
          directives: { defaultSrc: ["'none'"], reportUri: ['/csp-reports'] },
        },
        hidePoweredBy: false,
      }),
    );
    try {
      const res = await client.get('/');
      expect(res.headers.get('content-security-policy')).toBeNull();
      expect(res.headers.get('content-security-policy-report-only')).toBe(
        "default-src 'none';report-uri /csp-reports",
      );
      expect((await client.get('/own')).headers.get('x-powered-by')).toBe('PHP/5.2');
    } finally {
      await client.close();
    }
    const none = await testClient(
      app(
        Object.fromEntries(
          [
            ...Object.keys(EXPECTED_OPTIONS),
            'crossOriginOpenerPolicy',
            'strictTransportSecurity',
            'hidePoweredBy',
          ].map((k) => [k, false]),
        ),
        { TRUST_PROXY: true },
      ),
    );
    try {
      const res = await none.get('/own', { headers: { 'x-forwarded-proto': 'https' } });
      expect(securityOf(res)).toEqual({
        ...Object.fromEntries(Object.keys(EXPECTED).map((k) => [k, null])),
        'x-frame-options': 'DENY',
        'content-security-policy': "default-src 'none'",
        'x-powered-by': 'PHP/5.2',
      });
    } finally {
      await none.close();
    }
  });
});

test("the DEBUG page keeps its own policy, the app's other headers are added", async () => {
  const client = await testClient(
    app({ contentSecurityPolicy: { directives: { styleSrc: ["'self'"] } } }, { DEBUG: true }),
  );
  try {
    const res = await client.get('/boom', { headers: { accept: 'text/html' } });
    expect(res.status).toBe(500);
    expect(await res.text()).toContain('<style>');
    expect(securityOf(res)).toEqual({
      ...EXPECTED,
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
    });
  } finally {
    await client.close();
  }
});

/** The option of each default header. */
const EXPECTED_OPTIONS = {
  contentSecurityPolicy: 'content-security-policy',
  crossOriginResourcePolicy: 'cross-origin-resource-policy',
  originAgentCluster: 'origin-agent-cluster',
  referrerPolicy: 'referrer-policy',
  xContentTypeOptions: 'x-content-type-options',
  xDnsPrefetchControl: 'x-dns-prefetch-control',
  xDownloadOptions: 'x-download-options',
  xFrameOptions: 'x-frame-options',
  xPermittedCrossDomainPolicies: 'x-permitted-cross-domain-policies',
  xXssProtection: 'x-xss-protection',
};

describe('@SecurityHeaders', () => {
  let client: TestClient;
  beforeAll(async () => {
    client = await testClient(app({ xDnsPrefetchControl: 'on' }));
  });
  afterAll(() => client.close());

  test('a route changes a header and merges CSP directives over the app', async () => {
    const res = await client.get('/embed');
    expect(res.headers.get('x-frame-options')).toBeNull();
    expect(res.headers.get('content-security-policy')).toBe(
      DEFAULT_CSP.replace("frame-ancestors 'self'", 'frame-ancestors https://partner.example'),
    );
    expect(res.headers.get('x-dns-prefetch-control')).toBe('on'); // the app's option stays
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
  });

  test('@SecurityHeaders(false) sends none', async () => {
    const res = await client.get('/raw');
    expect(securityOf(res)).toEqual(
      Object.fromEntries(Object.keys(EXPECTED).map((k) => [k, null])),
    );
  });

  test('a controller for its routes, a method over its controller', async () => {
    const one = await client.get('/widgets/one');
    expect(one.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    expect(one.headers.get('referrer-policy')).toBe('same-origin');
    expect(one.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    const two = await client.get('/widgets/two');
    expect(two.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    expect(two.headers.get('referrer-policy')).toBe('no-referrer,strict-origin-when-cross-origin');
  });

  test("a subclass's @SecurityHeaders goes over its base's, the method's over both", async () => {
    // Alone: a method routed in two controllers has one set of headers (they are kept by method).
    const client = await testClient(
      createApp({ controllers: [GadgetsController], plugins: [securityHeaders()] }),
    );
    try {
      const one = await client.get('/gadgets/one');
      expect(one.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
      expect(one.headers.get('referrer-policy')).toBe('same-origin');
      expect(one.headers.get('x-frame-options')).toBe('DENY');
      const two = await client.get('/gadgets/two');
      expect(two.headers.get('x-frame-options')).toBe('DENY');
      expect(two.headers.get('referrer-policy')).toBe(
        'no-referrer,strict-origin-when-cross-origin',
      );
    } finally {
      await client.close();
    }
  });

  test('other routes keep the app headers', async () => {
    expect(securityOf(await client.get('/text'))).toEqual({
      ...EXPECTED,
      'x-dns-prefetch-control': 'on',
    });
  });

  test('without the plugin, startup names it', () => {
    expect(() =>
      createApp({ controllers: [SiteController], plugins: [templates({ dir })] }),
    ).toThrow(/@SecurityHeaders needs the 'securityHeaders' plugin/);
  });

  test('a class-level @SecurityHeaders without the plugin stops startup too', () => {
    expect(() => createApp({ controllers: [PlainWidgetsController] })).toThrow(
      /ROCOCO_PLUGIN: PlainWidgetsController\.index: @SecurityHeaders needs the 'securityHeaders' plugin/,
    );
    // Inherited: the subclass's routes carry its base's decorator.
    @Controller('/sub-widgets')
    class SubWidgets extends PlainWidgetsController {}
    expect(() => createApp({ controllers: [SubWidgets] })).toThrow(
      /ROCOCO_PLUGIN: SubWidgets\.index: @SecurityHeaders needs the 'securityHeaders' plugin/,
    );
  });
});

describe('the CSP nonce', () => {
  const STRICT: SecurityHeadersOptions = {
    contentSecurityPolicy: { directives: { styleSrc: ["'self'"] } },
  };
  let client: TestClient;
  beforeAll(async () => {
    client = await testClient(app(STRICT));
  });
  afterAll(() => client.close());

  const nonceIn = (csp: string) => {
    const m = /script-src 'self' 'nonce-([A-Za-z0-9+/=]+)';/.exec(csp);
    return m?.[1];
  };

  test("a page's <script nonce> is the one of its header, in script-src and style-src", async () => {
    const res = await client.get('/page');
    const body = await res.text();
    const csp = res.headers.get('content-security-policy') as string;
    const nonce = nonceIn(csp) as string;
    expect(nonce).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(body).toBe(
      `<p>Page</p><script nonce="${nonce}">go()</script><style nonce="${nonce}">p{}</style>`,
    );
    expect(csp).toContain(`style-src 'self' 'nonce-${nonce}'`);
    expect(csp.split(nonce)).toHaveLength(3); // script-src and style-src, nothing else
  });

  test('another request, another nonce', async () => {
    const nonces = new Set<string>();
    for (let i = 0; i < 5; i++)
      nonces.add(nonceIn((await client.get('/page')).headers.get('content-security-policy')!)!);
    expect(nonces.size).toBe(5);
  });

  test('a response that never asked has none', async () => {
    for (const path of ['/plain', '/', '/nowhere', '/static/site.css'])
      expect((await client.get(path)).headers.get('content-security-policy')).toBe(
        DEFAULT_CSP.replace("style-src 'self' https: 'unsafe-inline'", "style-src 'self'"),
      );
  });

  test('cspNonce(req) in code', async () => {
    const res = await client.get('/coded');
    const nonce = nonceIn(res.headers.get('content-security-policy')!);
    expect(await res.text()).toBe(`<script nonce="${nonce}">go()</script>`);
  });

  test("not in a directive that allows 'unsafe-inline' (it would turn it off)", async () => {
    const defaults = await testClient(app());
    try {
      const res = await defaults.get('/page');
      const csp = res.headers.get('content-security-policy') as string;
      expect(nonceIn(csp)).toBeDefined();
      expect(csp).toMatch(/style-src 'self' https: 'unsafe-inline'$/);
    } finally {
      await defaults.close();
    }
  });

  test('a policy without script-src and style-src gets it in default-src, once', async () => {
    const c = await testClient(
      app({
        contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'self'"] } },
      }),
    );
    try {
      const res = await c.get('/coded');
      const nonce = /nonce="([^"]+)"/.exec(await res.text())![1];
      expect(res.headers.get('content-security-policy')).toBe(
        `default-src 'self' 'nonce-${nonce}'`,
      );
    } finally {
      await c.close();
    }
  });

  test('without the plugin, cspNonce says so', async () => {
    const bare = await testClient(
      createApp({
        controllers: [SiteController],
        plugins: [templates({ dir }), securityHeadersOff()],
      }),
    );
    try {
      const res = await bare.get('/coded');
      expect(res.status).toBe(500);
    } finally {
      await bare.close();
    }
  });
});

/** A stand-in that claims @SecurityHeaders but installs nothing: cspNonce must refuse. */
function securityHeadersOff(): Plugin {
  return {
    name: 'securityHeaders',
    route(route) {
      for (const key of route.meta.extras.keys()) route.claim(key);
    },
  };
}

describe('the OpenAPI docs page', () => {
  test('has no inline script, and its headers', async () => {
    const client = await testClient(
      createApp({
        controllers: [],
        plugins: [securityHeaders(), openapi({ title: 'T', version: '1' })],
      }),
    );
    try {
      const res = await client.get('/docs');
      const body = await res.text();
      expect(body).not.toMatch(/<script>/);
      expect(body).toContain('<script src="/docs/init.js"></script>');
      expect(res.headers.get('content-security-policy')).toBe(DEFAULT_CSP);
      const init = await client.get('/docs/init.js');
      expect(init.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect(await init.text()).toContain('SwaggerUIBundle');
    } finally {
      await client.close();
    }
  });
});

describe('bad options stop startup', () => {
  function refused(options: unknown): RococoError {
    try {
      securityHeaders(options as SecurityHeadersOptions);
    } catch (e) {
      expect(e).toBeInstanceOf(RococoError);
      expect((e as RococoError).code).toBe('ROCOCO_OPTIONS');
      return e as RococoError;
    }
    throw new Error('securityHeaders did not throw');
  }

  test.each([
    [{ xFrameOption: 'DENY' }, /unknown option 'xFrameOption'/],
    [
      { contentSecurityPolicy: { directives: { scriptScr: ["'self'"] } } },
      /'scriptScr' is not a Content-Security-Policy directive/,
    ],
    [
      { contentSecurityPolicy: { directives: { scriptSrc: ['self'] } } },
      /"self" in 'script-src' must be quoted/,
    ],
    [
      { contentSecurityPolicy: { directives: { scriptSrc: ["'self'; img-src *"] } } },
      /is not a source/,
    ],
    [{ contentSecurityPolicy: { directives: { scriptSrc: ['a,b'] } } }, /is not a source/],
    [{ contentSecurityPolicy: { directives: { scriptSrc: 3 } } }, /takes a list of sources/],
    [
      { contentSecurityPolicy: { directives: { upgradeInsecureRequests: ['x'] } } },
      /takes no sources/,
    ],
    [{ contentSecurityPolicy: { directives: { scriptSrc: [], 'script-src': [] } } }, /given twice/],
    [{ contentSecurityPolicy: { useDefaults: false } }, /has no directive/],
    [{ contentSecurityPolicy: { direktives: {} } }, /unknown option 'direktives'/],
    [{ contentSecurityPolicy: 'default-src *' }, /contentSecurityPolicy is true, false or/],
    [{ xFrameOptions: 'ALLOW-FROM x' }, /xFrameOptions is true, false or one of/],
    [{ crossOriginOpenerPolicy: 'same' }, /crossOriginOpenerPolicy is/],
    [{ xXssProtection: '1; mode=block' }, /xXssProtection is true or false/],
    [{ referrerPolicy: ['origin', 'origin'] }, /referrerPolicy is/],
    [{ referrerPolicy: 'nope' }, /referrerPolicy is/],
    [{ strictTransportSecurity: { maxage: 5 } }, /unknown option 'maxage'/],
    [{ strictTransportSecurity: { maxAge: -1 } }, /maxAge is a whole number/],
    [{ strictTransportSecurity: { maxAge: 300, preload: true } }, /preload needs/],
    [{ hidePoweredBy: 'yes' }, /hidePoweredBy is a boolean/],
  ])('%j', (options, message) => {
    expect(refused(options).message).toMatch(message);
  });

  test('in @SecurityHeaders: an unknown key where it is written, a bad value at createApp', () => {
    expect(() => SecurityHeaders({ xFrame: 1 } as never)).toThrow(/unknown option 'xFrame'/);
    @Controller('')
    class Bad {
      @Get('/')
      @SecurityHeaders({ contentSecurityPolicy: { directives: { imgSrc: ['none'] } } })
      index() {
        return text('x');
      }
    }
    let err: unknown;
    try {
      createApp({ controllers: [Bad], plugins: [securityHeaders()] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RococoError);
    expect((err as Error).message).toMatch(
      /@SecurityHeaders on Bad.index: "none" in 'img-src' must be quoted/,
    );
  });
});
