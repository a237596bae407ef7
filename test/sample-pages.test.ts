import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import type { TestClient } from '../src/testing';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { BROWSER, logIn, sampleClient } from './helpers/sample';

/**
 * The sample's HTML pages end to end: real HTTP, a real PostgreSQL database of this suite's own,
 * migrated (and seeded: 3 users, 3 projects, the demo user owning aiopg) by the app at startup.
 * The client is logged in as the demo user, so it may add projects and change its own; logins,
 * owners and CSRF are test/sample-auth.test.ts's. Tests run in order and the first ones read the
 * seed before any form adds to it.
 */

const STATIC_DIR = join(__dirname, '..', 'sample', 'static');
const HTML_TYPE = 'text/html; charset=utf-8';
const PROBLEM_TYPE = 'application/problem+json';

let db: TestDatabase;
let client: TestClient;
/** The CSRF token of the demo user's session, which every form carries. */
let token: string;

beforeAll(async () => {
  db = await createTestDatabase();
  client = await sampleClient(db.url);
  token = await logIn(client);
});

afterAll(async () => {
  await client?.close();
  await db?.drop();
});

/** A page as a browser asks for it. */
async function page(
  path: string,
  method = 'GET',
): Promise<{ res: globalThis.Response; body: string }> {
  const res = await client.request(method, path, { headers: BROWSER });
  return { res, body: await res.text() };
}

/** Posts a form as a browser does (urlencoded, HTML accepted, with the CSRF token); redirects are not followed. */
async function submit(
  path: string,
  form: Record<string, string>,
): Promise<{ res: globalThis.Response; body: string }> {
  const res = await client.post(path, { headers: BROWSER, form: { csrf_token: token, ...form } });
  return { res, body: await res.text() };
}

/** Adds a project through the form and returns its id, read from the redirect. */
async function addProject(form: {
  name: string;
  slug: string;
  description: string;
}): Promise<number> {
  const { res, body } = await submit('/projects', form);
  expect(res.status).toBe(302);
  expect(body).toBe('');
  const m = /^\/projects\/(\d+)$/.exec(res.headers.get('location') ?? '');
  expect(m).not.toBeNull();
  await page(m![0]); // the flash message is shown there, once
  return Number(m![1]);
}

/** The flash messages of a page, as [category, text]. */
function flashes(body: string): [string, string][] {
  return [...body.matchAll(/<p class="flash flash-(\w+)" role="status">([^<]*)<\/p>/g)].map((m) => [
    m[1],
    m[2],
  ]);
}

/** The CSRF field forms carry: hidden, and the session's token masked anew on each page. */
const CSRF_FIELD = /<input type="hidden" name="csrf_token" value="[A-Za-z0-9_-]{86}">/;

/** The project cards of a page, as [href, name]. */
function cards(body: string): [string, string][] {
  return [...body.matchAll(/<a class="card-title" href="([^"]*)">([^<]*)<\/a>/g)].map((m) => [
    m[1],
    m[2],
  ]);
}

/** The results of the search page, as [href, name, added]. */
function results(body: string): [string, string, string][] {
  return [
    ...body.matchAll(
      /<li>\s*<a href="([^"]*)">([^<]*)<\/a>\s*<span class="muted">added ([^<]*)<\/span>/g,
    ),
  ].map((m) => [m[1], m[2], m[3]]);
}

/** The search page's result line, whitespace squashed: the count, the query and the date locales. */
function resultLine(body: string): string | undefined {
  return /<p class="muted">\d+ results? for [\s\S]*?<\/p>/
    .exec(body)?.[0]
    .replace(/\s+/g, ' ')
    .replace(/ <\/p>$/, '</p>');
}

/** The locales the search page offers for its dates, in order. */
const LOCALES = ['uk_UA', 'en_GB', 'en_US', 'de_DE'];

/**
 * What resultLine() should be: `summary`, then "Dates:" and every locale, the current one in
 * <strong>, the others links to the same search (`hrefQuery` as encoded in the link) in that locale.
 */
function expectedLine(summary: string, hrefQuery: string, current: string): string {
  const locales = LOCALES.map((l) =>
    l === current
      ? `<strong>${l}</strong>`
      : `<a href="/search?query=${hrefQuery}&amp;locale=${l}">${l}</a>`,
  );
  return `<p class="muted">${summary} Dates: ${locales.join(' · ')}</p>`;
}

/** Whitespace runs as one space, for markup a template spreads over lines. */
function squash(html: string): string {
  return html.replace(/\s+/g, ' ');
}

function title(body: string): string | undefined {
  return /<title>([^<]*)<\/title>/.exec(body)?.[1];
}

function contentHash(file: string): string {
  return createHash('sha256')
    .update(readFileSync(join(STATIC_DIR, file)))
    .digest('hex')
    .slice(0, 12);
}

function expectHtml(res: globalThis.Response, status: number): void {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe(HTML_TYPE);
}

function expectErrorPage(
  res: globalThis.Response,
  body: string,
  status: number,
  heading: string,
  detail?: string,
): void {
  expectHtml(res, status);
  expect(body).toContain(`<p class="error-code">${status}</p>`);
  expect(body).toContain(`<h1>${heading}</h1>`);
  if (detail === undefined) expect(body).not.toContain('<p class="lead">');
  else expect(body).toContain(`<p class="lead">${detail}</p>`);
  expect(body).toContain('<a class="button" href="/">Back to the start</a>');
}

describe('index page', () => {
  test('200 HTML with the seed: recent projects newest first, people, links built with url()', async () => {
    const { res, body } = await page('/');
    expectHtml(res, 200);
    expect(title(body)).toBe('Home · Rococo Tracker');
    expect(body).toContain('<h1>Keep track of your projects</h1>');
    expect(squash(body)).toContain(
      '<p>3 projects so far. <a href="/projects/new">Add one</a>, find one below, or ask the <a href="/api/">JSON API</a>.</p>',
    );
    expect(cards(body)).toEqual([
      ['/projects/3', 'rororo'],
      ['/projects/2', 'aiopg'],
      ['/projects/1', 'aiohttp.web'],
    ]);
    expect(body).toContain('<p class="muted">by <a href="/users/2">Olena Kovalenko</a></p>');
    expect(body).toContain('<p class="muted">by <a href="/users/1">Igor Davydenko</a></p>');
    expect(body).toContain('<p class="muted">by <a href="/users/3">Demo User</a></p>');
    expect(body).toContain('<li><a href="/users/1">Igor Davydenko</a></li>');
    expect(body).toContain('<li><a href="/users/2">Olena Kovalenko</a></li>');
    expect(body).toContain('<li><a href="/users/3">Demo User</a></li>');
    // Who is logged in, and the logout button (a form with the CSRF token).
    expect(body).toContain('<a class="whoami" href="/users/3">Demo User</a>');
    expect(squash(body)).toMatch(
      /<form class="logout" method="post" action="\/logout"> <input type="hidden" name="csrf_token" value="[\w-]{86}"> <button class="link-button" type="submit">Log out<\/button> <\/form>/,
    );
    expect(body).not.toContain('>Log in</a>');
    // Navigation, all reverse URLs.
    expect(body).toContain('<a class="brand" href="/">');
    expect(body).toContain('<a href="/projects" >Projects</a>');
    expect(body).toContain('<a href="/search" >Search</a>');
    expect(body).toContain('<a href="/api/">API</a>');
    expect(body).toContain('<a class="button button-small" href="/projects/new">New project</a>');
    expect(body).toContain('<a href="/projects">All projects →</a>');
    expect(body).toContain('<form class="search-inline" action="/search" method="get">');
  });

  test('static() links carry a content hash, and the favicon, CSS and JS are served with their types', async () => {
    const { body } = await page('/');
    const icon = `/static/favicon.svg?v=${contentHash('favicon.svg')}`;
    const css = `/static/css/site.css?v=${contentHash('css/site.css')}`;
    const js = `/static/js/app.js?v=${contentHash('js/app.js')}`;
    expect(body).toContain(`<link rel="icon" href="${icon}" type="image/svg+xml">`);
    expect(body).toContain(`<link rel="stylesheet" href="${css}">`);
    expect(body).toContain(`<script src="${js}" defer></script>`);

    const iconRes = await client.get(icon);
    expect(iconRes.status).toBe(200);
    expect(iconRes.headers.get('content-type')).toBe('image/svg+xml');
    expect(iconRes.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await iconRes.text()).toBe(readFileSync(join(STATIC_DIR, 'favicon.svg'), 'utf8'));

    const cssRes = await client.get(css);
    expect(cssRes.status).toBe(200);
    expect(cssRes.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(cssRes.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await cssRes.text()).toBe(readFileSync(join(STATIC_DIR, 'css/site.css'), 'utf8'));

    const jsRes = await client.get(js);
    expect(jsRes.status).toBe(200);
    expect(jsRes.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(jsRes.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await jsRes.text()).toBe(readFileSync(join(STATIC_DIR, 'js/app.js'), 'utf8'));
  });

  test('pages, JSON and static files go out as the browser accepts them (br), and decode to the same', async () => {
    const ACCEPT = { ...BROWSER, 'accept-encoding': 'gzip, deflate, br, zstd' };
    const masked = (html: string) => html.replace(/name="csrf_token" value="[\w-]{86}"/g, '');
    const res = await client.get('/', { headers: ACCEPT });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-encoding')).toBe('br');
    expect(res.headers.get('vary')).toContain('Accept-Encoding');
    const decoded = brotliDecompressSync(Buffer.from(await res.arrayBuffer())).toString();
    expect(masked(decoded)).toBe(masked((await page('/')).body));

    const api = await client.get('/openapi.json', { headers: ACCEPT });
    expect(api.headers.get('content-encoding')).toBe('br');
    const doc = JSON.parse(brotliDecompressSync(Buffer.from(await api.arrayBuffer())).toString());
    expect(doc).toEqual(await (await client.get('/openapi.json')).json());
    const small = await client.get('/api/projects/1', { headers: ACCEPT });
    expect(small.headers.get('content-encoding')).toBeNull(); // below the threshold (1 KiB)
    // The API answers by Origin too: CORS for the origins of CORS_ORIGINS.
    expect(small.headers.get('vary')).toBe('Origin, Accept-Encoding');

    // swagger-ui's bundle from swagger-ui-dist, through the static plugin's StaticFiles
    const bundle = await client.get('/docs/assets/swagger-ui-bundle.js', { headers: ACCEPT });
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('content-encoding')).toBe('br');

    const css = await client.get(`/static/css/site.css?v=${contentHash('css/site.css')}`, {
      headers: { 'accept-encoding': 'gzip' },
    });
    expect(css.headers.get('content-encoding')).toBe('gzip');
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(gunzipSync(Buffer.from(await css.arrayBuffer())).toString()).toBe(
      readFileSync(join(STATIC_DIR, 'css/site.css'), 'utf8'),
    );
    const icon = await client.get('/static/favicon.svg', { headers: ACCEPT });
    expect(icon.headers.get('content-encoding')).toBeNull(); // 228 bytes: below the threshold
  });

  test('HEAD answers like GET without a body', async () => {
    const get = await page('/');
    const head = await page('/', 'HEAD');
    expectHtml(head.res, 200);
    expect(head.body).toBe('');
    expect(head.res.headers.get('content-length')).toBe(String(Buffer.byteLength(get.body)));
    expect(head.res.headers.get('content-length')).toBe(get.res.headers.get('content-length'));
  });

  test('every page tells how long the server worked on it (Server-Timing)', async () => {
    for (const path of ['/', '/projects', '/projects/1', '/users/1', '/search?query=aio']) {
      const { res } = await page(path);
      expect(res.status).toBe(200);
      expect(res.headers.get('server-timing')).toMatch(/^app;dur=\d+\.\d$/);
    }
  });

  test('error pages tell it too (the server worked on them as well)', async () => {
    const { res } = await page('/projects/999');
    expect(res.status).toBe(404);
    expect(res.headers.get('server-timing')).toMatch(/^app;dur=\d+\.\d$/);
    // Thrown errors as problem+json, misses (404, 405) and refused forms (422, 409) too.
    for (const [status, res] of [
      [404, await client.get('/projects/999')],
      [404, (await page('/no/such/page')).res],
      [404, await client.get('/no/such/page')],
      [405, (await page('/projects/1', 'DELETE')).res],
      [422, (await submit('/projects', { name: '', slug: '', description: '' })).res],
      [409, (await submit('/projects', { name: 'Copy', slug: 'aiopg', description: '' })).res],
    ] as const) {
      expect(res.status).toBe(status);
      expect(res.headers.get('server-timing')).toMatch(/^app;dur=\d+\.\d$/);
    }
  });
});

describe('project list and project page', () => {
  test('the list shows the seed in id order with owners', async () => {
    const { res, body } = await page('/projects');
    expectHtml(res, 200);
    expect(title(body)).toBe('Projects · Rococo Tracker');
    expect(body).toContain('<a href="/projects" aria-current="page">Projects</a>');
    expect(cards(body)).toEqual([
      ['/projects/1', 'aiohttp.web'],
      ['/projects/2', 'aiopg'],
      ['/projects/3', 'rororo'],
    ]);
    expect(body).toContain('<code class="slug">aiohttp-web</code>');
    expect(body).toContain(
      '<p>Useful helpers for aiohttp.web applications: settings, schemas, logging.</p>',
    );
    // A plain heading; "New project" is the masthead's button only.
    expect(squash(body)).toContain(
      '<main class="wrap"> <h1>Projects</h1> <ul class="cards" id="projects">',
    );
    expect(body).not.toContain('section-head');
    expect(body).toContain('<a class="button button-small" href="/projects/new">New project</a>');
    expect(body.match(/>New project<\/a>/g)).toHaveLength(1);
  });

  test("someone else's project page shows the project, its owner, when it was added with its JSON link, and no edit or delete", async () => {
    const { res, body } = await page('/projects/1');
    expectHtml(res, 200);
    expect(title(body)).toBe('aiohttp.web · Rococo Tracker');
    expect(body).toContain('<p class="crumbs"><a href="/projects">← All projects</a></p>');
    expect(body).toContain('<h1>aiohttp.web <code class="slug">aiohttp-web</code></h1>');
    expect(body).toContain(
      '<p class="lead">Web framework for asyncio: the one the talk is about.</p>',
    );
    expect(squash(body)).toContain('<dt>Owner</dt> <dd><a href="/users/1">Igor Davydenko</a></dd>');
    const { created_at } = (await (await client.get('/api/projects/1')).json()) as {
      created_at: string;
    };
    const added = created_at.slice(0, 10);
    expect(added).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(squash(body)).toContain(
      `<dt>Added</dt> <dd>${added} · <a href="/api/projects/1">as JSON</a></dd> </dl>`,
    );
    expect(body).not.toContain('<dt>API</dt>');
    expect(body).not.toContain('/projects/1/edit');
    expect(body).not.toContain('/projects/1/delete');
    expect(body).not.toContain('class="actions"');
    expect(flashes(body)).toEqual([]);
  });

  test("the owner's project page has edit and delete, the delete form with the CSRF token", async () => {
    const { res, body } = await page('/projects/2');
    expectHtml(res, 200);
    expect(body).toContain('<h1>aiopg <code class="slug">aiopg</code></h1>');
    expect(squash(body)).toContain('<dt>Owner</dt> <dd><a href="/users/3">Demo User</a></dd>');
    expect(body).toContain('<a class="button" href="/projects/2/edit">Edit</a>');
    expect(squash(body)).toMatch(
      /<form method="post" action="\/projects\/2\/delete" data-confirm="Delete “aiopg”\?"> <input type="hidden" name="csrf_token" value="[\w-]{86}"> <button class="button button-quiet" type="submit">Delete<\/button> <\/form>/,
    );
    expect(body).not.toContain('button-danger');
    expect(flashes(body)).toEqual([]);
  });

  test('a missing project is the 404 page for browsers, saying which', async () => {
    const { res, body } = await page('/projects/999');
    expectErrorPage(res, body, 404, 'We could not find that page', 'There is no project 999.');
    expect(title(body)).toBe('404 Not Found · Rococo Tracker');
  });

  test('a missing project is problem+json for other clients', async () => {
    const res = await client.get('/projects/999');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe(PROBLEM_TYPE);
    expect(await res.json()).toEqual({
      type: 'about:blank',
      title: 'Not Found',
      status: 404,
      detail: 'There is no project 999.',
    });
  });

  test('a path no route matches is the 404 page too', async () => {
    const { res, body } = await page('/no/such/page');
    expectErrorPage(res, body, 404, 'We could not find that page');
    const bare = await client.get('/no/such/page');
    expect(bare.status).toBe(404);
    expect(bare.headers.get('content-type')).toBe(PROBLEM_TYPE);
    expect(await bare.json()).toEqual({ type: 'about:blank', title: 'Not Found', status: 404 });
  });

  test('a wrong method on a page is a 405 page with Allow', async () => {
    const { res, body } = await page('/projects/1', 'DELETE');
    expectErrorPage(
      res,
      body,
      405,
      'Method Not Allowed',
      'DELETE is not allowed here; use GET, HEAD',
    );
    expect(res.headers.get('allow')).toBe('GET, HEAD');
  });
});

describe('user profile', () => {
  test('shows the user and the projects they own; the email only to the user', async () => {
    const { res, body } = await page('/users/1');
    expectHtml(res, 200);
    expect(title(body)).toBe('Igor Davydenko · Rococo Tracker');
    expect(body).toContain('<div class="avatar" aria-hidden="true">I</div>');
    expect(body).toContain('<h1>Igor Davydenko</h1>');
    expect(body).not.toContain('igor@example.com');
    expect(cards(body)).toEqual([['/projects/1', 'aiohttp.web']]);

    const olena = await page('/users/2');
    expectHtml(olena.res, 200);
    expect(olena.body).toContain('<h1>Olena Kovalenko</h1>');
    expect(olena.body).not.toContain('olena@example.com');
    expect(cards(olena.body)).toEqual([['/projects/3', 'rororo']]);

    const own = await page('/users/3');
    expectHtml(own.res, 200);
    expect(own.body).toContain('<h1>Demo User</h1>');
    expect(own.body).toContain('<p class="muted">demo@example.com</p>');
    expect(cards(own.body)).toEqual([['/projects/2', 'aiopg']]);
  });

  test('a missing user is the 404 page, or problem+json without Accept: text/html', async () => {
    const { res, body } = await page('/users/999');
    expectErrorPage(res, body, 404, 'We could not find that page', 'There is no user 999.');
    const bare = await client.get('/users/999');
    expect(bare.status).toBe(404);
    expect(bare.headers.get('content-type')).toBe(PROBLEM_TYPE);
    expect(await bare.json()).toEqual({
      type: 'about:blank',
      title: 'Not Found',
      status: 404,
      detail: 'There is no user 999.',
    });
  });
});

describe('search', () => {
  /** How the page should write a project's creation date in a locale. */
  async function created(id: number, locale: string): Promise<string> {
    const res = await client.get(`/api/projects/${id}`);
    expect(res.status).toBe(200);
    const { created_at } = (await res.json()) as { created_at: string };
    return new Intl.DateTimeFormat(locale, { dateStyle: 'long' }).format(new Date(created_at));
  }

  test('without a query: the form and no results', async () => {
    const { res, body } = await page('/search');
    expectHtml(res, 200);
    expect(title(body)).toBe('Search · Rococo Tracker');
    expect(body).toContain(
      '<input type="search" name="query" value="" placeholder="Name or description"',
    );
    expect(body).toContain('<input type="hidden" name="locale" value="uk_UA">');
    expect(body).not.toContain('result');
  });

  test('finds by description, case-insensitively, with dates in the default locale uk_UA', async () => {
    const { res, body } = await page('/search?query=ASYNCIO');
    expectHtml(res, 200);
    expect(title(body)).toBe('“ASYNCIO” · Rococo Tracker');
    expect(resultLine(body)).toBe(expectedLine('2 results for “ASYNCIO”.', 'ASYNCIO', 'uk_UA'));
    expect(body).toContain('<input type="hidden" name="locale" value="uk_UA">');
    expect(results(body)).toEqual([
      ['/projects/1', 'aiohttp.web', await created(1, 'uk-UA')],
      ['/projects/2', 'aiopg', await created(2, 'uk-UA')],
    ]);
    // Ukrainian long dates read "25 листопада 2026 р.".
    expect(results(body)[0][2]).toMatch(/^\d{1,2} [а-яєіїґ]+ \d{4} р\.$/);
  });

  test('finds by name, case-insensitively', async () => {
    const { body } = await page('/search?query=RoRoRo');
    expect(resultLine(body)).toBe(expectedLine('1 result for “RoRoRo”.', 'RoRoRo', 'uk_UA'));
    expect(results(body)).toEqual([['/projects/3', 'rororo', await created(3, 'uk-UA')]]);
    const byDescription = await page('/search?query=overRATED');
    expect(results(byDescription.body)).toEqual([
      ['/projects/2', 'aiopg', await created(2, 'uk-UA')],
    ]);
  });

  test('?locale=en_GB changes how dates read', async () => {
    const { res, body } = await page('/search?query=aiopg&locale=en_GB');
    expectHtml(res, 200);
    expect(resultLine(body)).toBe(expectedLine('1 result for “aiopg”.', 'aiopg', 'en_GB'));
    expect(body).toContain('<input type="hidden" name="locale" value="en_GB">');
    const date = await created(2, 'en-GB');
    expect(results(body)).toEqual([['/projects/2', 'aiopg', date]]);
    expect(date).toMatch(
      /^\d{1,2} (January|February|March|April|May|June|July|August|September|October|November|December) \d{4}$/,
    );
    expect(date).not.toBe(await created(2, 'uk-UA'));
  });

  test('the locale links show the same search with dates in that locale', async () => {
    const { body } = await page('/search?query=aiopg');
    const href = /<a href="([^"]*)">en_US<\/a>/.exec(body)?.[1].replaceAll('&amp;', '&');
    expect(href).toBe('/search?query=aiopg&locale=en_US');
    const us = await page(href!);
    expectHtml(us.res, 200);
    expect(resultLine(us.body)).toBe(expectedLine('1 result for “aiopg”.', 'aiopg', 'en_US'));
    expect(us.body).toContain('<input type="hidden" name="locale" value="en_US">');
    const date = await created(2, 'en-US');
    expect(results(us.body)).toEqual([['/projects/2', 'aiopg', date]]);
    expect(date).toMatch(
      /^(January|February|March|April|May|June|July|August|September|October|November|December) \d{1,2}, \d{4}$/,
    );

    const de = await page('/search?query=aiopg&locale=de_DE');
    expect(resultLine(de.body)).toBe(expectedLine('1 result for “aiopg”.', 'aiopg', 'de_DE'));
    expect(results(de.body)).toEqual([['/projects/2', 'aiopg', await created(2, 'de-DE')]]);
  });

  test('a malformed locale falls back to the default', async () => {
    const { res, body } = await page(
      `/search?query=aiopg&locale=${encodeURIComponent('"><script>alert(1)</script>')}`,
    );
    expectHtml(res, 200);
    expect(resultLine(body)).toBe(expectedLine('1 result for “aiopg”.', 'aiopg', 'uk_UA'));
    expect(body).toContain('<input type="hidden" name="locale" value="uk_UA">');
    expect(results(body)).toEqual([['/projects/2', 'aiopg', await created(2, 'uk-UA')]]);
    expect(body).not.toContain('<script>alert(1)</script>');
    expect(body).not.toContain('alert(1)');
  });

  test('a locale that looks right but Intl refuses (en_GBR) falls back to the default', async () => {
    const { res, body } = await page('/search?query=aiopg&locale=en_GBR');
    expectHtml(res, 200);
    expect(resultLine(body)).toBe(expectedLine('1 result for “aiopg”.', 'aiopg', 'uk_UA'));
    expect(body).toContain('<input type="hidden" name="locale" value="uk_UA">');
    expect(results(body)).toEqual([['/projects/2', 'aiopg', await created(2, 'uk-UA')]]);
  });

  test('a well-formed locale Intl does not support (xx_YY) falls back to the default', async () => {
    expect(Intl.DateTimeFormat.supportedLocalesOf('xx-YY')).toEqual([]);
    const { res, body } = await page('/search?query=aiopg&locale=xx_YY');
    expectHtml(res, 200);
    expect(resultLine(body)).toBe(expectedLine('1 result for “aiopg”.', 'aiopg', 'uk_UA'));
    expect(body).toContain('<input type="hidden" name="locale" value="uk_UA">');
    expect(body).not.toContain('xx_YY');
    expect(results(body)).toEqual([['/projects/2', 'aiopg', await created(2, 'uk-UA')]]);
  });

  test('the query is escaped in the page', async () => {
    const { res, body } = await page(`/search?query=${encodeURIComponent('<b>bold</b>')}`);
    expectHtml(res, 200);
    expect(title(body)).toBe('“&lt;b&gt;bold&lt;/b&gt;” · Rococo Tracker');
    // Escaped in the text; URL-encoded (then & escaped) in the locale links.
    expect(resultLine(body)).toBe(
      expectedLine('0 results for “&lt;b&gt;bold&lt;/b&gt;”.', '%3Cb%3Ebold%3C%2Fb%3E', 'uk_UA'),
    );
    expect(body).toContain('value="&lt;b&gt;bold&lt;/b&gt;"');
    expect(body).not.toContain('<b>bold</b>');
    expect(results(body)).toEqual([]);
  });

  test('% and _ in the query are literal characters, not wildcards', async () => {
    const id = await addProject({
      name: 'Sale: 50% off',
      slug: 'sale',
      description: 'snake_case names',
    });
    const date = await created(id, 'uk-UA');
    const search = async (q: string) =>
      results((await page(`/search?query=${encodeURIComponent(q)}`)).body);

    expect(await search('%')).toEqual([[`/projects/${id}`, 'Sale: 50% off', date]]);
    expect(await search('_')).toEqual([[`/projects/${id}`, 'Sale: 50% off', date]]);
    expect(await search('50%')).toEqual([[`/projects/${id}`, 'Sale: 50% off', date]]);
    expect(await search('e_c')).toEqual([[`/projects/${id}`, 'Sale: 50% off', date]]);
    // As wildcards these would match "aiohttp.web" and "aiopg" ("aio"), or everything.
    expect(await search('a_o')).toEqual([]);
    expect(await search('io%pg')).toEqual([]);
    expect(await search('%%')).toEqual([]);
    expect(await search('\\')).toEqual([]);
  });
});

describe('adding a project through the form', () => {
  test('GET /projects/new is an empty form that posts to /projects', async () => {
    const { res, body } = await page('/projects/new');
    expectHtml(res, 200);
    expect(title(body)).toBe('New project · Rococo Tracker');
    expect(body).toContain('<h1>New project</h1>');
    expect(squash(body)).toMatch(
      /<form class="form" method="post" novalidate action="\/projects"> <input type="hidden" name="csrf_token" value="[\w-]{86}">/,
    );
    expect(body).toContain('<input id="name" name="name" value="" maxlength="32" required >');
    expect(body).toContain(
      '<label for="slug">Slug <span class="muted">(the project\'s short name in links)</span></label>',
    );
    expect(body).toContain(
      '<input id="slug" name="slug" value="" maxlength="32" pattern="[a-z0-9-]+" required data-slug-from="name" >',
    );
    expect(body).toContain(
      '<textarea id="description" name="description" maxlength="255" rows="4"></textarea>',
    );
    expect(body).toContain('<button class="button" type="submit">Add project</button>');
    expect(body).toContain('<a href="/projects">Cancel</a>');
    expect(body).not.toContain('flash-error');
    expect(body).not.toContain('field-error');
  });

  test('a valid post redirects (302) to the new project, owned by the user, with a flash message; names are escaped', async () => {
    const name = '<b>Bold</b> & "co"';
    const { res, body } = await submit('/projects', {
      name,
      slug: 'bold-co',
      description: 'Made by <i>a test</i>',
    });
    expect(res.status).toBe(302);
    expect(body).toBe('');
    const location = res.headers.get('location') ?? '';
    const m = /^\/projects\/(\d+)$/.exec(location);
    expect(m).not.toBeNull();
    const id = Number(m![1]);

    const shown = await page(location);
    expectHtml(shown.res, 200);
    const escaped = '&lt;b&gt;Bold&lt;/b&gt; &amp; &quot;co&quot;';
    expect(title(shown.body)).toBe(`${escaped} · Rococo Tracker`);
    expect(flashes(shown.body)).toEqual([['success', `Project “${escaped}” was added.`]]);
    expect(shown.body).toContain(`<h1>${escaped} <code class="slug">bold-co</code></h1>`);
    expect(shown.body).toContain('<p class="lead">Made by &lt;i&gt;a test&lt;/i&gt;</p>');
    expect(squash(shown.body)).toContain(
      '<dt>Owner</dt> <dd><a href="/users/3">Demo User</a></dd>',
    );
    expect(shown.body).toContain(`<a class="button" href="/projects/${id}/edit">Edit</a>`);
    expect(shown.body).not.toContain('<b>Bold</b>');
    expect(shown.body).not.toContain('<i>a test</i>');

    // The message was shown once; the project is listed.
    const again = await page(`/projects/${id}`);
    expect(flashes(again.body)).toEqual([]);
    expect(cards((await page('/projects')).body)).toContainEqual([`/projects/${id}`, escaped]);
  });

  test('an invalid post re-renders the form with 422, the messages, and what was typed', async () => {
    const long = 'x'.repeat(33);
    const { res, body } = await submit('/projects', {
      name: long,
      slug: 'Not A Slug!',
      description: 'kept <as> typed',
    });
    expectHtml(res, 422);
    expect(title(body)).toBe('New project · Rococo Tracker');
    expect(body).toContain(
      '<p class="flash flash-error" role="alert">Please correct the fields below.</p>',
    );
    expect(body).toContain(
      `<input id="name" name="name" value="${long}" maxlength="32" required aria-invalid="true">`,
    );
    expect(body).toContain(
      '<p class="field-error">Give the project a name of 1 to 32 characters.</p>',
    );
    expect(body).toContain(
      '<input id="slug" name="slug" value="Not A Slug!" maxlength="32" pattern="[a-z0-9-]+" required data-slug-from="name" aria-invalid="true">',
    );
    expect(body).toContain(
      '<p class="field-error">Use 1 to 32 lower-case letters, digits or hyphens.</p>',
    );
    expect(body).toContain(
      '<textarea id="description" name="description" maxlength="255" rows="4">kept &lt;as&gt; typed</textarea>',
    );
    expect(body.match(/class="field-error"/g)).toHaveLength(2);

    const empty = await submit('/projects', {
      name: '   ',
      slug: '',
      description: 'd'.repeat(256),
    });
    expectHtml(empty.res, 422);
    expect(empty.body.match(/class="field-error"/g)).toHaveLength(3);
    expect(empty.body).toContain(
      '<p class="field-error">Give the project a name of 1 to 32 characters.</p>',
    );
    expect(empty.body).toContain(
      '<p class="field-error">Use 1 to 32 lower-case letters, digits or hyphens.</p>',
    );
    expect(empty.body).toContain(
      '<p class="field-error">Keep the description under 256 characters.</p>',
    );

    // Nothing was added.
    expect(cards((await page('/projects')).body).map(([, n]) => n)).not.toContain(long);
  });

  test('a taken slug re-renders the form with 409, what was typed, and the message under the slug', async () => {
    const { res, body } = await submit('/projects', {
      name: 'Another aiopg',
      slug: 'aiopg',
      description: 'kept <as> typed',
    });
    expectHtml(res, 409);
    expect(title(body)).toBe('New project · Rococo Tracker');
    expect(body).toContain('<h1>New project</h1>');
    expect(body).not.toContain('error-code');
    expect(body).toContain(
      '<p class="flash flash-error" role="alert">Please correct the fields below.</p>',
    );
    expect(body).toContain(
      '<input id="name" name="name" value="Another aiopg" maxlength="32" required >',
    );
    expect(squash(body)).toContain(
      '<input id="slug" name="slug" value="aiopg" maxlength="32" pattern="[a-z0-9-]+" required data-slug-from="name" aria-invalid="true"> ' +
        '<p class="field-error">The slug “aiopg” is already taken.</p>',
    );
    expect(body).toContain(
      '<textarea id="description" name="description" maxlength="255" rows="4">kept &lt;as&gt; typed</textarea>',
    );
    expect(body.match(/class="field-error"/g)).toHaveLength(1);
    expect(cards((await page('/projects')).body).map(([, n]) => n)).not.toContain('Another aiopg');
  });
});

describe('editing and deleting through the forms', () => {
  test('the edit form is pre-filled; a post redirects (302) and the change shows', async () => {
    const id = await addProject({ name: 'Draft', slug: 'draft', description: 'First words' });
    const form = await page(`/projects/${id}/edit`);
    expectHtml(form.res, 200);
    expect(title(form.body)).toBe('Edit Draft · Rococo Tracker');
    expect(form.body).toContain('<h1>Edit “Draft”</h1>');
    expect(squash(form.body)).toMatch(
      new RegExp(
        `<form class="form" method="post" novalidate action="/projects/${id}/edit"> ${CSRF_FIELD.source}`,
      ),
    );
    expect(form.body).toContain(
      '<input id="name" name="name" value="Draft" maxlength="32" required >',
    );
    expect(form.body).toContain(
      '<input id="slug" name="slug" value="draft" maxlength="32" pattern="[a-z0-9-]+" required  >',
    );
    expect(form.body).toContain(
      '<textarea id="description" name="description" maxlength="255" rows="4">First words</textarea>',
    );
    expect(form.body).toContain('<button class="button" type="submit">Save</button>');
    expect(form.body).toContain(`<a href="/projects/${id}">Cancel</a>`);

    const { res, body } = await submit(`/projects/${id}/edit`, {
      name: 'Final',
      slug: 'final',
      description: 'Last words',
    });
    expect(res.status).toBe(302);
    expect(body).toBe('');
    expect(res.headers.get('location')).toBe(`/projects/${id}`);

    const shown = await page(`/projects/${id}`);
    expectHtml(shown.res, 200);
    expect(shown.body).toContain('<h1>Final <code class="slug">final</code></h1>');
    expect(shown.body).toContain('<p class="lead">Last words</p>');
    expect(flashes(shown.body)).toEqual([['success', 'Your changes were saved.']]);
    expect(flashes((await page(`/projects/${id}`)).body)).toEqual([]);
  });

  test('an invalid edit re-renders the form with 422 and keeps the typed values', async () => {
    const id = await addProject({ name: 'Keep', slug: 'keep', description: '' });
    const { res, body } = await submit(`/projects/${id}/edit`, {
      name: 'Changed',
      slug: 'UPPER',
      description: 'new',
    });
    expectHtml(res, 422);
    expect(body).toContain('<h1>Edit “Keep”</h1>');
    expect(body).toContain(
      '<input id="name" name="name" value="Changed" maxlength="32" required >',
    );
    expect(body).toContain(
      '<input id="slug" name="slug" value="UPPER" maxlength="32" pattern="[a-z0-9-]+" required  aria-invalid="true">',
    );
    expect(body).toContain(
      '<p class="field-error">Use 1 to 32 lower-case letters, digits or hyphens.</p>',
    );
    expect((await page(`/projects/${id}`)).body).toContain(
      '<h1>Keep <code class="slug">keep</code></h1>',
    );
  });

  test('a taken slug on edit re-renders the form with 409 and the message; nothing changes', async () => {
    const id = await addProject({ name: 'Mine', slug: 'mine', description: 'As it was' });
    const { res, body } = await submit(`/projects/${id}/edit`, {
      name: 'Renamed',
      slug: 'aiopg',
      description: 'new',
    });
    expectHtml(res, 409);
    expect(title(body)).toBe('Edit Mine · Rococo Tracker');
    expect(body).toContain('<h1>Edit “Mine”</h1>');
    expect(body).not.toContain('error-code');
    expect(body).toContain(
      '<p class="flash flash-error" role="alert">Please correct the fields below.</p>',
    );
    expect(body).toContain(
      '<input id="name" name="name" value="Renamed" maxlength="32" required >',
    );
    expect(squash(body)).toContain(
      '<input id="slug" name="slug" value="aiopg" maxlength="32" pattern="[a-z0-9-]+" required aria-invalid="true"> ' +
        '<p class="field-error">The slug “aiopg” is already taken.</p>',
    );
    expect(body).toContain(
      '<textarea id="description" name="description" maxlength="255" rows="4">new</textarea>',
    );
    expect(body.match(/class="field-error"/g)).toHaveLength(1);
    const shown = (await page(`/projects/${id}`)).body;
    expect(shown).toContain('<h1>Mine <code class="slug">mine</code></h1>');
    expect(shown).toContain('<p class="lead">As it was</p>');
  });

  test('editing a missing project is the 404 page', async () => {
    expectErrorPage(
      ...(await page('/projects/999/edit').then((p) => [p.res, p.body] as const)),
      404,
      'We could not find that page',
      'There is no project 999.',
    );
    const { res, body } = await submit('/projects/999/edit', {
      name: 'x',
      slug: 'x',
      description: '',
    });
    expectErrorPage(res, body, 404, 'We could not find that page', 'There is no project 999.');
  });

  test('delete redirects (302) to the list, and the project is gone', async () => {
    const id = await addProject({ name: 'Doomed', slug: 'doomed', description: '' });
    const { res, body } = await submit(`/projects/${id}/delete`, {});
    expect(res.status).toBe(302);
    expect(body).toBe('');
    expect(res.headers.get('location')).toBe('/projects');
    expect(flashes((await page('/projects')).body)).toEqual([
      ['success', 'Project “Doomed” was deleted.'],
    ]);

    const gone = await page(`/projects/${id}`);
    expectErrorPage(
      gone.res,
      gone.body,
      404,
      'We could not find that page',
      `There is no project ${id}.`,
    );
    expect(cards((await page('/projects')).body)).not.toContainEqual([`/projects/${id}`, 'Doomed']);

    const again = await submit(`/projects/${id}/delete`, {});
    expectErrorPage(
      again.res,
      again.body,
      404,
      'We could not find that page',
      `There is no project ${id}.`,
    );
  });
});
