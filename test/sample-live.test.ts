import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import type { AppSettings } from '../sample/settings';
import { WebSocketRefused, type TestClient, type TestWebSocket } from '../src/testing';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { RedisServer, redisServerBinary } from './helpers/redis-server';
import { BROWSER, csrfToken, DEMO, logIn, sampleClient } from './helpers/sample';

/**
 * Comments and the live project page of the sample, end to end: the comment form (login, CSRF,
 * 422, flash, the list), the JSON answer the page's script asks for, and the project's
 * WebSocket (sample/projects/live.controller.ts): events from forms and the API, viewer counts,
 * the handshake of an unknown project, catching up after a reconnect. Real HTTP and WebSockets,
 * a real PostgreSQL database of this suite's own; the hub and the viewer counts go through
 * Redis when REDIS_URL is set, else they stay in the process. The last describe runs two apps
 * (two workers) on one Redis: REDIS_URL's, or a redis-server of its own.
 *
 * Seed: projects 1 (Igor's), 2 (aiopg, the demo user's), 3 (Olena's).
 */

/** Keys and channels of this suite's own on a shared Redis: other suites' projects have the same ids. */
const PREFIX = `test-live-${randomBytes(6).toString('hex')}:`;

interface CommentJson {
  id: number;
  body: string;
  author: { id: number; name: string; url: string };
  created_at: string;
  created: string;
}
type LiveEvent =
  | { type: 'comment'; comment: CommentJson }
  | { type: 'project'; project: { id: number; name: string; slug: string; description: string } }
  | { type: 'deleted' }
  | { type: 'viewers'; count: number };

let db: TestDatabase;
let pg: Client;
/** The demo user, logged in; `token` is its CSRF token. */
let client: TestClient;
let token: string;
/** A visitor: no session. */
let visitor: TestClient;

beforeAll(async () => {
  db = await createTestDatabase();
  client = await sampleClient(db.url, { REDIS_PREFIX: PREFIX });
  token = await logIn(client);
  visitor = await sampleClient(db.url, { REDIS_PREFIX: PREFIX });
  pg = new Client({ connectionString: db.url });
  await pg.connect();
});

afterAll(async () => {
  await pg?.end();
  for (const c of [client, visitor]) await c?.close();
  await db?.drop();
});

async function page(
  c: TestClient,
  path: string,
): Promise<{ res: globalThis.Response; body: string }> {
  const res = await c.get(path, { headers: BROWSER });
  return { res, body: await res.text() };
}

async function submit(
  c: TestClient,
  path: string,
  form: Record<string, string>,
): Promise<{ res: globalThis.Response; body: string }> {
  const res = await c.post(path, { headers: BROWSER, form });
  return { res, body: await res.text() };
}

/** Posts a comment through the form as the demo user and returns its id, read from the redirect. */
async function comment(projectId: number, body: string): Promise<number> {
  const { res } = await submit(client, `/projects/${projectId}/comments`, {
    csrf_token: token,
    body,
  });
  expect(res.status).toBe(302);
  const m = new RegExp(`^/projects/${projectId}#comment-(\\d+)$`).exec(
    res.headers.get('location') ?? '',
  );
  expect(m).not.toBeNull();
  return Number(m![1]);
}

/** The comments of a page, as [id, author, body] (the body as the HTML has it, escaped). */
function comments(body: string): [number, string, string][] {
  return [
    ...body.matchAll(
      /<li class="comment" id="comment-(\d+)" data-comment-id="\1">\s*<p class="comment-meta"><a href="\/users\/\d+">([^<]*)<\/a> <time datetime="[^"]+">[^<]+<\/time><\/p>\s*<p class="comment-body">([^<]*)<\/p>/g,
    ),
  ].map((m) => [Number(m[1]), m[2], m[3]]);
}

function flashes(body: string): [string, string][] {
  return [...body.matchAll(/<p class="flash flash-(\w+)" role="status">([^<]*)<\/p>/g)].map((m) => [
    m[1],
    m[2],
  ]);
}

async function commentCount(projectId: number): Promise<number> {
  const { rows } = await pg.query('SELECT count(*)::int AS n FROM comments WHERE project_id = $1', [
    projectId,
  ]);
  return rows[0].n;
}

/**
 * Opens a project's live socket and reads the viewer count it is told first. Sockets of one test
 * go to one app (without Redis, each app is a process of its own); `anonymous`: without the
 * client's session cookie.
 */
async function open(
  c: TestClient,
  projectId: number,
  expectedViewers: number,
  anonymous = false,
): Promise<TestWebSocket> {
  const ws = await c.ws(
    `/projects/${projectId}/live`,
    anonymous ? { headers: { cookie: '' } } : {},
  );
  expect(await ws.nextJson<LiveEvent>()).toEqual({ type: 'viewers', count: expectedViewers });
  return ws;
}

/** Expects no message on `ws` for `ms`. */
async function silent(ws: TestWebSocket, ms = 200): Promise<void> {
  await expect(ws.next(ms)).rejects.toThrow(/no message within/);
}

async function refusal(promise: Promise<unknown>): Promise<WebSocketRefused> {
  const e = await promise.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(WebSocketRefused);
  return e as WebSocketRefused;
}

describe('comments on the project page', () => {
  test('a visitor sees the comments and a link to log in that comes back, but no form', async () => {
    const { res, body } = await page(visitor, '/projects/1');
    expect(res.status).toBe(200);
    expect(body).toContain('<h2 id="comments-title">Comments</h2>');
    expect(body).toContain('<p class="empty" data-no-comments>No comments yet.</p>');
    expect(body).toContain('<a href="/login?next=%2Fprojects%2F1">Log in to comment</a>');
    expect(body).not.toContain('data-comment-form');
    expect(body).not.toContain('name="body"');
  });

  test('the page has the live URL, built with url(), and its script, served with static()', async () => {
    const { body } = await page(visitor, '/projects/3');
    expect(body).toContain('data-live="/projects/3/live"');
    expect(body).toMatch(/<script src="\/static\/js\/live\.js\?v=[0-9a-f]{12}" defer><\/script>/);
    const js = await visitor.get(
      (/<script src="(\/static\/js\/live\.js\?v=[0-9a-f]{12})"/.exec(body) as RegExpExecArray)[1],
    );
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/^(application|text)\/javascript/);
  });

  test('a logged-in user gets the form, with the CSRF token', async () => {
    const { body } = await page(client, '/projects/1');
    expect(body.replace(/\s+/g, ' ')).toMatch(
      /<form class="form comment-form" method="post" action="\/projects\/1\/comments" data-comment-form novalidate> <input type="hidden" name="csrf_token" value="[\w-]{86}"> <label for="comment-body">Add a comment<\/label>/,
    );
    expect(body).toContain(
      '<textarea id="comment-body" name="body" rows="3" maxlength="1000" required></textarea>',
    );
    expect(body).not.toContain('Log in to comment');
  });

  test('a visitor who posts anyway is sent to log in, and back to the project; without a CSRF token it is a 403', async () => {
    const visitorToken = await csrfToken(visitor, '/login');
    const { res } = await submit(visitor, '/projects/1/comments', {
      csrf_token: visitorToken,
      body: 'Anonymous?',
    });
    expect([res.status, res.headers.get('location')]).toEqual([303, '/login?next=%2Fprojects%2F1']);
    expect((await submit(visitor, '/projects/1/comments', { body: 'Anonymous?' })).res.status).toBe(
      403,
    );
    expect(await commentCount(1)).toBe(0);
  });

  test('a logged-in user without the CSRF token, or with a wrong one, is refused (403) and nothing is added', async () => {
    const missing = await submit(client, '/projects/1/comments', { body: 'Forged' });
    expect(missing.res.status).toBe(403);
    expect(missing.body).toContain('<p class="error-code">403</p>');
    const wrong = await submit(client, '/projects/1/comments', {
      csrf_token: 'x'.repeat(86),
      body: 'Forged',
    });
    expect(wrong.res.status).toBe(403);
    expect(await commentCount(1)).toBe(0);
  });

  test('an empty comment is the page again with a 422 and the reason; so is one of blanks', async () => {
    for (const body of ['', '  \r\n\t ']) {
      const { res, body: html } = await submit(client, '/projects/1/comments', {
        csrf_token: token,
        body,
      });
      expect(res.status).toBe(422);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(html).toContain('<h1>aiohttp.web <code class="slug">aiohttp-web</code></h1>');
      expect(html).toContain('aria-invalid="true" aria-describedby="comment-error"></textarea>');
      expect(html).toContain(
        '<p class="field-error" id="comment-error" role="alert">Write something first: the comment is empty.</p>',
      );
      expect(flashes(html)).toEqual([]);
    }
    expect(await commentCount(1)).toBe(0);
  });

  test('a comment over 1000 characters is a 422 that keeps what was typed; 1000 characters of emoji (2000 UTF-16 units) pass', async () => {
    const long = 'a'.repeat(1001);
    const { res, body } = await submit(client, '/projects/1/comments', {
      csrf_token: token,
      body: long,
    });
    expect(res.status).toBe(422);
    expect(body).toContain('Keep the comment to 1000 characters (this one has 1001).');
    expect(body).toContain(
      `required aria-invalid="true" aria-describedby="comment-error">${long}</textarea>`,
    );
    expect(await commentCount(1)).toBe(0);

    const emoji = '🎉'.repeat(1000);
    expect(emoji.length).toBe(2000);
    const id = await comment(1, emoji);
    const { rows } = await pg.query('SELECT body, length(body) AS n FROM comments WHERE id = $1', [
      id,
    ]);
    expect(rows).toEqual([{ body: emoji, n: 1000 }]);
  });

  test('a comment is added: a redirect to it, the flash once, the comment listed with its author, escaped', async () => {
    const before = comments((await page(client, '/projects/3')).body);
    expect(before).toEqual([]);
    const id = await comment(3, 'First!\r\nSee <b>this</b> & that.\u0000');
    const { res, body } = await page(client, '/projects/3');
    expect(res.status).toBe(200);
    expect(flashes(body)).toEqual([['success', 'Your comment was added.']]);
    expect(comments(body)).toEqual([
      [id, 'Demo User', 'First!\nSee &lt;b&gt;this&lt;/b&gt; &amp; that.'],
    ]);
    expect(body).toContain('<p class="empty" data-no-comments hidden>No comments yet.</p>');
    const { rows } = await pg.query('SELECT body, author_id FROM comments WHERE id = $1', [id]);
    expect(rows[0].body).toBe('First!\nSee <b>this</b> & that.');
    // Shown once; a visitor sees it too, in order after the next one.
    expect(flashes((await page(client, '/projects/3')).body)).toEqual([]);
    const second = await comment(3, 'Second');
    expect(comments((await page(visitor, '/projects/3')).body).map(([i, , b]) => [i, b])).toEqual([
      [id, 'First!\nSee &lt;b&gt;this&lt;/b&gt; &amp; that.'],
      [second, 'Second'],
    ]);
  });

  test('a comment on a project that does not exist is a 404', async () => {
    const { res, body } = await submit(client, '/projects/999/comments', {
      csrf_token: token,
      body: 'Hello?',
    });
    expect(res.status).toBe(404);
    expect(body).toContain('There is no project 999.');
  });

  test('the script asks for JSON: 201 with the comment, 422 problem, 401 for a visitor, and no flash message', async () => {
    const ok = await client.post('/projects/1/comments', {
      headers: { accept: 'application/json' },
      form: { csrf_token: token, body: 'Via fetch' },
    });
    expect(ok.status).toBe(201);
    const { comment: c } = (await ok.json()) as { comment: CommentJson };
    expect(c).toEqual({
      id: expect.any(Number),
      body: 'Via fetch',
      author: { id: 3, name: DEMO.name, url: '/users/3' },
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      created: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/),
    });
    expect(c.created).toBe(`${c.created_at.slice(0, 10)} ${c.created_at.slice(11, 16)} UTC`);

    const bad = await client.post('/projects/1/comments', {
      headers: { accept: 'application/json' },
      form: { csrf_token: token, body: ' ' },
    });
    expect([bad.status, bad.headers.get('content-type')]).toEqual([
      422,
      'application/problem+json',
    ]);
    expect(await bad.json()).toMatchObject({
      status: 422,
      detail: 'Write something first: the comment is empty.',
    });

    const visitorToken = await csrfToken(visitor, '/login');
    const anonymous = await visitor.post('/projects/1/comments', {
      headers: { accept: 'application/json' },
      form: { csrf_token: visitorToken, body: 'Me?' },
    });
    expect(anonymous.status).toBe(401);
    expect(flashes((await page(client, '/projects/1')).body)).toEqual([]);
  });

  test('deleting a project deletes its comments', async () => {
    const created = await submit(client, '/projects', {
      csrf_token: token,
      name: 'Short-lived',
      slug: 'short-lived',
      description: '',
    });
    const id = Number(/\/projects\/(\d+)$/.exec(created.res.headers.get('location')!)![1]);
    await comment(id, 'Soon gone');
    expect(await commentCount(id)).toBe(1);
    expect((await submit(client, `/projects/${id}/delete`, { csrf_token: token })).res.status).toBe(
      302,
    );
    expect(await commentCount(id)).toBe(0);
  });
});

describe('the live socket of a project', () => {
  test('an unknown project is refused at the handshake with a 404, nothing upgraded; so is a plain GET (426)', async () => {
    for (const [path, detail] of [
      ['/projects/999/live', 'There is no project 999.'],
      ['/projects/99999999999/live', undefined],
    ]) {
      const refused = await refusal(client.ws(path as string));
      expect(refused.status).toBe(404);
      expect(refused.headers['content-type']).toBe('application/problem+json');
      // An id past the column's range matches no route: the router's 404, before any middleware.
      expect(JSON.parse(refused.body)).toEqual({
        type: 'about:blank',
        title: 'Not Found',
        status: 404,
        ...(detail ? { detail } : {}),
      });
    }
    const plain = await client.get('/projects/1/live');
    expect(plain.status).toBe(426);
  });

  test('the viewer count goes 1 → 2 → 1 as sockets open and close, on that project only', async () => {
    const a = await open(client, 2, 1);
    const b = await open(client, 2, 2, true); // a visitor's page counts as well
    expect(await a.nextJson()).toEqual({ type: 'viewers', count: 2 });
    const other = await open(client, 1, 1); // another project: its own count, and nothing for project 2
    await silent(a, 100);
    await b.close();
    expect(await a.nextJson()).toEqual({ type: 'viewers', count: 1 });
    await silent(other);
    await silent(a, 50);
    await a.close();
    await other.close();
  });

  test('a comment posted through the form reaches both sockets as JSON; an edit reaches them; project 1 hears nothing of it', async () => {
    const a = await open(client, 2, 1, true);
    const b = await open(client, 2, 2);
    expect(await a.nextJson()).toEqual({ type: 'viewers', count: 2 });
    const elsewhere = await open(client, 1, 1);

    const id = await comment(2, 'Live <script>alert(1)</script>');
    for (const ws of [a, b]) {
      expect(await ws.nextJson()).toEqual({
        type: 'comment',
        comment: {
          id,
          body: 'Live <script>alert(1)</script>', // JSON: the page inserts it as text
          author: { id: 3, name: DEMO.name, url: '/users/3' },
          created_at: expect.any(String),
          created: expect.stringMatching(/ UTC$/),
        },
      });
    }

    const edit = await submit(client, '/projects/2/edit', {
      csrf_token: token,
      name: 'aiopg live',
      slug: 'aiopg',
      description: 'Edited while watched',
    });
    expect(edit.res.status).toBe(302);
    for (const ws of [a, b]) {
      expect(await ws.nextJson()).toEqual({
        type: 'project',
        project: { id: 2, name: 'aiopg live', slug: 'aiopg', description: 'Edited while watched' },
      });
    }
    // The API's edit too.
    const put = await client.put('/api/projects/2', {
      json: { name: 'aiopg', slug: 'aiopg', description: 'Accessing PostgreSQL from asyncio.' },
    });
    expect(put.status).toBe(200);
    for (const ws of [a, b]) {
      expect(await ws.nextJson()).toEqual({
        type: 'project',
        project: {
          id: 2,
          name: 'aiopg',
          slug: 'aiopg',
          description: 'Accessing PostgreSQL from asyncio.',
        },
      });
    }

    // Project 1's socket got none of it, and gets its own.
    await silent(elsewhere);
    const own = await comment(1, 'For project 1');
    expect(await elsewhere.nextJson()).toMatchObject({
      type: 'comment',
      comment: { id: own, body: 'For project 1' },
    });
    await silent(a, 100);
    await silent(b, 50);
    // What the page sends is ignored.
    await a.send('hello?');
    await silent(a, 100);
    for (const ws of [a, b, elsewhere])
      expect(await ws.close()).toEqual({ code: 1000, reason: '' });
  });

  test('?since= sends the project as it is and the comments after that one, once subscribed', async () => {
    const first = await comment(3, 'Missed one');
    const second = await comment(3, 'Missed two');
    const ws = await client.ws(`/projects/3/live?since=${first - 1}`);
    const got = [
      await ws.nextJson<LiveEvent>(),
      await ws.nextJson<LiveEvent>(),
      await ws.nextJson<LiveEvent>(),
      await ws.nextJson<LiveEvent>(),
    ];
    // The count comes through the hub, the rest straight from the handler: in either order.
    expect(got.filter((e) => e.type === 'viewers')).toEqual([{ type: 'viewers', count: 1 }]);
    expect(got.filter((e) => e.type !== 'viewers')).toEqual([
      {
        type: 'project',
        project: { id: 3, name: 'rororo', slug: 'rororo', description: expect.any(String) },
      },
      { type: 'comment', comment: expect.objectContaining({ id: first, body: 'Missed one' }) },
      { type: 'comment', comment: expect.objectContaining({ id: second, body: 'Missed two' }) },
    ]);
    await silent(ws, 100);
    await ws.close();
  });

  test('deleting the project tells its pages, then closes their sockets with 1000; its URL is refused from then on', async () => {
    const created = await submit(client, '/projects', {
      csrf_token: token,
      name: 'Doomed',
      slug: 'doomed',
      description: '',
    });
    const id = Number(/\/projects\/(\d+)$/.exec(created.res.headers.get('location')!)![1]);
    const ws = await open(client, id, 1);
    expect((await submit(client, `/projects/${id}/delete`, { csrf_token: token })).res.status).toBe(
      302,
    );
    expect(await ws.nextJson()).toEqual({ type: 'deleted' });
    expect(await ws.closed).toEqual({ code: 1000, reason: 'the project was deleted' });
    expect((await refusal(client.ws(`/projects/${id}/live`))).status).toBe(404);
  });

  test('the API deletes: the same', async () => {
    const res = await client.post('/api/projects', {
      json: { name: 'Doomed too', slug: 'doomed-too' },
    });
    const { id } = (await res.json()) as { id: number };
    const ws = await open(client, id, 1);
    expect((await client.delete(`/api/projects/${id}`)).status).toBe(204);
    expect(await ws.nextJson()).toEqual({ type: 'deleted' });
    expect((await ws.closed).code).toBe(1000);
  });
});

// Two workers: two apps on one database and one Redis. Without REDIS_URL, a redis-server of the suite's own.
const SHARED_REDIS = process.env.REDIS_URL || undefined;
const canRunRedis = SHARED_REDIS !== undefined || redisServerBinary() !== null;
if (!canRunRedis)
  console.warn(
    'sample-live.test.ts: the two-worker tests are SKIPPED: no REDIS_URL and no redis-server on PATH',
  );
const describeRedis = canRunRedis ? describe : describe.skip;

describeRedis('two workers on one Redis', () => {
  const prefix = `test-live-workers-${randomBytes(6).toString('hex')}:`;
  let own: RedisServer | undefined;
  let url: string;
  let admin: Redis;
  let one: TestClient;
  let two: TestClient;

  beforeAll(async () => {
    if (SHARED_REDIS === undefined) own = await RedisServer.start();
    url = SHARED_REDIS ?? own!.url;
    const settings: Partial<AppSettings> = { REDIS_URL: url, REDIS_PREFIX: prefix };
    one = await sampleClient(db.url, settings);
    two = await sampleClient(db.url, settings);
    admin = new Redis(url);
  });

  afterAll(async () => {
    admin?.disconnect();
    await one?.close();
    await two?.close();
    await own?.stop();
  });

  test('sockets on either worker count together, and a comment posted on one reaches sockets on both', async () => {
    const a = await open(one, 2, 1);
    const b = await open(two, 2, 2);
    expect(await a.nextJson()).toEqual({ type: 'viewers', count: 2 });
    const c = await open(two, 2, 3);
    expect(await a.nextJson()).toEqual({ type: 'viewers', count: 3 });
    expect(await b.nextJson()).toEqual({ type: 'viewers', count: 3 });

    const workerToken = await logIn(two);
    const posted = await two.post('/projects/2/comments', {
      headers: BROWSER,
      form: { csrf_token: workerToken, body: 'From worker two' },
    });
    expect(posted.status).toBe(302);
    for (const ws of [a, b, c])
      expect(await ws.nextJson()).toMatchObject({
        type: 'comment',
        comment: { body: 'From worker two' },
      });

    await a.close();
    for (const ws of [b, c]) expect(await ws.nextJson()).toEqual({ type: 'viewers', count: 2 });
    await b.close();
    expect(await c.nextJson()).toEqual({ type: 'viewers', count: 1 });
    await c.close();
    expect(await admin.exists(`${prefix}viewers:2`)).toBe(0);
  });

  test('viewers of a worker that died without leaving stop counting once their time is up', async () => {
    // What a crashed worker leaves behind: a member it no longer refreshes (its time is up), and one still counting.
    await admin.zadd(
      `${prefix}viewers:3`,
      String(Date.now() - 1),
      'dead-worker:1',
      String(Date.now() + 60_000),
      'live-worker:1',
    );
    const ws = await open(one, 3, 2);
    expect(await admin.zrange(`${prefix}viewers:3`, '0', '-1')).toEqual(
      expect.arrayContaining(['live-worker:1']),
    );
    expect(await admin.zscore(`${prefix}viewers:3`, 'dead-worker:1')).toBeNull();
    await ws.close();
    await admin.del(`${prefix}viewers:3`);
  });
});
