import { randomBytes } from 'node:crypto';
import type { TestClient } from '../src/testing';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { BROWSER, csrfToken, DEMO, register, sampleClient } from './helpers/sample';

/**
 * The sample's rate limits, end to end: brute force on the login form (per account and per
 * address, failed logins only) and the API's writes per user. Counted in Redis when REDIS_URL is
 * set (under a prefix of this run's own), else in the app's memory. Real HTTP, real PostgreSQL.
 */

let db: TestDatabase;
const clients: TestClient[] = [];
// Budgets of this run's own: runs sharing a Redis never spend each other's.
const LIMITS = {
  REDIS_PREFIX: `tracker:test:${randomBytes(6).toString('hex')}:`,
  LOGIN_FAILURES_PER_ACCOUNT: 5,
  LOGIN_FAILURES_PER_ADDRESS: 20,
  API_WRITES_PER_MINUTE: 3,
};

beforeAll(async () => {
  db = await createTestDatabase();
  await (await browser()).get('/'); // the first app migrates and seeds the database
});

afterAll(async () => {
  for (const c of clients) await c.close();
  await db?.drop();
});

/** A new browser on an app of its own; with Redis, the apps share the budgets as workers do. */
async function browser(): Promise<TestClient> {
  const c = await sampleClient(db.url, LIMITS);
  clients.push(c);
  return c;
}

async function tryLogin(c: TestClient, email: string, password: string) {
  const token = await csrfToken(c, '/login');
  const res = await c.post('/login', {
    headers: BROWSER,
    form: { csrf_token: token, email, password },
  });
  return { res, body: await res.text() };
}

describe('brute force on /login', () => {
  test('the 6th wrong password in a row for an account is a 429 page, even with the right password; other accounts still log in', async () => {
    const email = `target-${randomBytes(3).toString('hex')}@example.com`;
    await register(await browser(), 'Target', email, 'the right one');
    const c = await browser();
    for (let i = 0; i < 5; i++) {
      const { res, body } = await tryLogin(c, email, `guess ${i}`);
      expect(res.status).toBe(401);
      expect(body).toContain('Wrong email or password.');
      expect(res.headers.get('ratelimit')).toMatch(
        new RegExp(`^"account";r=${4 - i};t=\\d+, "address";r=\\d+;t=\\d+$`),
      );
    }
    // Capitals and spaces are the same account.
    const { res, body } = await tryLogin(c, `  ${email.toUpperCase()} `, 'the right one');
    expect(res.status).toBe(429);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(14 * 60);
    expect(res.headers.get('ratelimit-policy')).toBe(`"account";q=5;w=900, "address";q=20;w=3600`);
    expect(body).toContain('<p class="error-code">429</p>');
    expect(body).toContain('Too Many Requests');
    expect(body).toContain('Too many requests: try again in 15 minutes.');
    // An API client (no HTML asked for) gets the problem document.
    const token = await csrfToken(c, '/login');
    const json = await c.post('/login', { form: { csrf_token: token, email, password: 'x' } });
    expect(json.status).toBe(429);
    expect(json.headers.get('content-type')).toBe('application/problem+json');
    expect(await json.json()).toMatchObject({
      type: 'https://iana.org/assignments/http-problem-types#quota-exceeded',
      status: 429,
      'violated-policies': ['account'],
    });
    // Another account, from the same address, is not locked out.
    expect((await tryLogin(await browser(), DEMO.email, DEMO.password)).res.status).toBe(303);
  });

  test('the right password forgets the wrong ones before it', async () => {
    const email = `typo-${randomBytes(3).toString('hex')}@example.com`;
    await register(await browser(), 'Typo', email, 'the right one');
    const c = await browser();
    for (let i = 0; i < 4; i++) expect((await tryLogin(c, email, 'oops')).res.status).toBe(401);
    expect((await tryLogin(c, email, 'the right one')).res.status).toBe(303);
    const d = await browser();
    for (let i = 0; i < 4; i++) expect((await tryLogin(d, email, 'oops')).res.status).toBe(401);
    expect((await tryLogin(d, email, 'the right one')).res.status).toBe(303);
  });

  test('failed logins from one address, over many accounts, are limited too', async () => {
    const c = await browser();
    let status = 0;
    let tries = 0;
    // The address's budget (20 failures) is shared with the tests before this one.
    while (tries < 25) {
      tries++;
      status = (await tryLogin(c, `spray-${tries}@example.com`, 'password1')).res.status;
      if (status !== 401) break;
    }
    expect(status).toBe(429);
    expect(tries).toBeLessThanOrEqual(21);
  });
});

describe('API writes', () => {
  test('each write route allows a user 3 a minute; then a 429 problem', async () => {
    const c = await browser();
    await register(c, 'Writer', `writer-${randomBytes(3).toString('hex')}@example.com`);
    const slug = `rl-${randomBytes(3).toString('hex')}`;
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await c.post('/api/projects', {
        json: { name: `RL ${i}`, slug: `${slug}-${i}` },
      });
      statuses.push(res.status);
      if (i === 3) {
        expect(res.headers.get('content-type')).toBe('application/problem+json');
        expect(await res.json()).toMatchObject({ status: 429, 'violated-policies': ['writes'] });
      }
    }
    expect(statuses).toEqual([201, 201, 201, 429]);
    // Reading is not limited.
    expect((await c.get('/api/projects')).status).toBe(200);
    // Another user has a budget of their own.
    const other = await browser();
    await register(other, 'Other', `other-${randomBytes(3).toString('hex')}@example.com`);
    const res = await other.post('/api/projects', { json: { name: 'Other', slug: `${slug}-x` } });
    expect(res.status).toBe(201);
    expect(res.headers.get('ratelimit')).toMatch(/^"writes";r=2;t=\d+$/);
  });
});
