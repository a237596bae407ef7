import { createSampleApp } from '../../sample/app';
import { loadSettings, type AppSettings } from '../../sample/settings';
import { testClient, type TestClient } from '../../src/testing';

/**
 * The sample in tests: settings with a session key of the tests' own (DEBUG is off, so the app
 * needs one), sessions in Redis when the environment has REDIS_URL, else in encrypted cookies;
 * and the steps of a browser: reading a form's CSRF token, logging in.
 */

/** 32 bytes in base64: only for tests. */
export const TEST_SESSION_KEY = Buffer.alloc(32, 7).toString('base64');

/** The demo account of the seed (sample/migrations/004_accounts.sql). */
export const DEMO = { email: 'demo@example.com', password: 'demo', name: 'Demo User' };

/** What a browser sends: the error middleware renders error.html for it. */
export const BROWSER = {
  accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
};

/** Sessions of tests last 10 minutes: those kept in a shared Redis do not linger. */
export const TEST_SESSION_MAX_AGE = 600;

/** The sample's settings for a test database; `overrides` win (`REDIS_URL: ''` for cookie sessions). */
export function sampleSettings(
  databaseUrl: string,
  overrides: Partial<AppSettings> = {},
): AppSettings {
  const redis = process.env.REDIS_URL ?? '';
  return loadSettings(
    {
      DATABASE_URL: databaseUrl,
      SESSION_KEYS: TEST_SESSION_KEY,
      REDIS_URL: redis,
      SESSION_MAX_AGE: TEST_SESSION_MAX_AGE,
      // Every test logs in from 127.0.0.1, and suites share a Redis: limits out of their way.
      // test/sample-rate-limit.test.ts sets them back.
      LOGIN_FAILURES_PER_ACCOUNT: 10_000,
      LOGIN_FAILURES_PER_ADDRESS: 10_000,
      API_WRITES_PER_MINUTE: 10_000,
      ...overrides,
    },
    {},
  );
}

/** A test client of a new sample app on `databaseUrl`. */
export function sampleClient(
  databaseUrl: string,
  overrides: Partial<AppSettings> = {},
): Promise<TestClient> {
  return testClient(createSampleApp(sampleSettings(databaseUrl, overrides)));
}

/** The CSRF token of the first form of a page, or undefined. */
export function csrfTokenIn(html: string): string | undefined {
  return /<input type="hidden" name="csrf_token" value="([A-Za-z0-9_-]+)">/.exec(html)?.[1];
}

/** Loads a page as a browser and returns the CSRF token of its forms (the page must have one). */
export async function csrfToken(client: TestClient, path: string): Promise<string> {
  const res = await client.get(path, { headers: BROWSER });
  const token = csrfTokenIn(await res.text());
  if (res.status !== 200 || token === undefined)
    throw new Error(`GET ${path}: ${res.status}, no CSRF token in the page`);
  return token;
}

/**
 * Logs `client` in through the login form (its cookie jar keeps the session) and returns a CSRF
 * token of the new session, read from the logout form of the page it lands on.
 */
export async function logIn(
  client: TestClient,
  email = DEMO.email,
  password = DEMO.password,
): Promise<string> {
  const token = await csrfToken(client, '/login');
  const res = await client.post('/login', {
    headers: BROWSER,
    form: { csrf_token: token, email, password },
  });
  if (res.status !== 303)
    throw new Error(`logging in as ${email}: ${res.status} ${await res.text()}`);
  return csrfToken(client, res.headers.get('location') as string);
}

/** Opens an account through the form (which logs it in) and returns a CSRF token of its session. */
export async function register(
  client: TestClient,
  name: string,
  email: string,
  password = 'correct horse battery',
): Promise<string> {
  const token = await csrfToken(client, '/register');
  const res = await client.post('/register', {
    headers: BROWSER,
    form: { csrf_token: token, display_name: name, email, password },
  });
  if (res.status !== 303)
    throw new Error(`registering ${email}: ${res.status} ${await res.text()}`);
  return csrfToken(client, res.headers.get('location') as string);
}
