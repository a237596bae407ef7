import { createCipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createApp,
  Controller,
  Get,
  Post,
  Template,
  Request,
  EncryptedCookieStorage,
  sessions,
  getSession,
  newSession,
  flash,
  flashedMessages,
  html,
  immutableSettings,
  HTTPSeeOther,
  HTTPNotFound,
  RococoError,
  type Application,
  type EncryptedCookieOptions,
  templates,
} from '../src';
import { testClient, type TestClient } from '../src/testing';
import { memoryLogger, WARN } from './helpers/memory-logger';

const COOKIE = 'rococo_session';
const DAY = 24 * 3600;
const MAKE_KEY = `node -e "console.log(require('node:crypto').randomBytes(32).toString('base64'))"`;

const newKey = () => randomBytes(32).toString('base64');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What a constructor or createApp threw, to check its class, code and message. */
function thrown(build: () => unknown): RococoError {
  try {
    build();
  } catch (e) {
    expect(e).toBeInstanceOf(RococoError);
    return e as RococoError;
  }
  throw new Error('nothing was thrown');
}

/**
 * A cookie value sealed as EncryptedCookieStorage documents it: version 1, a 12-byte IV,
 * AES-256-GCM over the JSON payload with the cookie name as AAD, the 16-byte tag; base64url.
 */
function seal(key: string, payload: unknown, { name = COOKIE, version = 1 } = {}): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(key, 'base64'), iv);
  cipher.setAAD(Buffer.from(name));
  const body = Buffer.concat([cipher.update(JSON.stringify(payload), 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.of(version), iv, body, cipher.getAuthTag()]).toString('base64url');
}

/** The `Set-Cookie` line for `name`, or undefined. */
function setCookie(res: globalThis.Response, name = COOKIE): string | undefined {
  return res.headers.getSetCookie().find((l) => l.startsWith(`${name}=`));
}

/** The value a `Set-Cookie` line gives `name`. */
function cookieValue(res: globalThis.Response, name = COOKIE): string {
  const line = setCookie(res, name);
  if (line === undefined) throw new Error(`no Set-Cookie for ${name}`);
  return line.slice(name.length + 1).split(';')[0];
}

/** A cookie value with one byte (by index into the decoded bytes) flipped. */
function flipByte(value: string, index: number): string {
  const bytes = Buffer.from(value, 'base64url');
  const i = index < 0 ? bytes.length + index : index;
  bytes[i] ^= 0x01;
  return bytes.toString('base64url');
}

/** A redirect made once and thrown by every request that needs it, as apps do with constants. */
const GO_HOME = new HTTPSeeOther('/s/get');

interface SessionView {
  data: Record<string, unknown>;
  isNew: boolean;
  created: number;
  keys: string[];
}

@Controller('/s')
class SessionController {
  @Get('/untouched')
  untouched() {
    return { ok: true };
  }

  @Get('/get')
  async get(req: Request): Promise<SessionView> {
    const s = await getSession(req);
    return { data: s.toJSON(), isNew: s.isNew, created: s.created, keys: s.keys() };
  }

  @Post('/set')
  async set(req: Request) {
    const body = (await req.json()) as Record<string, unknown>;
    const s = await getSession(req);
    for (const k of Object.keys(body)) s.set(k, body[k]);
    return { data: s.toJSON(), isNew: s.isNew };
  }

  @Post('/delete/<key>')
  async remove(req: Request) {
    const s = await getSession(req);
    s.delete(req.params.key);
    return { data: s.toJSON(), has: s.has(req.params.key) };
  }

  @Post('/clear')
  async clear(req: Request) {
    const s = await getSession(req);
    s.clear();
    return { data: s.toJSON() };
  }

  @Post('/invalidate')
  async invalidate(req: Request) {
    (await getSession(req)).invalidate();
    return { ok: true };
  }

  @Post('/invalidate-then-set')
  async invalidateThenSet(req: Request) {
    const s = await getSession(req);
    s.invalidate();
    s.set('fresh', true);
    return { data: s.toJSON() };
  }

  @Post('/login/<user>')
  async login(req: Request) {
    const old = await getSession(req);
    const s = await newSession(req);
    s.set('user', req.params.user);
    return {
      isNew: s.isNew,
      data: s.toJSON(),
      same: old === s,
      again: (await getSession(req)) === s,
    };
  }

  @Post('/renew-empty')
  async renewEmpty(req: Request) {
    await newSession(req);
    return { ok: true };
  }

  @Post('/redirect')
  async redirect(req: Request) {
    const s = await getSession(req);
    s.set('after', 'redirect');
    const body =
      req.headers['content-type'] === undefined
        ? {}
        : ((await req.json()) as Record<string, unknown>);
    for (const k of Object.keys(body)) s.set(k, body[k]);
    throw new HTTPSeeOther('/s/get');
  }

  @Post('/shared-redirect/<user>')
  async sharedRedirect(req: Request) {
    if (req.params.user !== 'anonymous') (await getSession(req)).set('user', req.params.user);
    throw GO_HOME;
  }

  @Post('/not-found')
  async notFound(req: Request) {
    (await getSession(req)).set('seen', 404);
    throw new HTTPNotFound('gone');
  }

  @Post('/crash')
  async crash(req: Request) {
    (await getSession(req)).set('crashed', true);
    throw new Error('boom');
  }

  @Post('/own-cache-control')
  async ownCacheControl(req: Request) {
    (await getSession(req)).set('x', 1);
    return html('<p>ok</p>', { headers: { 'cache-control': 'no-cache' } });
  }

  @Post('/json-copies')
  async jsonCopies(req: Request) {
    const s = await getSession(req);
    const list = [1, 2];
    s.set('list', list);
    list.push(3); // after set: not in the session
    s.set('when', new Date(Date.UTC(2024, 0, 2, 3, 4, 5)));
    s.set('nested', { a: { b: [null, 'x'] }, skip: undefined });
    const errors: string[] = [];
    for (const bad of [undefined, () => 1, Symbol('s')]) {
      try {
        s.set('bad', bad);
      } catch (e) {
        errors.push(`${(e as Error).name}: ${(e as Error).message}`);
      }
    }
    return {
      list: s.get('list'),
      when: s.get('when'),
      nested: s.get('nested'),
      has: s.has('bad'),
      errors,
    };
  }

  @Post('/flash')
  flashAndRedirect(req: Request) {
    flash(req, 'Project saved', 'success');
    flash(req, 'Plain note');
    flash(req, '<b>bold</b>', 'warning');
    throw new HTTPSeeOther('/f/page');
  }

  @Post('/flash-json')
  flashOnly(req: Request) {
    flash(req, 'for the API', 'error');
    return { ok: true };
  }

  @Get('/flashed')
  async flashed(req: Request) {
    return { messages: await flashedMessages(req) };
  }
}

@Controller('/f')
class FlashPagesController {
  @Get('/page')
  @Template('messages.html')
  page() {
    return {};
  }

  @Get('/flash-and-render')
  @Template('messages.html')
  flashAndRender(req: Request) {
    flash(req, 'right now', 'info');
    return {};
  }
}

@Controller('/bare')
class BareController {
  @Get('/get')
  async get(req: Request) {
    await getSession(req);
    return { ok: true };
  }

  @Get('/flash')
  flash(req: Request) {
    flash(req, 'nowhere');
    return { ok: true };
  }
}

let templatesDir: string;

beforeAll(() => {
  templatesDir = mkdtempSync(join(tmpdir(), 'rococo-sessions-tpl-'));
  writeFileSync(
    join(templatesDir, 'messages.html'),
    '<ul>{% for m in messages %}<li class="{{ m.category }}">{{ m.message }}</li>{% endfor %}</ul>',
  );
});

afterAll(() => rmSync(templatesDir, { recursive: true, force: true }));

function sessionApp(
  keys: string | string[],
  options: EncryptedCookieOptions = {},
  extra: { logger?: ReturnType<typeof memoryLogger>['logger']; debug?: boolean } = {},
): Application {
  return createApp({
    controllers: [SessionController, FlashPagesController],
    middlewares: [sessions(new EncryptedCookieStorage(keys, options))],
    plugins: [templates({ dir: templatesDir })],
    settings: immutableSettings({ DEBUG: extra.debug ?? false }),
    ...(extra.logger ? { logger: extra.logger } : {}),
  });
}

async function view(
  client: TestClient,
  cookie?: string,
): Promise<SessionView & { res: globalThis.Response }> {
  const res = await client.get(
    '/s/get',
    cookie === undefined ? {} : { headers: { cookie: `${COOKIE}=${cookie}` } },
  );
  expect(res.status).toBe(200);
  return { ...((await res.json()) as SessionView), res };
}

describe('EncryptedCookieStorage: the cookie and the middleware', () => {
  const key = newKey();
  let client: TestClient;

  beforeEach(async () => {
    client = await testClient(sessionApp(key));
  });
  afterEach(() => client.close());

  test('a request that never asks for its session sets no cookie and no cache-control', async () => {
    const res = await client.get('/s/untouched');
    expect(res.status).toBe(200);
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(res.headers.get('cache-control')).toBeNull();
  });

  test('a session that is only read sets no cookie, new or not', async () => {
    const first = await view(client);
    expect(first).toMatchObject({ data: {}, isNew: true, keys: [] });
    expect(first.res.headers.getSetCookie()).toEqual([]);

    await client.post('/s/set', { json: { a: 1 } });
    const second = await view(client);
    expect(second.isNew).toBe(false);
    expect(second.res.headers.getSetCookie()).toEqual([]);
    expect(second.res.headers.get('cache-control')).toBeNull();
  });

  test('set: the cookie comes back, its attributes are the defaults, and the response is private', async () => {
    const before = Date.now();
    const res = await client.post('/s/set', {
      json: { user: 'ann', n: 3, list: [1, 'two'], obj: { deep: true } },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      data: { user: 'ann', n: 3, list: [1, 'two'], obj: { deep: true } },
      isNew: true,
    });
    const line = setCookie(res) as string;
    expect(line).toBeDefined();
    const attrs = line.split(/;\s*/).slice(1);
    expect(attrs).toEqual(
      expect.arrayContaining([`Max-Age=${14 * DAY}`, 'Path=/', 'HttpOnly', 'SameSite=Lax']),
    );
    expect(attrs).not.toContain('Secure'); // secure: 'auto', and the test server is plain http
    expect(line).not.toMatch(/Domain=/i);
    expect(res.headers.get('cache-control')).toBe('private, no-store');
    // The value is opaque: nothing of the data can be read in it.
    const value = cookieValue(res);
    expect(value).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Buffer.from(value, 'base64url').toString('latin1')).not.toContain('ann');

    const got = await view(client);
    expect(got.data).toEqual({ user: 'ann', n: 3, list: [1, 'two'], obj: { deep: true } });
    expect(got.keys.sort()).toEqual(['list', 'n', 'obj', 'user']);
    expect(got.isNew).toBe(false);
    expect(got.created).toBeGreaterThanOrEqual(before);
    expect(got.created).toBeLessThanOrEqual(Date.now());
  });

  test('created stays what it was when the session was made, across saves', async () => {
    await client.post('/s/set', { json: { a: 1 } });
    const { created } = await view(client);
    await sleep(15);
    const res = await client.post('/s/set', { json: { b: 2 } });
    expect(setCookie(res)).toBeDefined();
    const after = await view(client);
    expect(after.created).toBe(created);
    expect(after.data).toEqual({ a: 1, b: 2 });
  });

  test('each save encrypts afresh: the same data gives another cookie value', async () => {
    const one = cookieValue(await client.post('/s/set', { json: { a: 1 } }));
    const two = cookieValue(await client.post('/s/set', { json: { a: 1 } }));
    expect(two).not.toBe(one);
  });

  test('delete and has; deleting a key that is not there changes nothing', async () => {
    await client.post('/s/set', { json: { a: 1, b: 2 } });
    const res = await client.post('/s/delete/a');
    expect(await res.json()).toEqual({ data: { b: 2 }, has: false });
    expect(setCookie(res)).toBeDefined();
    expect((await view(client)).data).toEqual({ b: 2 });

    const none = await client.post('/s/delete/zzz');
    expect(await none.json()).toEqual({ data: { b: 2 }, has: false });
    expect(none.headers.getSetCookie()).toEqual([]);
  });

  test('clear empties the session and keeps its cookie', async () => {
    await client.post('/s/set', { json: { a: 1, b: 2 } });
    const { created } = await view(client);
    const res = await client.post('/s/clear');
    expect(await res.json()).toEqual({ data: {} });
    const line = setCookie(res) as string;
    expect(line).toMatch(new RegExp(`^${COOKIE}=[A-Za-z0-9_-]+;`));
    expect(line).toContain(`Max-Age=${14 * DAY}`);
    const after = await view(client);
    expect(after).toMatchObject({ data: {}, isNew: false, created });
  });

  test('values are copied through JSON at set()', async () => {
    const res = await client.post('/s/json-copies');
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.list).toEqual([1, 2]);
    expect(body.when).toBe('2024-01-02T03:04:05.000Z');
    expect(body.nested).toEqual({ a: { b: [null, 'x'] } });
    expect(body.has).toBe(false);
    expect(body.errors).toHaveLength(3);
    for (const e of body.errors)
      expect(e).toMatch(/^TypeError: session\.set\('bad'\): \w+ is not a JSON value$/);
    expect((await view(client)).data).toEqual({
      list: [1, 2],
      when: '2024-01-02T03:04:05.000Z',
      nested: { a: { b: [null, 'x'] } },
    });
  });

  test('a handler that redirects by throwing still saves the session', async () => {
    const res = await client.post('/s/redirect');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/s/get');
    expect(setCookie(res)).toBeDefined();
    expect(res.headers.get('cache-control')).toBe('private, no-store');
    expect((await view(client)).data).toEqual({ after: 'redirect' });
  });

  test("an HTTP error thrown by many requests never carries one request's cookie to another", async () => {
    const ann = await client.post('/s/shared-redirect/ann');
    expect(ann.status).toBe(303);
    expect(ann.headers.getSetCookie()).toHaveLength(1);
    expect((await view(client)).data).toEqual({ user: 'ann' });

    client.cookies.clear(); // another visitor, who has no session
    const other = await client.post('/s/shared-redirect/anonymous');
    expect(other.status).toBe(303);
    expect(other.headers.get('location')).toBe('/s/get');
    expect(other.headers.getSetCookie()).toEqual([]);
    expect(other.headers.get('cache-control')).toBeNull();
    expect(client.cookies.has(COOKIE)).toBe(false);
    expect(GO_HOME.headers).toEqual({ location: '/s/get' });

    const bob = await client.post('/s/shared-redirect/bob');
    expect(bob.headers.getSetCookie()).toHaveLength(1);
    expect((await view(client)).data).toEqual({ user: 'bob' });
  });

  test('another thrown HTTP error saves too; a crash (500) does not', async () => {
    const nf = await client.post('/s/not-found');
    expect(nf.status).toBe(404);
    expect(nf.headers.get('content-type')).toBe('application/problem+json');
    expect(setCookie(nf)).toBeDefined();
    expect((await view(client)).data).toEqual({ seen: 404 });

    const crash = await client.post('/s/crash');
    expect(crash.status).toBe(500);
    expect(crash.headers.getSetCookie()).toEqual([]);
    expect((await view(client)).data).toEqual({ seen: 404 });
  });

  test("a response's own cache-control is kept", async () => {
    const res = await client.post('/s/own-cache-control');
    expect(setCookie(res)).toBeDefined();
    expect(res.headers.get('cache-control')).toBe('no-cache');
  });

  test('invalidate clears the cookie; the next request has a new session', async () => {
    await client.post('/s/set', { json: { user: 'ann' } });
    expect(client.cookies.has(COOKIE)).toBe(true);
    const res = await client.post('/s/invalidate');
    expect(res.status).toBe(200);
    const line = setCookie(res) as string;
    expect(line).toMatch(new RegExp(`^${COOKIE}=;`));
    expect(line).toMatch(/Max-Age=0/);
    expect(line).toMatch(/Expires=Thu, 01 Jan 1970 00:00:00 GMT/);
    expect(line).toContain('Path=/');
    expect(res.headers.get('cache-control')).toBe('private, no-store');
    expect(client.cookies.has(COOKIE)).toBe(false);
    expect(await view(client)).toMatchObject({ data: {}, isNew: true });
  });

  test('invalidating a session that was never stored sends nothing', async () => {
    const res = await client.post('/s/invalidate');
    expect(res.status).toBe(200);
    expect(res.headers.getSetCookie()).toEqual([]);
  });

  test('set after invalidate in the same request keeps the session with only the new value', async () => {
    await client.post('/s/set', { json: { old: 1 } });
    const res = await client.post('/s/invalidate-then-set');
    expect(await res.json()).toEqual({ data: { fresh: true } });
    expect(cookieValue(res)).not.toBe('');
    expect((await view(client)).data).toEqual({ fresh: true });
  });

  test('newSession: a new, empty session with a new cookie; the old data is gone', async () => {
    const first = await client.post('/s/set', { json: { cart: [1, 2], user: 'anonymous' } });
    const oldValue = cookieValue(first);
    const { created: oldCreated } = await view(client);
    await sleep(15);

    const res = await client.post('/s/login/ann');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      isNew: true,
      data: { user: 'ann' },
      same: false,
      again: true,
    });
    const newValue = cookieValue(res);
    expect(newValue).not.toBe(oldValue);
    const after = await view(client);
    expect(after.data).toEqual({ user: 'ann' });
    expect(after.created).toBeGreaterThan(oldCreated);
  });

  test('newSession with nothing put in it clears the old cookie', async () => {
    await client.post('/s/set', { json: { user: 'ann' } });
    const res = await client.post('/s/renew-empty');
    const line = setCookie(res) as string;
    expect(line).toMatch(/Max-Age=0/);
    expect(client.cookies.has(COOKIE)).toBe(false);
    expect((await view(client)).isNew).toBe(true);
  });

  test('newSession on a request without a session sends nothing', async () => {
    const res = await client.post('/s/renew-empty');
    expect(res.headers.getSetCookie()).toEqual([]);
  });
});

describe('EncryptedCookieStorage: cookies that are not a live session of ours', () => {
  const key = newKey();
  let client: TestClient;
  let good: string;

  beforeAll(async () => {
    client = await testClient(sessionApp(key));
    good = cookieValue(await client.post('/s/set', { json: { user: 'ann', role: 'admin' } }));
    client.cookies.clear();
  });
  afterAll(() => client.close());

  test('the untouched cookie is read (the control for the cases below)', async () => {
    expect(await view(client, good)).toMatchObject({
      data: { user: 'ann', role: 'admin' },
      isNew: false,
    });
  });

  test.each([
    ['the version byte', 0],
    ['the first IV byte', 1],
    ['the last IV byte', 12],
    ['the first ciphertext byte', 13],
    ['a ciphertext byte in the middle', 20],
    ['the first tag byte', -16],
    ['the last tag byte', -1],
  ])('a flipped bit in %s gives a new, empty session', async (_what, index) => {
    const tampered = flipByte(good, index);
    expect(tampered).not.toBe(good);
    const got = await view(client, tampered);
    expect(got).toMatchObject({ data: {}, isNew: true });
    expect(got.res.headers.getSetCookie()).toEqual([]);
  });

  test.each([
    ['one character short', (v: string) => v.slice(0, -1)],
    [
      'without its tag',
      (v: string) => Buffer.from(v, 'base64url').subarray(0, -16).toString('base64url'),
    ],
    ['cut to 10 characters', (v: string) => v.slice(0, 10)],
    [
      'with bytes appended',
      (v: string) =>
        Buffer.concat([Buffer.from(v, 'base64url'), Buffer.from('xx')]).toString('base64url'),
    ],
  ])('a cookie %s gives a new session', async (_what, cut) => {
    expect(await view(client, cut(good))).toMatchObject({ data: {}, isNew: true });
  });

  test.each([
    ['plain text', 'hello'],
    ['characters outside base64url', 'abc.def+ghi/jkl=='],
    ['percent-encoded junk', '%00%ff%fe'],
    ['JSON', encodeURIComponent('{"user":"admin"}')],
    ['a very long value', 'A'.repeat(9000)],
    ['an empty value', ''],
  ])('garbage (%s) gives a new session, never a 500', async (_what, value) => {
    expect(await view(client, value)).toMatchObject({ data: {}, isNew: true });
  });

  test('a cookie made with another key gives a new session', async () => {
    const other = await testClient(sessionApp(newKey()));
    try {
      const foreign = cookieValue(await other.post('/s/set', { json: { user: 'mallory' } }));
      expect(await view(client, foreign)).toMatchObject({ data: {}, isNew: true });
    } finally {
      await other.close();
    }
  });

  test('a value is bound to its cookie name: the same key under another name does not read it', async () => {
    const renamed = await testClient(sessionApp(key, { name: 'other_session' }));
    try {
      const res = await renamed.get('/s/get', { headers: { cookie: `other_session=${good}` } });
      expect(await res.json()).toMatchObject({ data: {}, isNew: true });
    } finally {
      await renamed.close();
    }
  });

  test('a hand-sealed cookie in the documented format is read (the format the next tests forge)', async () => {
    const created = Date.now() - 60_000;
    const value = seal(key, { c: created, t: Date.now(), d: { forged: 'by the test' } });
    expect(await view(client, value)).toMatchObject({
      data: { forged: 'by the test' },
      isNew: false,
      created,
    });
  });

  test('a cookie saved longer ago than maxAge is refused on the server, whatever the browser kept', async () => {
    const now = Date.now();
    const stale = seal(key, {
      c: now - 20 * DAY * 1000,
      t: now - (14 * DAY + 60) * 1000,
      d: { user: 'ann' },
    });
    expect(await view(client, stale)).toMatchObject({ data: {}, isNew: true });
    const fresh = seal(key, {
      c: now - 20 * DAY * 1000,
      t: now - (14 * DAY - 60) * 1000,
      d: { user: 'ann' },
    });
    expect(await view(client, fresh)).toMatchObject({ data: { user: 'ann' }, isNew: false });
  });

  test.each([
    ['data that is an array', { c: 1, t: 'now', d: [] }],
    ['data that is null', { c: 1, t: 'now', d: null }],
    ['no saved-at time', { c: 1, d: {} }],
    ['no created time', { t: 'now', d: {} }],
    ['a string', 'just a string'],
  ] as [string, unknown][])(
    'a well-sealed payload with %s gives a new session',
    async (_what, payload) => {
      const p =
        typeof payload === 'object' && payload !== null && (payload as { t?: unknown }).t === 'now'
          ? { ...payload, t: Date.now() }
          : payload;
      expect(await view(client, seal(key, p))).toMatchObject({ data: {}, isNew: true });
    },
  );

  test('another version byte is refused even with a good seal', async () => {
    const value = seal(key, { c: 1, t: Date.now(), d: { v: 2 } }, { version: 2 });
    expect(await view(client, value)).toMatchObject({ data: {}, isNew: true });
  });

  test('a session from a refused cookie is saved as a new one when it changes', async () => {
    const res = await client.post('/s/set', {
      json: { mine: true },
      headers: { cookie: `${COOKIE}=${flipByte(good, 20)}` },
    });
    expect(await res.json()).toEqual({ data: { mine: true }, isNew: true });
    expect(await view(client, cookieValue(res))).toMatchObject({
      data: { mine: true },
      isNew: false,
    });
    client.cookies.clear();
  });
});

describe('EncryptedCookieStorage: expiry with a real wait', () => {
  let client: TestClient;

  beforeAll(async () => {
    client = await testClient(sessionApp(newKey(), { maxAge: 1 }));
  });
  afterAll(() => client.close());

  test('maxAge: 1 is the cookie Max-Age, and the server forgets the session after it', async () => {
    const res = await client.post('/s/set', { json: { user: 'ann' } });
    expect(setCookie(res)).toMatch(/Max-Age=1(;|$)/);
    expect((await view(client)).data).toEqual({ user: 'ann' });
    await sleep(1200);
    // The test client, unlike a browser, still sends the cookie: the server must refuse it.
    expect(client.cookies.has(COOKIE)).toBe(true);
    expect(await view(client)).toMatchObject({ data: {}, isNew: true });
  });
});

describe('EncryptedCookieStorage: cookie options', () => {
  test('name, path, sameSite, secure, domain, httpOnly and maxAge reach the Set-Cookie line', async () => {
    const client = await testClient(
      sessionApp(newKey(), {
        name: 'sid',
        path: '/s',
        sameSite: 'strict',
        secure: true,
        domain: 'example.test',
        httpOnly: false,
        maxAge: 3600,
      }),
    );
    try {
      const res = await client.post('/s/set', { json: { a: 1 } });
      const line = setCookie(res, 'sid') as string;
      expect(line).toBeDefined();
      expect(setCookie(res, COOKIE)).toBeUndefined();
      const attrs = line.split(/;\s*/).slice(1);
      expect(attrs).toEqual(
        expect.arrayContaining([
          'Max-Age=3600',
          'Path=/s',
          'SameSite=Strict',
          'Secure',
          'Domain=example.test',
        ]),
      );
      expect(attrs).not.toContain('HttpOnly');
      const got = await client.get('/s/get');
      expect(await got.json()).toMatchObject({ data: { a: 1 }, isNew: false });
    } finally {
      await client.close();
    }
  });

  test.each([
    [{ maxAge: 0 }, /maxAge/],
    [{ maxAge: 1.5 }, /maxAge/],
    [{ name: 'bad name' }, /not a valid cookie name/],
    [{ sameSite: 'none', secure: false } as EncryptedCookieOptions, /sameSite 'none'/],
    [{ nmae: 'typo' } as EncryptedCookieOptions, /unknown option 'nmae'/],
  ])('bad options %p stop construction with ROCOCO_OPTIONS', (options, message) => {
    const e = thrown(() => new EncryptedCookieStorage(newKey(), options));
    expect(e.code).toBe('ROCOCO_OPTIONS');
    expect(e.message).toMatch(message);
  });
});

describe('EncryptedCookieStorage: too large for a cookie', () => {
  let client: TestClient;
  let records: ReturnType<typeof memoryLogger>['records'];

  beforeAll(async () => {
    const log = memoryLogger('error');
    records = log.records;
    client = await testClient(sessionApp(newKey(), {}, { logger: log.logger }));
  });
  afterAll(() => client.close());

  test('a session that fits is saved', async () => {
    const res = await client.post('/s/set', { json: { blob: 'x'.repeat(2500) } });
    expect(res.status).toBe(200);
    expect(cookieValue(res).length).toBeLessThanOrEqual(4096);
  });

  test('a session over 4096 bytes is a 500 with ROCOCO_SESSION_TOO_LARGE logged, and no cookie', async () => {
    records.length = 0;
    const before = client.cookies.get(COOKIE);
    const res = await client.post('/s/set', { json: { blob: randomBytes(3000).toString('hex') } });
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(client.cookies.get(COOKIE)).toBe(before);
    const err = records.find((r) => r.err?.code === 'ROCOCO_SESSION_TOO_LARGE');
    expect(err).toBeDefined();
    expect(err?.err?.message).toMatch(/4096/);
    expect(err?.err?.message).toMatch(/RedisStorage/);
    // The session the browser holds is unharmed.
    expect((await view(client)).data).toEqual({ blob: 'x'.repeat(2500) });
  });

  test('also when the handler ends with a redirect', async () => {
    records.length = 0;
    const res = await client.post('/s/redirect', {
      json: { blob: randomBytes(3000).toString('hex') },
    });
    expect(res.status).toBe(500);
    expect(res.headers.get('location')).toBeNull();
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(records.some((r) => r.err?.code === 'ROCOCO_SESSION_TOO_LARGE')).toBe(true);
  });
});

describe('session keys', () => {
  test.each([
    ['too short', randomBytes(16).toString('base64'), /decodes to 16 bytes/],
    ['too long', randomBytes(48).toString('base64'), /decodes to 48 bytes/],
    ['not base64', 'not-a-key!', /is not base64/],
    ['a hex key', randomBytes(32).toString('hex'), /decodes to 48 bytes/],
  ])(
    'a key that is %s stops construction with ROCOCO_SESSION_KEYS and how to make one',
    (_what, key, reason) => {
      const e = thrown(() => new EncryptedCookieStorage(key));
      expect(e.code).toBe('ROCOCO_SESSION_KEYS');
      expect(e.message).toMatch(reason);
      expect(e.message).toContain(MAKE_KEY);
      // The message shows a prefix of the bad key at most, never all of it.
      if (key.length > 8) expect(e.message).not.toContain(key);
    },
  );

  test('a bad key anywhere in a list is refused, with its position', () => {
    const e = thrown(() => new EncryptedCookieStorage([newKey(), 'short']));
    expect(e.code).toBe('ROCOCO_SESSION_KEYS');
    expect(e.message).toMatch(/SESSION_KEYS\[1\]/);
    const notString = thrown(() => new EncryptedCookieStorage([newKey(), 42 as unknown as string]));
    expect(notString.message).toMatch(/SESSION_KEYS\[1\] is a number/);
  });

  test('url-safe base64 keys, and lists in a string separated by commas and spaces, are accepted', async () => {
    const k1 = randomBytes(32);
    const urlSafe = k1.toString('base64url');
    const client = await testClient(sessionApp(` ${urlSafe} ,  ${newKey()}\n${newKey()}`));
    try {
      const value = cookieValue(await client.post('/s/set', { json: { a: 1 } }));
      // The first key of the list encrypted it: a cookie sealed with its standard-base64 spelling reads the same.
      const reader = await testClient(sessionApp(k1.toString('base64')));
      try {
        expect(await view(reader, value)).toMatchObject({ data: { a: 1 }, isNew: false });
      } finally {
        await reader.close();
      }
    } finally {
      await client.close();
    }
  });

  test('key rotation: a cookie of the old key is still read, and saved again with the new key', async () => {
    const oldKey = newKey();
    const nextKey = newKey();
    const oldApp = await testClient(sessionApp(oldKey));
    const rotated = await testClient(sessionApp(`${nextKey}, ${oldKey}`));
    const newOnly = await testClient(sessionApp([nextKey]));
    const oldOnly = await testClient(sessionApp([oldKey]));
    try {
      const oldCookie = cookieValue(await oldApp.post('/s/set', { json: { user: 'ann' } }));
      expect(await view(newOnly, oldCookie)).toMatchObject({ data: {}, isNew: true }); // the control: the new key alone cannot read it

      const read = await view(rotated, oldCookie);
      expect(read).toMatchObject({ data: { user: 'ann' }, isNew: false });
      expect(read.res.headers.getSetCookie()).toEqual([]); // read only: nothing to save

      const res = await rotated.post('/s/set', {
        json: { visits: 2 },
        headers: { cookie: `${COOKIE}=${oldCookie}` },
      });
      expect(res.status).toBe(200);
      const resaved = cookieValue(res);
      expect(await view(newOnly, resaved)).toMatchObject({
        data: { user: 'ann', visits: 2 },
        isNew: false,
      });
      expect(await view(oldOnly, resaved)).toMatchObject({ data: {}, isNew: true });
    } finally {
      await Promise.all([oldApp, rotated, newOnly, oldOnly].map((c) => c.close()));
    }
  });

  test('no keys and DEBUG off: createApp stops with ROCOCO_SESSION_KEYS', () => {
    for (const keys of [undefined, null, '', ' , ', []] as const) {
      const e = thrown(() => sessionApp(keys as unknown as string));
      expect(e.code).toBe('ROCOCO_SESSION_KEYS');
      expect(e.message).toMatch(/DEBUG is off/);
      expect(e.message).toContain(MAKE_KEY);
    }
  });
});

describe('DEBUG without keys: a development key in a file', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rococo-devkey-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('is generated once (mode 0600, in a folder that git ignores) and reused with a warning', async () => {
    const file = join(dir, 'nested', 'keys', 'session-key');
    const first = memoryLogger('warn');
    const app1 = await testClient(
      sessionApp([], { developmentKeyFile: file }, { debug: true, logger: first.logger }),
    );
    let value: string;
    try {
      expect(existsSync(file)).toBe(true);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(readFileSync(join(dir, 'nested', 'keys', '.gitignore'), 'utf8')).toBe('*\n');
      const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
      expect(key).toHaveLength(32);
      const generated = first.records.filter(
        (r) => r.level === WARN && /generated a development key/.test(r.msg ?? ''),
      );
      expect(generated).toHaveLength(1);
      expect(generated[0].file).toBe(file);
      expect(generated[0].msg).toContain(MAKE_KEY);

      value = cookieValue(await app1.post('/s/set', { json: { user: 'dev' } }));
      // It really is the key in the file: a storage given that key reads the cookie.
      const reader = await testClient(sessionApp(key.toString('base64')));
      try {
        expect(await view(reader, value)).toMatchObject({ data: { user: 'dev' } });
      } finally {
        await reader.close();
      }
    } finally {
      await app1.close();
    }

    const content = readFileSync(file, 'utf8');
    const second = memoryLogger('warn');
    const app2 = await testClient(
      sessionApp([], { developmentKeyFile: file }, { debug: true, logger: second.logger }),
    );
    try {
      expect(readFileSync(file, 'utf8')).toBe(content); // not regenerated
      const reused = second.records.filter(
        (r) => r.level === WARN && /using the development key/.test(r.msg ?? ''),
      );
      expect(reused).toHaveLength(1);
      expect(reused[0].file).toBe(file);
      expect(await view(app2, value)).toMatchObject({ data: { user: 'dev' }, isNew: false }); // a restart keeps sessions
    } finally {
      await app2.close();
    }
  });

  test('the default file is .rococo/session-key under the working directory', async () => {
    const cwd = process.cwd();
    let storage: EncryptedCookieStorage;
    process.chdir(dir);
    try {
      storage = new EncryptedCookieStorage(undefined);
    } finally {
      process.chdir(cwd);
    }
    const { logger } = memoryLogger('warn');
    createApp({
      controllers: [SessionController],
      middlewares: [sessions(storage)],
      settings: immutableSettings({ DEBUG: true }),
      logger,
    });
    const file = join(dir, '.rococo', 'session-key');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64')).toHaveLength(32);
    expect(readFileSync(join(dir, '.rococo', '.gitignore'), 'utf8')).toBe('*\n');
  });

  test("a key file put in a folder that has a .gitignore leaves that file's lines alone, and is ignored", async () => {
    const gitignore = join(dir, '.gitignore');
    writeFileSync(gitignore, 'node_modules/\ndist/\n');
    const file = join(dir, 'dev-session.key');
    sessionApp([], { developmentKeyFile: file }, { debug: true, logger: memoryLogger().logger });
    expect(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64')).toHaveLength(32);
    const lines = readFileSync(gitignore, 'utf8').split('\n');
    expect(lines).toEqual(expect.arrayContaining(['node_modules/', 'dist/']));
    expect(lines).not.toContain('*'); // the project's own files are not all ignored
    expect(lines).toContain('/dev-session.key');
    // Made again (the file removed), the line is not added twice.
    rmSync(file);
    sessionApp([], { developmentKeyFile: file }, { debug: true, logger: memoryLogger().logger });
    expect(
      readFileSync(gitignore, 'utf8')
        .split('\n')
        .filter((l) => l === '/dev-session.key'),
    ).toHaveLength(1);
  });

  test('explicit keys win: no file is written even under DEBUG', async () => {
    const file = join(dir, 'session-key');
    sessionApp(
      newKey(),
      { developmentKeyFile: file },
      { debug: true, logger: memoryLogger().logger },
    );
    expect(existsSync(file)).toBe(false);
  });

  test('DEBUG off never writes a key file', () => {
    const file = join(dir, 'session-key');
    const e = thrown(() => sessionApp([], { developmentKeyFile: file }));
    expect(e.code).toBe('ROCOCO_SESSION_KEYS');
    expect(existsSync(file)).toBe(false);
  });
});

describe('without the sessions middleware', () => {
  let client: TestClient;
  let records: ReturnType<typeof memoryLogger>['records'];

  beforeAll(async () => {
    const log = memoryLogger('error');
    records = log.records;
    client = await testClient(
      createApp({
        controllers: [BareController],
        logger: log.logger,
        settings: immutableSettings({ DEBUG: true }),
      }),
    );
  });
  afterAll(() => client.close());

  test.each([
    ['getSession', '/bare/get'],
    ['flash', '/bare/flash'],
  ])('%s is a 500 whose error says how to install the middleware', async (caller, path) => {
    records.length = 0;
    const res = await client.get(path);
    expect(res.status).toBe(500);
    const body = await res.json();
    expect(body.detail).toMatch(
      new RegExp(`^ROCOCO_SESSION: ${caller}: this request has no sessions`),
    );
    expect(body.detail).toContain(
      'createApp({ middlewares: [sessions(new EncryptedCookieStorage(settings.SESSION_KEYS))] })',
    );
    expect(records.some((r) => r.err?.code === 'ROCOCO_SESSION')).toBe(true);
  });

  test('sessions() refuses something that is not a storage', () => {
    const e = thrown(() => sessions({} as unknown as EncryptedCookieStorage));
    expect(e.code).toBe('ROCOCO_OPTIONS');
  });
});

describe('flash messages', () => {
  let client: TestClient;

  beforeEach(async () => {
    client = await testClient(sessionApp(newKey()));
  });
  afterEach(() => client.close());

  const items = (page: string) =>
    [...page.matchAll(/<li class="([^"]*)">(.*?)<\/li>/g)].map((m) => [m[1], m[2]]);

  test('flashed before a redirect, listed once in the next page, escaped, in order', async () => {
    const res = await client.post('/s/flash');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/f/page');
    expect(setCookie(res)).toBeDefined();

    const page = await client.get('/f/page');
    expect(page.status).toBe(200);
    const text = await page.text();
    expect(items(text)).toEqual([
      ['success', 'Project saved'],
      ['info', 'Plain note'],
      ['warning', '&lt;b&gt;bold&lt;/b&gt;'],
    ]);
    expect(text).not.toContain('<b>');
    expect(setCookie(page)).toBeDefined(); // shown, so removed from the session

    const again = await client.get('/f/page');
    expect(await again.text()).toBe('<ul></ul>');
    expect(again.headers.getSetCookie()).toEqual([]);
  });

  test('messages pile up until shown', async () => {
    await client.post('/s/flash');
    await client.post('/s/flash-json');
    expect(items(await (await client.get('/f/page')).text()).map(([c]) => c)).toEqual([
      'success',
      'info',
      'warning',
      'error',
    ]);
  });

  test('flashed and rendered in one request: shown, and nothing is stored', async () => {
    const res = await client.get('/f/flash-and-render');
    expect(items(await res.text())).toEqual([['info', 'right now']]);
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(await (await client.get('/f/page')).text()).toBe('<ul></ul>');
  });

  test('a page without a session gets an empty list and sets no cookie', async () => {
    const res = await client.get('/f/page');
    expect(await res.text()).toBe('<ul></ul>');
    expect(res.headers.getSetCookie()).toEqual([]);
  });

  test('flashedMessages takes them for a JSON handler, once', async () => {
    await client.post('/s/flash-json');
    const first = await client.get('/s/flashed');
    expect(await first.json()).toEqual({
      messages: [{ message: 'for the API', category: 'error' }],
    });
    expect(setCookie(first)).toBeDefined();
    expect(await (await client.get('/s/flashed')).json()).toEqual({ messages: [] });
    // The rest of the session is kept.
    expect((await view(client)).data).toEqual({});
  });

  test('flash messages live in the session next to other data, and leave it alone', async () => {
    await client.post('/s/set', { json: { user: 'ann' } });
    await client.post('/s/flash');
    await client.get('/f/page');
    expect((await view(client)).data).toEqual({ user: 'ann' });
  });
});
