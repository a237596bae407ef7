import { Client } from 'pg';
import { createSampleApp } from '../sample/app';
import { loadSettings } from '../sample/settings';
import type { TestClient } from '../src/testing';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import {
  BROWSER,
  csrfToken,
  csrfTokenIn,
  DEMO,
  logIn,
  register,
  sampleClient,
  TEST_SESSION_MAX_AGE,
} from './helpers/sample';

/**
 * Accounts in the sample end to end: logging in and out, registering, who may add, change and
 * delete projects, CSRF, and where a login may redirect to. Real HTTP, a real PostgreSQL
 * database of this suite's own; sessions in Redis when REDIS_URL is set, else in encrypted
 * cookies (the last describe runs both). Each test that needs a fresh browser gets a client of
 * its own (its own cookie jar) on an app of its own over the same database.
 */

let db: TestDatabase;
let pg: Client;
const clients: TestClient[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  await (await browser()).get('/'); // the first app migrates and seeds the database
  pg = new Client({ connectionString: db.url });
  await pg.connect();
});

afterAll(async () => {
  await pg?.end();
  for (const c of clients) await c.close();
  await db?.drop();
});

/** A new browser: a client with an empty cookie jar, on an app of its own. */
async function browser(overrides: Parameters<typeof sampleClient>[1] = {}): Promise<TestClient> {
  const c = await sampleClient(db.url, overrides);
  clients.push(c);
  return c;
}

async function page(
  c: TestClient,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ res: globalThis.Response; body: string }> {
  const res = await c.get(path, { headers: { ...BROWSER, ...headers } });
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

/** Whitespace runs as one space, for markup a template spreads over lines. */
function squash(html: string): string {
  return html.replace(/\s+/g, ' ');
}

/** The flash messages of a page, as [category, text]. */
function flashes(body: string): [string, string][] {
  return [...body.matchAll(/<p class="flash flash-(\w+)" role="status">([^<]*)<\/p>/g)].map((m) => [
    m[1],
    m[2],
  ]);
}

/** Who the header says is logged in: their name, or null when it offers Log in and Register. */
function whoami(body: string): string | null {
  const name = /<a class="whoami" href="\/users\/\d+">([^<]*)<\/a>/.exec(body)?.[1] ?? null;
  const anonymous = body.includes('<a href="/login" ') && body.includes('<a href="/register" ');
  expect(anonymous).toBe(name === null);
  expect(body.includes('<form class="logout" method="post" action="/logout">')).toBe(name !== null);
  return name;
}

/** The hidden `next` field of the login or register form, if it has one. */
function nextField(body: string): string | undefined {
  return /<input type="hidden" name="next" value="([^"]*)">/.exec(body)?.[1];
}

function expectErrorPage(
  res: globalThis.Response,
  body: string,
  status: number,
  detail: RegExp,
): void {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
  expect(body).toContain(`<p class="error-code">${status}</p>`);
  expect(body).toMatch(detail);
}

async function projectRow(
  id: number,
): Promise<{ name: string; slug: string; owner_id: number | null } | undefined> {
  const { rows } = await pg.query('SELECT name, slug, owner_id FROM projects WHERE id = $1', [id]);
  return rows[0];
}

describe('logging in', () => {
  test('the login page: a form with the CSRF token, email and password, and the demo account', async () => {
    const c = await browser();
    const { res, body } = await page(c, '/login');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(body).toContain('<title>Log in · Rococo Tracker</title>');
    expect(squash(body)).toMatch(
      /<form class="form" method="post" action="\/login" novalidate> <input type="hidden" name="csrf_token" value="[\w-]{86}">/,
    );
    expect(body).toContain(
      '<input id="email" name="email" type="email" value="" autocomplete="username" required autofocus>',
    );
    expect(body).toContain(
      '<input id="password" name="password" type="password" autocomplete="current-password" required>',
    );
    expect(body).toContain('demo@example.com / demo');
    expect(body).toContain('<a href="/register">Create an account</a>');
    expect(nextField(body)).toBeUndefined();
    expect(whoami(body)).toBeNull();
    // The token's secret lives in the session: the page starts one, and no cache may keep it.
    expect(res.headers.get('set-cookie')).toMatch(
      new RegExp(
        `^rococo_session=[\\w-]+; Max-Age=${TEST_SESSION_MAX_AGE}; Path=/; HttpOnly; SameSite=Lax$`,
      ),
    );
    expect(res.headers.get('cache-control')).toBe('private, no-store');
  });

  test('the demo account logs in: a 303 to the index with a new session, a welcome shown once, the name in the header', async () => {
    const c = await browser();
    const token = await csrfToken(c, '/login');
    const before = c.cookies.get('rococo_session');
    const { res, body } = await submit(c, '/login', {
      csrf_token: token,
      email: DEMO.email,
      password: DEMO.password,
    });
    expect(res.status).toBe(303);
    expect(body).toBe('');
    expect(res.headers.get('location')).toBe('/');
    expect(c.cookies.get('rococo_session')).not.toBe(before);

    const index = await page(c, '/');
    expect(whoami(index.body)).toBe('Demo User');
    expect(index.body).toContain('<a class="whoami" href="/users/3">Demo User</a>');
    expect(flashes(index.body)).toEqual([['success', 'Welcome back, Demo User.']]);
    // Shown once.
    const again = await page(c, '/');
    expect(flashes(again.body)).toEqual([]);
    expect(whoami(again.body)).toBe('Demo User');
    // Every page knows the user.
    expect(whoami((await page(c, '/projects')).body)).toBe('Demo User');
  });

  test('the email is matched whatever its case, and around spaces', async () => {
    const c = await browser();
    await logIn(c, '  DEMO@Example.COM ', DEMO.password);
    expect(whoami((await page(c, '/')).body)).toBe('Demo User');
  });

  test('a wrong password, an unknown email, an account without a password: 401, the form again, not logged in', async () => {
    const c = await browser();
    const token = await csrfToken(c, '/login');
    for (const [email, password] of [
      [DEMO.email, 'Demo'],
      ['nobody@example.com', 'demo'],
      ['igor@example.com', ''.padEnd(8, 'x')], // seeded before accounts: no password, cannot log in
    ]) {
      const { res, body } = await submit(c, '/login', { csrf_token: token, email, password });
      expect(res.status).toBe(401);
      expect(body).toContain(
        '<p class="flash flash-error" role="alert">Wrong email or password.</p>',
      );
      expect(body).toContain(`<input id="email" name="email" type="email" value="${email}"`);
      expect(body).not.toContain(`value="${password}"`);
      expect(whoami(body)).toBeNull();
    }
    expect(whoami((await page(c, '/')).body)).toBeNull();
  });

  test('a blank email or password: 422 and the form again', async () => {
    const c = await browser();
    const token = await csrfToken(c, '/login');
    const { res, body } = await submit(c, '/login', {
      csrf_token: token,
      email: ' ',
      password: '',
    });
    expect(res.status).toBe(422);
    expect(body).toContain(
      '<p class="flash flash-error" role="alert">Enter your email and your password.</p>',
    );
  });

  test('an unknown email takes about as long to refuse as a wrong password (a dummy hash is checked)', async () => {
    const c = await browser();
    const token = await csrfToken(c, '/login');
    const time = async (email: string) => {
      const start = process.hrtime.bigint();
      expect(
        (await submit(c, '/login', { csrf_token: token, email, password: 'wrong password' })).res
          .status,
      ).toBe(401);
      return Number(process.hrtime.bigint() - start) / 1e6;
    };
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 5; i++) {
      known.push(await time(DEMO.email));
      unknown.push(await time(`nobody-${i}@example.com`));
    }
    // scrypt is tens of ms; a lookup alone would be a few. Loose bounds: the machine is noisy.
    expect(median(known)).toBeGreaterThan(10);
    expect(median(unknown) / median(known)).toBeGreaterThan(0.4);
    expect(median(unknown) / median(known)).toBeLessThan(2.5);
  });

  test('the session of before the login is not logged in (session fixation)', async () => {
    const c = await browser();
    await csrfToken(c, '/login');
    const planted = c.cookies.get('rococo_session') as string;
    expect(planted).toBeDefined();
    await logIn(c);
    expect(c.cookies.get('rococo_session')).not.toBe(planted);
    const { body } = await page(c, '/', { cookie: `rococo_session=${planted}` });
    expect(whoami(body)).toBeNull();
  });

  test('the login page of a logged-in user goes on to next, or the index', async () => {
    const c = await browser();
    await logIn(c);
    const res = await c.get('/login', { headers: BROWSER });
    expect([res.status, res.headers.get('location')]).toEqual([303, '/']);
    const next = await c.get('/login?next=%2Fprojects%2F2', { headers: BROWSER });
    expect([next.status, next.headers.get('location')]).toEqual([303, '/projects/2']);
    const register = await c.get('/register', { headers: BROWSER });
    expect([register.status, register.headers.get('location')]).toEqual([303, '/']);
  });
});

describe('logging out', () => {
  test('POST /logout: a 303 to the index, a message shown once, the header offers Log in again', async () => {
    const c = await browser();
    const token = await logIn(c);
    const { res, body } = await submit(c, '/logout', { csrf_token: token });
    expect(res.status).toBe(303);
    expect(body).toBe('');
    expect(res.headers.get('location')).toBe('/');
    const index = await page(c, '/');
    expect(whoami(index.body)).toBeNull();
    expect(flashes(index.body)).toEqual([['info', 'You are logged out.']]);
    expect(flashes((await page(c, '/')).body)).toEqual([]);
    // Adding needs a login again.
    const add = await c.get('/projects/new', { headers: BROWSER });
    expect(add.status).toBe(303);
  });

  test('the session of before the logout is not logged in any more (Redis sessions: it is deleted)', async () => {
    const c = await browser();
    const token = await logIn(c);
    const loggedIn = c.cookies.get('rococo_session') as string;
    await submit(c, '/logout', { csrf_token: token });
    expect(c.cookies.get('rococo_session')).not.toBe(loggedIn);
    const { body } = await page(c, '/', { cookie: `rococo_session=${loggedIn}` });
    // An encrypted cookie holds the whole session, so a copy kept from before the logout still
    // decrypts: only server-side sessions can be revoked.
    expect(whoami(body)).toBe(process.env.REDIS_URL ? null : 'Demo User');
  });

  test('GET /logout is not a way to log out (405): a link or an image could do it', async () => {
    const c = await browser();
    await logIn(c);
    const res = await c.get('/logout', { headers: BROWSER });
    expect(res.status).toBe(405);
    expect(whoami((await page(c, '/')).body)).toBe('Demo User');
  });
});

describe('registering', () => {
  test('the form: name, email, password, the CSRF token', async () => {
    const c = await browser();
    const { res, body } = await page(c, '/register');
    expect(res.status).toBe(200);
    expect(body).toContain('<title>Create an account · Rococo Tracker</title>');
    expect(squash(body)).toMatch(
      /<form class="form" method="post" action="\/register" novalidate> <input type="hidden" name="csrf_token" value="[\w-]{86}">/,
    );
    expect(body).toContain(
      '<input id="display_name" name="display_name" value="" maxlength="64" autocomplete="name" required >',
    );
    expect(body).toContain(
      '<input id="email" name="email" type="email" value="" maxlength="254" autocomplete="username" required >',
    );
    expect(body).toContain(
      '<input id="password" name="password" type="password" autocomplete="new-password" required >',
    );
    expect(body).toContain('<a href="/login">I have an account</a>');
  });

  test('a new account is logged in at once, welcomed, and can log in again with its password, stored as scrypt', async () => {
    const c = await browser();
    const token = await csrfToken(c, '/register');
    const { res } = await submit(c, '/register', {
      csrf_token: token,
      display_name: '  Ada Lovelace ',
      email: 'Ada@Example.com',
      password: 'analytical engine',
    });
    expect([res.status, res.headers.get('location')]).toEqual([303, '/']);
    const index = await page(c, '/');
    expect(whoami(index.body)).toBe('Ada Lovelace');
    expect(flashes(index.body)).toEqual([
      ['success', 'Welcome, Ada Lovelace: your account is ready.'],
    ]);

    const { rows } = await pg.query(
      "SELECT email, display_name, password_hash FROM users WHERE lower(email) = 'ada@example.com'",
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ email: 'Ada@Example.com', display_name: 'Ada Lovelace' });
    expect(rows[0].password_hash).toMatch(
      /^scrypt\$32768\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/,
    );

    const again = await browser();
    await logIn(again, 'ada@example.com', 'analytical engine');
    expect(whoami((await page(again, '/')).body)).toBe('Ada Lovelace');
  });

  test('an email that has an account, in any case: 409, the message under the email, nothing added', async () => {
    const c = await browser();
    const token = await csrfToken(c, '/register');
    const { rows: before } = await pg.query('SELECT count(*)::int AS n FROM users');
    for (const email of ['DEMO@example.com', 'igor@example.com']) {
      const { res, body } = await submit(c, '/register', {
        csrf_token: token,
        display_name: 'Copy Cat',
        email,
        password: 'long enough',
      });
      expect(res.status).toBe(409);
      expect(squash(body)).toContain(
        `<input id="email" name="email" type="email" value="${email}" maxlength="254" autocomplete="username" required aria-invalid="true"> <p class="field-error">An account with this email already exists.</p>`,
      );
      expect(body).toContain('<input id="display_name" name="display_name" value="Copy Cat"');
      expect(body).not.toContain('long enough');
      expect(whoami(body)).toBeNull();
    }
    const { rows: after } = await pg.query('SELECT count(*)::int AS n FROM users');
    expect(after[0].n).toBe(before[0].n);
  });

  test('invalid fields: 422, a message under each, what was typed (not the password), nothing added', async () => {
    const c = await browser();
    const token = await csrfToken(c, '/register');
    const { res, body } = await submit(c, '/register', {
      csrf_token: token,
      display_name: '   ',
      email: 'not an <email>',
      password: 'short',
    });
    expect(res.status).toBe(422);
    expect(body).toContain(
      '<p class="flash flash-error" role="alert">Please correct the fields below.</p>',
    );
    expect(body).toContain('<p class="field-error">Give your name, 1 to 64 characters.</p>');
    expect(body).toContain(
      '<p class="field-error">Give an email address, such as ada@example.com.</p>',
    );
    expect(body).toContain('<p class="field-error">Choose a password of 8 to 200 characters.</p>');
    expect(body).toContain('value="not an &lt;email&gt;"');
    expect(body).not.toContain('short');
    expect(body.match(/class="field-error"/g)).toHaveLength(3);
    const missing = await submit(c, '/register', { csrf_token: token });
    expect(missing.res.status).toBe(422);
    expect(missing.body.match(/class="field-error"/g)).toHaveLength(3);
    const { rows } = await pg.query(
      "SELECT count(*)::int AS n FROM users WHERE email LIKE 'not an%'",
    );
    expect(rows[0].n).toBe(0);
  });

  test('next goes along from the login page to the register page, and back after registering', async () => {
    const c = await browser();
    const login = await page(c, '/login?next=%2Fprojects%2Fnew');
    expect(login.body).toContain(
      '<a href="/register?next=%2Fprojects%2Fnew">Create an account</a>',
    );
    const form = await page(c, '/register?next=%2Fprojects%2Fnew');
    expect(nextField(form.body)).toBe('/projects/new');
    expect(form.body).toContain('<a href="/login?next=%2Fprojects%2Fnew">I have an account</a>');
    const { res } = await submit(c, '/register', {
      csrf_token: csrfTokenIn(form.body) as string,
      next: '/projects/new',
      display_name: 'Grace Hopper',
      email: 'grace@example.com',
      password: 'compilers rule',
    });
    expect([res.status, res.headers.get('location')]).toEqual([303, '/projects/new']);
    const add = await page(c, '/projects/new');
    expect(add.res.status).toBe(200);
    expect(whoami(add.body)).toBe('Grace Hopper');
  });
});

describe('adding needs a login', () => {
  test('a visitor asking for the form is sent to log in (303) and comes back to it, then adds a project they own', async () => {
    const c = await browser();
    const res = await c.get('/projects/new', { headers: BROWSER });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/login?next=%2Fprojects%2Fnew');

    const login = await page(c, res.headers.get('location') as string);
    expect(nextField(login.body)).toBe('/projects/new');
    const { res: done } = await submit(c, '/login', {
      csrf_token: csrfTokenIn(login.body) as string,
      next: '/projects/new',
      email: DEMO.email,
      password: DEMO.password,
    });
    expect([done.status, done.headers.get('location')]).toEqual([303, '/projects/new']);

    const form = await page(c, '/projects/new');
    expect(form.res.status).toBe(200);
    expect(flashes(form.body)).toEqual([['success', 'Welcome back, Demo User.']]);
    const added = await submit(c, '/projects', {
      csrf_token: csrfTokenIn(form.body) as string,
      name: 'After login',
      slug: 'after-login',
      description: '',
    });
    expect(added.res.status).toBe(302);
    const id = Number(/^\/projects\/(\d+)$/.exec(added.res.headers.get('location') as string)?.[1]);
    expect(await projectRow(id)).toEqual({ name: 'After login', slug: 'after-login', owner_id: 3 });
    const shown = await page(c, `/projects/${id}`);
    expect(flashes(shown.body)).toEqual([['success', 'Project “After login” was added.']]);
  });

  test('a visitor posting the form (with a valid token) is sent to log in, and nothing is added', async () => {
    const c = await browser();
    const token = await csrfToken(c, '/login');
    const { res } = await submit(c, '/projects', {
      csrf_token: token,
      name: 'Anonymous',
      slug: 'anonymous',
      description: '',
    });
    expect([res.status, res.headers.get('location')]).toEqual([
      303,
      '/login?next=%2Fprojects%2Fnew',
    ]);
    const { rows } = await pg.query(
      "SELECT count(*)::int AS n FROM projects WHERE slug = 'anonymous'",
    );
    expect(rows[0].n).toBe(0);
  });

  test('a visitor is sent to log in for the edit form, an edit and a delete; nothing changes', async () => {
    const c = await browser();
    const token = await csrfToken(c, '/login');
    const before = await projectRow(2);
    const edit = await c.get('/projects/2/edit', { headers: BROWSER });
    expect([edit.status, edit.headers.get('location')]).toEqual([
      303,
      '/login?next=%2Fprojects%2F2%2Fedit',
    ]);
    const update = await submit(c, '/projects/2/edit', {
      csrf_token: token,
      name: 'Hijacked',
      slug: 'hijacked',
      description: '',
    });
    expect([update.res.status, update.res.headers.get('location')]).toEqual([
      303,
      '/login?next=%2Fprojects%2F2',
    ]);
    const remove = await submit(c, '/projects/2/delete', { csrf_token: token });
    expect([remove.res.status, remove.res.headers.get('location')]).toEqual([
      303,
      '/login?next=%2Fprojects%2F2',
    ]);
    expect(await projectRow(2)).toEqual(before);
  });

  test('a visitor sees no edit or delete on a project page', async () => {
    const c = await browser();
    const { body } = await page(c, '/projects/2');
    expect(body).not.toContain('/projects/2/edit');
    expect(body).not.toContain('/projects/2/delete');
    expect(csrfTokenIn(body)).toBeUndefined();
  });
});

describe('only the owner changes a project', () => {
  test('the owner edits and deletes their project', async () => {
    const c = await browser();
    const token = await logIn(c);
    const added = await submit(c, '/projects', {
      csrf_token: token,
      name: 'Owned',
      slug: 'owned',
      description: '',
    });
    const id = Number(/(\d+)$/.exec(added.res.headers.get('location') as string)?.[1]);
    const form = await page(c, `/projects/${id}/edit`);
    expect(form.res.status).toBe(200);
    const edited = await submit(c, `/projects/${id}/edit`, {
      csrf_token: token,
      name: 'Owned still',
      slug: 'owned',
      description: 'mine',
    });
    expect([edited.res.status, edited.res.headers.get('location')]).toEqual([
      302,
      `/projects/${id}`,
    ]);
    expect(await projectRow(id)).toEqual({ name: 'Owned still', slug: 'owned', owner_id: 3 });
    const deleted = await submit(c, `/projects/${id}/delete`, { csrf_token: token });
    expect([deleted.res.status, deleted.res.headers.get('location')]).toEqual([302, '/projects']);
    expect(await projectRow(id)).toBeUndefined();
  });

  test('another user gets a 403 page for the edit form, an edit and a delete, and sees no buttons; nothing changes', async () => {
    const c = await browser();
    const token = await register(c, 'Eve Other', 'eve@example.com');
    const before = await projectRow(2);
    const shown = await page(c, '/projects/2');
    expect(shown.res.status).toBe(200);
    expect(shown.body).not.toContain('/projects/2/edit');
    expect(shown.body).not.toContain('/projects/2/delete');

    const detail = /<p class="lead">Only the owner of “aiopg” can change or delete it.<\/p>/;
    const form = await page(c, '/projects/2/edit');
    expectErrorPage(form.res, form.body, 403, detail);
    const edit = await submit(c, '/projects/2/edit', {
      csrf_token: token,
      name: 'Hijacked',
      slug: 'hijacked',
      description: '',
    });
    expectErrorPage(edit.res, edit.body, 403, detail);
    const remove = await submit(c, '/projects/2/delete', { csrf_token: token });
    expectErrorPage(remove.res, remove.body, 403, detail);
    expect(await projectRow(2)).toEqual(before);
    // The 403 page still knows who is logged in.
    expect(whoami(remove.body)).toBe('Eve Other');
  });

  test('the demo user may not change the seeded projects of others', async () => {
    const c = await browser();
    const token = await logIn(c);
    const { res, body } = await submit(c, '/projects/1/delete', { csrf_token: token });
    expectErrorPage(res, body, 403, /Only the owner of “aiohttp.web” can change or delete it./);
    expect(await projectRow(1)).toMatchObject({ owner_id: 1 });
  });
});

describe('CSRF', () => {
  test('a form posted without the token is a 403 page, and does nothing', async () => {
    const c = await browser();
    await logIn(c);
    const before = await projectRow(2);
    const { res, body } = await submit(c, '/projects/2/edit', {
      name: 'Forged',
      slug: 'forged',
      description: '',
    });
    expectErrorPage(
      res,
      body,
      403,
      /<p class="lead">CSRF token missing: send it in the form field &#39;csrf_token&#39; or the X-CSRF-Token header<\/p>/,
    );
    expect(await projectRow(2)).toEqual(before);
    const add = await submit(c, '/projects', { name: 'Forged', slug: 'forged', description: '' });
    expect(add.res.status).toBe(403);
    const logout = await submit(c, '/logout', {});
    expect(logout.res.status).toBe(403);
    expect(whoami((await page(c, '/')).body)).toBe('Demo User');
  });

  test("another session's token, or the token of before the login, is refused", async () => {
    const attacker = await browser();
    const theirs = await csrfToken(attacker, '/login');
    const c = await browser();
    const beforeLogin = await csrfToken(c, '/login');
    await logIn(c);
    for (const token of [theirs, beforeLogin, 'x'.repeat(86)]) {
      const { res, body } = await submit(c, '/projects', {
        csrf_token: token,
        name: 'Forged',
        slug: 'forged',
        description: '',
      });
      expectErrorPage(res, body, 403, /CSRF token incorrect: reload the page and try again/);
    }
    const { rows } = await pg.query(
      "SELECT count(*)::int AS n FROM projects WHERE slug = 'forged'",
    );
    expect(rows[0].n).toBe(0);
  });

  test('logging in needs the token too (no login CSRF)', async () => {
    const c = await browser();
    const { res } = await submit(c, '/login', { email: DEMO.email, password: DEMO.password });
    expect(res.status).toBe(403);
    expect(c.cookies.has('rococo_session')).toBe(false);
  });
});

describe('after logging in, only a local next', () => {
  const ATTACKS = [
    '//evil.com',
    '///evil.com',
    'https://evil.com',
    'http:evil.com',
    '/\\evil.com',
    '\\\\evil.com',
    '/%2F%2Fevil.com',
    '/%2f%5cevil.com',
    '%2F%2Fevil.com',
    'javascript:alert(1)',
    '/\t/evil.com',
    '/\n/evil.com',
    'evil.com',
    ' /evil.com',
  ];

  test.each(ATTACKS)(
    'next=%j: the form drops it, and the login lands on the index',
    async (attack) => {
      const c = await browser();
      const login = await page(c, `/login?next=${encodeURIComponent(attack)}`);
      expect(login.res.status).toBe(200);
      expect(nextField(login.body)).toBeUndefined();
      const { res } = await submit(c, '/login', {
        csrf_token: csrfTokenIn(login.body) as string,
        next: attack,
        email: DEMO.email,
        password: DEMO.password,
      });
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe('/');
      // Logged in, the login page sends a user on: to the index too.
      const again = await c.get(`/login?next=${encodeURIComponent(attack)}`, { headers: BROWSER });
      expect([again.status, again.headers.get('location')]).toEqual([303, '/']);
    },
  );

  test('a query string that decodes to //evil.com is no next either', async () => {
    const c = await browser();
    const login = await page(c, '/login?next=%2F%2Fevil.com');
    expect(nextField(login.body)).toBeUndefined();
  });

  test('a local path with a query string is kept, escaped in the form', async () => {
    const c = await browser();
    const next = '/search?query=a"b&locale=en_GB';
    const login = await page(c, `/login?next=${encodeURIComponent(next)}`);
    expect(nextField(login.body)).toBe('/search?query=a&quot;b&amp;locale=en_GB');
    const { res } = await submit(c, '/login', {
      csrf_token: csrfTokenIn(login.body) as string,
      next,
      email: DEMO.email,
      password: DEMO.password,
    });
    expect([res.status, res.headers.get('location')]).toEqual([303, next]);
  });

  test('registering refuses an outside next as well', async () => {
    const c = await browser();
    const token = await csrfToken(c, '/register');
    const { res } = await submit(c, '/register', {
      csrf_token: token,
      next: '//evil.com',
      display_name: 'Red Team',
      email: 'red@example.com',
      password: 'long enough',
    });
    expect([res.status, res.headers.get('location')]).toEqual([303, '/']);
  });
});

describe('the session cookie', () => {
  test('is not set by a visitor reading pages without forms, nor by the API', async () => {
    const c = await browser();
    for (const path of [
      '/',
      '/projects',
      '/projects/1',
      '/users/1',
      '/search?query=aio',
      '/no/such/page',
      '/api/projects',
    ]) {
      const res = await c.get(path, { headers: path.startsWith('/api') ? {} : BROWSER });
      expect([path, res.headers.get('set-cookie')]).toEqual([path, null]);
    }
    expect(c.cookies.size).toBe(0);
  });

  test('is set by a page with a form (its CSRF token), and then not set again while nothing changes', async () => {
    const c = await browser();
    expect(
      (await c.get('/register', { headers: BROWSER })).headers.get('set-cookie'),
    ).not.toBeNull();
    expect((await c.get('/register', { headers: BROWSER })).headers.get('set-cookie')).toBeNull();
    expect((await c.get('/login', { headers: BROWSER })).headers.get('set-cookie')).toBeNull();
  });
});

describe('without SESSION_KEYS', () => {
  test('the app refuses to start with DEBUG off and cookie sessions, saying how to make a key', () => {
    expect(() =>
      createSampleApp(
        loadSettings({ DATABASE_URL: db.url, DEBUG: false, SESSION_KEYS: '', REDIS_URL: '' }, {}),
      ),
    ).toThrow(/SESSION_KEYS is not set, and DEBUG is off[\s\S]*randomBytes\(32\)/);
  });
});

describe.each([
  ['encrypted cookies', ''],
  ...(process.env.REDIS_URL ? [['Redis', process.env.REDIS_URL]] : []),
])('sessions in %s', (_name, redisUrl) => {
  test('log in, see the name on every page, log out', async () => {
    const c = await browser({ REDIS_URL: redisUrl });
    const token = await logIn(c);
    for (const path of ['/', '/projects', '/projects/2', '/users/1'])
      expect(whoami((await page(c, path)).body)).toBe('Demo User');
    await submit(c, '/logout', { csrf_token: token });
    expect(whoami((await page(c, '/')).body)).toBeNull();
  });
});
