import { Client } from 'pg';
import type { TestClient } from '../src/testing';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { csrfToken, logIn, register, sampleClient } from './helpers/sample';

/**
 * The sample's JSON API end to end: real HTTP, a real PostgreSQL database of this suite's own,
 * migrated and seeded (3 users, 3 projects; the demo user owns aiopg) by the app at startup. A
 * separate pg client reads the tables to check what the API says against what is stored.
 *
 * Reads are public; writes need a session, so `client` logs in as the demo user through the
 * login form first, and its JSON requests carry the session cookie (they pass the CSRF check
 * as a same-origin client: they send no Origin). `visitor` has no session; `other` is another
 * account, on a second app over the same database.
 */

const JSON_TYPE = 'application/json; charset=utf-8';
const PROBLEM_TYPE = 'application/problem+json';

interface ApiProject {
  id: number;
  name: string;
  slug: string;
  description: string;
  owner_id: number | null;
  owner_name: string | null;
  created_at: string;
}

let db: TestDatabase;
let client: TestClient;
let visitor: TestClient;
let other: TestClient;
let pg: Client;

/** The demo user's id and name, as the seed made them. */
const DEMO_ID = 3;
const DEMO_NAME = 'Demo User';

beforeAll(async () => {
  db = await createTestDatabase();
  client = await sampleClient(db.url);
  await logIn(client);
  visitor = await sampleClient(db.url);
  other = await sampleClient(db.url);
  await register(other, 'Mallory Other', 'mallory@example.com');
  pg = new Client({ connectionString: db.url });
  await pg.connect();
});

afterAll(async () => {
  await pg?.end();
  await client?.close();
  await visitor?.close();
  await other?.close();
  await db?.drop();
});

/** A project row as stored, in the API's shape (dates as ISO strings). */
async function stored(id: number): Promise<ApiProject | undefined> {
  const { rows } = await pg.query(
    `SELECT p.id, p.name, p.slug, p.description, p.owner_id, u.display_name AS owner_name, p.created_at
     FROM projects p LEFT JOIN users u ON u.id = p.owner_id WHERE p.id = $1`,
    [id],
  );
  if (rows.length === 0) return undefined;
  return { ...rows[0], created_at: (rows[0].created_at as Date).toISOString() } as ApiProject;
}

async function count(table: 'projects' | 'users'): Promise<number> {
  const { rows } = await pg.query(`SELECT count(*)::int AS n FROM ${table}`);
  return rows[0].n as number;
}

async function expectProblem(
  res: globalThis.Response,
  status: number,
  problem: Record<string, unknown>,
): Promise<void> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe(PROBLEM_TYPE);
  expect(await res.json()).toEqual(problem);
}

/** The message JSON.parse gives for `text`, which the 400 problem quotes. */
function parseError(text: string): string {
  try {
    JSON.parse(text);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error(`${text} parsed`);
}

/** A 404 for a path no route matches: no detail. */
const NOT_FOUND = { type: 'about:blank', title: 'Not Found', status: 404 };
/** A 404 for a project id the routes match but the table does not have. */
const noProject = (id: number) => ({ ...NOT_FOUND, detail: `There is no project ${id}.` });

const NAME_ERROR = { path: 'name', messages: ['Give the project a name of 1 to 32 characters.'] };
const SLUG_ERROR = {
  path: 'slug',
  messages: ['Use 1 to 32 lower-case letters, digits or hyphens.'],
};
const DESCRIPTION_ERROR = {
  path: 'description',
  messages: ['Keep the description under 256 characters.'],
};

/**
 * DELETE as an API client sends it: with `Content-Type: application/json` though it has no body,
 * so that csrf() judges it as JSON, by its origin (same-origin here), and does not ask for a
 * form's token, as it would for a request without a content type.
 */
function remove(c: TestClient, path: string): Promise<globalThis.Response> {
  return c.delete(path, { headers: { 'content-type': 'application/json' } });
}

/** Creates a project through the API and returns it. */
async function create(input: Record<string, unknown>): Promise<ApiProject> {
  const res = await client.post('/api/projects', { json: input });
  expect(res.status).toBe(201);
  const body = (await res.json()) as ApiProject;
  expect(res.headers.get('location')).toBe(`/api/projects/${body.id}`);
  return body;
}

describe('GET /api/', () => {
  test('the URL map, with a {project_id} placeholder, and the default locale', async () => {
    const res = await client.get('/api/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(JSON_TYPE);
    expect(await res.json()).toEqual({
      urls: {
        add_project: '/api/projects',
        project: '/api/projects/{project_id}',
        projects: '/api/projects',
      },
      locale: 'uk_UA',
    });
  });

  test('JSON even when the client accepts HTML (no error page under /api)', async () => {
    const res = await client.get('/api/projects/999', { headers: { accept: 'text/html' } });
    await expectProblem(res, 404, noProject(999));
  });
});

describe('GET /api/projects', () => {
  test('lists the seed in id order, with owners', async () => {
    const res = await client.get('/api/projects');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(JSON_TYPE);
    const body = (await res.json()) as { projects: ApiProject[] };
    expect(body).toEqual({
      projects: [
        {
          id: 1,
          name: 'aiohttp.web',
          slug: 'aiohttp-web',
          description: 'Web framework for asyncio: the one the talk is about.',
          owner_id: 1,
          owner_name: 'Igor Davydenko',
          created_at: (await stored(1))!.created_at,
        },
        {
          id: 2,
          name: 'aiopg',
          slug: 'aiopg',
          description: 'Accessing PostgreSQL from asyncio. ORM is overrated.',
          owner_id: DEMO_ID,
          owner_name: DEMO_NAME,
          created_at: (await stored(2))!.created_at,
        },
        {
          id: 3,
          name: 'rororo',
          slug: 'rororo',
          description: 'Useful helpers for aiohttp.web applications: settings, schemas, logging.',
          owner_id: 2,
          owner_name: 'Olena Kovalenko',
          created_at: (await stored(3))!.created_at,
        },
      ],
    });
    expect(await count('users')).toBe(4); // the seed's 3, and the account `other` opened
  });

  test('needs no login', async () => {
    const res = await visitor.get('/api/projects');
    expect(res.status).toBe(200);
    expect(((await res.json()) as { projects: ApiProject[] }).projects.map((p) => p.slug)).toEqual([
      'aiohttp-web',
      'aiopg',
      'rororo',
    ]);
    expect(res.headers.get('set-cookie')).toBeNull();
  });
});

describe('GET /api/projects/<id>', () => {
  test('one project', async () => {
    const res = await client.get('/api/projects/3');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(JSON_TYPE);
    expect(await res.json()).toEqual(await stored(3));
    expect(await stored(3)).toMatchObject({ name: 'rororo', owner_name: 'Olena Kovalenko' });
  });

  test('a missing id is a 404 problem', async () => {
    const res = await client.get('/api/projects/999');
    expect(res.headers.get('server-timing')).toMatch(/^app;dur=\d+\.\d$/);
    await expectProblem(res, 404, noProject(999));
  });

  test('an id outside the id column (0, 2^31, forty digits) matches no route: 404', async () => {
    for (const id of ['0', '2147483648', '1234567890123456789012345678901234567890'])
      await expectProblem(await client.get(`/api/projects/${id}`), 404, NOT_FOUND);
  });

  test('a non-numeric id matches no route: 404', async () => {
    await expectProblem(await client.get('/api/projects/abc'), 404, NOT_FOUND);
  });
});

describe('POST /api/projects', () => {
  test('201 with Location and the created row, owned by the logged-in user', async () => {
    const res = await client.post('/api/projects', {
      json: { name: 'rococo', slug: 'rococo', description: 'Decorators on Node' },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toBe(JSON_TYPE);
    const body = (await res.json()) as ApiProject;
    expect(res.headers.get('location')).toBe(`/api/projects/${body.id}`);
    const row = await stored(body.id);
    expect(row).toEqual({
      id: body.id,
      name: 'rococo',
      slug: 'rococo',
      description: 'Decorators on Node',
      owner_id: DEMO_ID,
      owner_name: DEMO_NAME,
      created_at: row!.created_at,
    });
    expect(body).toEqual(row);
    expect(body.id).toBeGreaterThan(3);

    const again = await client.get(`/api/projects/${body.id}`);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(body);

    const list = (await (await client.get('/api/projects')).json()) as { projects: ApiProject[] };
    expect(list.projects.at(-1)).toEqual(body);
  });

  test('description is optional (empty); the name is trimmed', async () => {
    const body = await create({ name: '  spaced  ', slug: 'spaced' });
    const row = await stored(body.id);
    expect(row).toEqual({
      id: body.id,
      name: 'spaced',
      slug: 'spaced',
      description: '',
      owner_id: DEMO_ID,
      owner_name: DEMO_NAME,
      created_at: row!.created_at,
    });
    expect(body).toEqual(row);
  });

  test('422 lists every failing field', async () => {
    const before = await count('projects');
    await expectProblem(
      await client.post('/api/projects', { json: { name: '', slug: 'Not Valid', description: 7 } }),
      422,
      {
        type: 'about:blank',
        title: 'Unprocessable Entity',
        status: 422,
        detail: 'The body did not validate',
        errors: [NAME_ERROR, SLUG_ERROR, DESCRIPTION_ERROR],
      },
    );
    await expectProblem(
      await client.post('/api/projects', {
        json: { name: 'n'.repeat(33), slug: 's'.repeat(33), description: 'd'.repeat(256) },
      }),
      422,
      {
        type: 'about:blank',
        title: 'Unprocessable Entity',
        status: 422,
        detail: 'The body did not validate',
        errors: [NAME_ERROR, SLUG_ERROR, DESCRIPTION_ERROR],
      },
    );
    await expectProblem(await client.post('/api/projects', { json: {} }), 422, {
      type: 'about:blank',
      title: 'Unprocessable Entity',
      status: 422,
      detail: 'The body did not validate',
      errors: [NAME_ERROR, SLUG_ERROR],
    });
    for (const json of [[], null, 'a string', 42]) {
      await expectProblem(await client.post('/api/projects', { json }), 422, {
        type: 'about:blank',
        title: 'Unprocessable Entity',
        status: 422,
        detail: 'The body did not validate',
        errors: [{ path: '', messages: ['The body must be a JSON object.'] }],
      });
    }
    expect(await count('projects')).toBe(before);
  });

  test('400 for malformed JSON and for an empty body', async () => {
    const text = '{"name": "x",';
    const message = parseError(text);
    const res = await client.post('/api/projects', {
      body: text,
      headers: { 'content-type': 'application/json' },
    });
    await expectProblem(res, 400, {
      type: 'about:blank',
      title: 'Bad Request',
      status: 400,
      detail: `The request body is not valid JSON: ${message}`,
    });
    await expectProblem(
      await client.post('/api/projects', {
        body: '',
        headers: { 'content-type': 'application/json' },
      }),
      400,
      {
        type: 'about:blank',
        title: 'Bad Request',
        status: 400,
        detail: 'The request body is empty; JSON was expected',
      },
    );
  });

  test('409 for a slug that is taken', async () => {
    const before = await count('projects');
    await expectProblem(
      await client.post('/api/projects', { json: { name: 'Copy', slug: 'aiopg' } }),
      409,
      {
        type: 'about:blank',
        title: 'Conflict',
        status: 409,
        detail: 'The slug “aiopg” is already taken.',
      },
    );
    expect(await count('projects')).toBe(before);
  });

  test('SQL-ish input is stored verbatim', async () => {
    const name = "x'); DROP TABLE projects;--";
    const description = 'Robert\'); DELETE FROM users; -- 100% _ \\ $1 ${x} " ` ;';
    const body = await create({ name, slug: 'bobby-tables', description });
    expect(body.name).toBe(name);
    expect(body.description).toBe(description);
    const row = await stored(body.id);
    expect(row!.name).toBe(name);
    expect(row!.description).toBe(description);
    expect(await count('users')).toBe(4);
    const res = await client.get(`/api/projects/${body.id}`);
    expect(await res.json()).toEqual(row);
  });
});

describe('PUT /api/projects/<id>', () => {
  test('replaces the fields and answers with the row', async () => {
    const created = await create({ name: 'Before', slug: 'before', description: 'old' });
    const res = await client.put(`/api/projects/${created.id}`, {
      json: { name: 'After', slug: 'after', description: 'new' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(JSON_TYPE);
    const body = await res.json();
    expect(body).toEqual({ ...created, name: 'After', slug: 'after', description: 'new' });
    expect(await stored(created.id)).toEqual(body);
    expect(await (await client.get(`/api/projects/${created.id}`)).json()).toEqual(body);
  });

  test('the owner is kept on edit', async () => {
    const before = await stored(2);
    const res = await client.put('/api/projects/2', {
      json: { name: 'aiopg', slug: 'aiopg', description: 'Edited' },
    });
    expect(res.status).toBe(200);
    const expected = {
      id: 2,
      name: 'aiopg',
      slug: 'aiopg',
      description: 'Edited',
      owner_id: DEMO_ID,
      owner_name: DEMO_NAME,
      created_at: before!.created_at,
    };
    expect(await res.json()).toEqual(expected);
    expect(await stored(2)).toEqual(expected);
  });

  test('404 for a missing id', async () => {
    await expectProblem(
      await client.put('/api/projects/999', { json: { name: 'x', slug: 'x' } }),
      404,
      noProject(999),
    );
    expect(await stored(999)).toBe(undefined);
    // Even with a slug another project has: there is nothing to conflict with.
    await expectProblem(
      await client.put('/api/projects/999', { json: { name: 'x', slug: 'aiopg' } }),
      404,
      noProject(999),
    );
    expect(await stored(999)).toBe(undefined);
  });

  test('422 lists every failing field, and nothing changes', async () => {
    const before = await stored(2);
    await expectProblem(await client.put('/api/projects/2', { json: { name: 5, slug: '' } }), 422, {
      type: 'about:blank',
      title: 'Unprocessable Entity',
      status: 422,
      detail: 'The body did not validate',
      errors: [NAME_ERROR, SLUG_ERROR],
    });
    expect(await stored(2)).toEqual(before);
  });

  test('400 for malformed JSON', async () => {
    const before = await stored(2);
    const res = await client.put('/api/projects/2', {
      body: 'not json',
      headers: { 'content-type': 'application/json' },
    });
    await expectProblem(res, 400, {
      type: 'about:blank',
      title: 'Bad Request',
      status: 400,
      detail: `The request body is not valid JSON: ${parseError('not json')}`,
    });
    expect(await stored(2)).toEqual(before);
  });

  test('409 for a slug another project has, and nothing changes', async () => {
    const before = await stored(2);
    await expectProblem(
      await client.put('/api/projects/2', { json: { name: 'aiopg', slug: 'aiohttp-web' } }),
      409,
      {
        type: 'about:blank',
        title: 'Conflict',
        status: 409,
        detail: 'The slug “aiohttp-web” is already taken.',
      },
    );
    expect(await stored(2)).toEqual(before);
  });
});

describe('DELETE /api/projects/<id>', () => {
  test('204 with no body; then the project is gone', async () => {
    const created = await create({ name: 'Short-lived', slug: 'short-lived' });
    const res = await remove(client, `/api/projects/${created.id}`);
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
    expect(await stored(created.id)).toBe(undefined);
    await expectProblem(
      await client.get(`/api/projects/${created.id}`),
      404,
      noProject(created.id),
    );
    await expectProblem(
      await remove(client, `/api/projects/${created.id}`),
      404,
      noProject(created.id),
    );
  });

  test('404 for a missing id', async () => {
    await expectProblem(await remove(client, '/api/projects/999'), 404, noProject(999));
  });
});

describe('wrong methods', () => {
  test('405 with Allow on a project', async () => {
    const res = await client.patch('/api/projects/1', { json: { name: 'x' } });
    expect(res.headers.get('allow')).toBe('GET, HEAD, PUT, DELETE');
    await expectProblem(res, 405, {
      type: 'about:blank',
      title: 'Method Not Allowed',
      status: 405,
      detail: 'PATCH is not allowed here; use GET, HEAD, PUT, DELETE',
    });
  });

  test('405 with Allow on the collection and the index', async () => {
    const res = await client.delete('/api/projects');
    expect(res.headers.get('allow')).toBe('GET, HEAD, POST');
    await expectProblem(res, 405, {
      type: 'about:blank',
      title: 'Method Not Allowed',
      status: 405,
      detail: 'DELETE is not allowed here; use GET, HEAD, POST',
    });
    const index = await client.post('/api/', { json: {} });
    expect(index.headers.get('allow')).toBe('GET, HEAD');
    expect(index.status).toBe(405);
  });
});

describe('writes need a login, changes the owner', () => {
  const UNAUTHORIZED = {
    type: 'about:blank',
    title: 'Unauthorized',
    status: 401,
    detail: 'Log in first (the form at /login); then send the session cookie it sets.',
  };
  const forbidden = (name: string) => ({
    type: 'about:blank',
    title: 'Forbidden',
    status: 403,
    detail: `Only the owner of “${name}” can change or delete it.`,
  });

  test('without a session, POST, PUT and DELETE are 401 problems, and nothing changes', async () => {
    const projects = await count('projects');
    const before = await stored(2);
    await expectProblem(
      await visitor.post('/api/projects', { json: { name: 'Anon', slug: 'anon' } }),
      401,
      UNAUTHORIZED,
    );
    await expectProblem(
      await visitor.put('/api/projects/2', { json: { name: 'Anon', slug: 'anon' } }),
      401,
      UNAUTHORIZED,
    );
    await expectProblem(await remove(visitor, '/api/projects/2'), 401, UNAUTHORIZED);
    // Before the body is looked at: an invalid one is a 401 too, not a 422.
    await expectProblem(
      await visitor.post('/api/projects', { json: { name: '' } }),
      401,
      UNAUTHORIZED,
    );
    await expectProblem(await visitor.put('/api/projects/999', { json: {} }), 401, UNAUTHORIZED);
    expect(await count('projects')).toBe(projects);
    expect(await stored(2)).toEqual(before);
  });

  test('a cookie that is not a session of the app is no login', async () => {
    const res = await visitor.post('/api/projects', {
      json: { name: 'Forged', slug: 'forged' },
      headers: { cookie: 'rococo_session=' + 'A'.repeat(80) },
    });
    await expectProblem(res, 401, UNAUTHORIZED);
  });

  test("another user's PUT and DELETE are 403 problems, and nothing changes", async () => {
    const before = await stored(2);
    await expectProblem(
      await other.put('/api/projects/2', { json: { name: 'Mine now', slug: 'mine-now' } }),
      403,
      forbidden('aiopg'),
    );
    await expectProblem(await remove(other, '/api/projects/2'), 403, forbidden('aiopg'));
    expect(await stored(2)).toEqual(before);
    // The demo user may not change Igor's project either, nor one that has no owner.
    await expectProblem(
      await client.put('/api/projects/1', { json: { name: 'x', slug: 'x' } }),
      403,
      forbidden('aiohttp.web'),
    );
    await pg.query(`INSERT INTO projects (name, slug) VALUES ('Orphan', 'orphan')`);
    const { rows } = await pg.query(`SELECT id FROM projects WHERE slug = 'orphan'`);
    await expectProblem(
      await remove(client, `/api/projects/${rows[0].id}`),
      403,
      forbidden('Orphan'),
    );
    // A missing project is still a 404 for a logged-in user.
    await expectProblem(await remove(other, '/api/projects/999'), 404, noProject(999));
  });

  test('each user adds projects of their own, and changes only those', async () => {
    const res = await other.post('/api/projects', {
      json: { name: 'Mallory’s', slug: 'mallorys' },
    });
    expect(res.status).toBe(201);
    const mine = (await res.json()) as ApiProject;
    expect(mine).toMatchObject({ name: 'Mallory’s', owner_name: 'Mallory Other' });
    expect(mine.owner_id).not.toBe(DEMO_ID);
    await expectProblem(
      await client.put(`/api/projects/${mine.id}`, { json: { name: 'Taken', slug: 'taken' } }),
      403,
      forbidden('Mallory’s'),
    );
    const edited = await other.put(`/api/projects/${mine.id}`, {
      json: { name: 'Still mine', slug: 'mallorys' },
    });
    expect(edited.status).toBe(200);
    expect(await edited.json()).toMatchObject({ name: 'Still mine', owner_id: mine.owner_id });
    expect((await remove(other, `/api/projects/${mine.id}`)).status).toBe(204);
    expect(await stored(mine.id)).toBe(undefined);
  });

  test('a DELETE without a content type is judged by its origin: cross-site refused, same-origin or a token passes', async () => {
    const created = await create({ name: 'Tokened', slug: 'tokened' });
    const cross = await client.delete(`/api/projects/${created.id}`, {
      headers: { 'sec-fetch-site': 'cross-site' },
    });
    expect(cross.status).toBe(403);
    expect(((await cross.json()) as { detail: string }).detail).toMatch(
      /^Cross-site request refused/,
    );
    expect(await stored(created.id)).not.toBe(undefined);
    const token = await csrfToken(client, '/');
    const withToken = await client.delete(`/api/projects/${created.id}`, {
      headers: { 'x-csrf-token': token, 'sec-fetch-site': 'cross-site' },
    });
    expect(withToken.status).toBe(204);
    expect(await stored(created.id)).toBe(undefined);
    const again = await create({ name: 'Same origin', slug: 'same-origin' });
    expect(
      (
        await client.delete(`/api/projects/${again.id}`, {
          headers: { 'sec-fetch-site': 'same-origin' },
        })
      ).status,
    ).toBe(204);
  });

  test('a cross-site JSON write is refused (CSRF), even with the session cookie', async () => {
    const projects = await count('projects');
    const fromEvil = await client.post('/api/projects', {
      json: { name: 'Evil', slug: 'evil' },
      headers: { origin: 'https://evil.example' },
    });
    expect(fromEvil.status).toBe(403);
    expect(fromEvil.headers.get('content-type')).toBe(PROBLEM_TYPE);
    const crossSite = await client.delete('/api/projects/2', {
      headers: { 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' },
    });
    expect(crossSite.status).toBe(403);
    expect(await count('projects')).toBe(projects);
    expect(await stored(2)).toBeDefined();
  });
});

describe('CORS on the API (CORS_ORIGINS)', () => {
  const UI = 'https://tracker-ui.example';
  let ui: TestClient;
  beforeAll(async () => {
    ui = await sampleClient(db.url, { CORS_ORIGINS: `${UI}, http://localhost:5173` });
    await logIn(ui);
  });
  afterAll(() => ui?.close());

  test('a preflight from an allowed origin is answered: 204, with credentials and max-age', async () => {
    const res = await ui.options('/api/projects', {
      headers: {
        origin: UI,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(UI);
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    expect(res.headers.get('access-control-allow-methods')).toBe('GET, HEAD, POST');
    expect(res.headers.get('access-control-allow-headers')).toBe('content-type');
    expect(res.headers.get('access-control-max-age')).toBe('600');
  });

  test('a credentialed GET and POST from the allowed origin work; another origin is refused', async () => {
    const list = await ui.get('/api/projects', { headers: { origin: UI } });
    expect(list.status).toBe(200);
    expect(list.headers.get('access-control-allow-origin')).toBe(UI);
    expect(list.headers.get('access-control-allow-credentials')).toBe('true');
    expect(list.headers.get('vary')).toContain('Origin');
    const cross = { 'sec-fetch-site': 'cross-site' };
    const added = await ui.post('/api/projects', {
      json: { name: 'From the UI', slug: 'from-the-ui', description: '' },
      headers: { origin: UI, ...cross },
    });
    expect(added.status).toBe(201);
    expect(added.headers.get('access-control-expose-headers')).toBe('Location');
    const evil = 'https://evil.example';
    const refused = await ui.post('/api/projects', {
      json: { name: 'Evil', slug: 'evil', description: '' },
      headers: { origin: evil, ...cross },
    });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
  });

  test('a CORS_ORIGINS entry that is not an origin stops startup', () => {
    expect(() => sampleClient(db.url, { CORS_ORIGINS: 'https://ui.example/' })).toThrow(
      "CORS_ORIGINS: 'https://ui.example/' is not an origin",
    );
  });

  test('pages are not shared, and without CORS_ORIGINS nothing is', async () => {
    const page = await ui.get('/login', { headers: { origin: UI } });
    expect(page.headers.get('access-control-allow-origin')).toBeNull();
    const res = await visitor.get('/api/projects', { headers: { origin: UI } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });
});
