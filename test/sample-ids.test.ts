import type { Application } from '../src';
import { testClient, type TestClient } from '../src/testing';
import { createSampleApp } from '../sample/app';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { BROWSER, logIn, sampleSettings } from './helpers/sample';

/**
 * No id a client puts in a path reaches a 500: every route of the sample with a parameter,
 * with every method it answers, logged in (so that the login checks pass and the id is what
 * decides), gets a 404 for ids that are too long, out of the columns' range, signed, in other
 * notations, or not numbers at all; the same as for an id in range that names no row.
 */

const ODD_IDS = [
  '123456789012345678901234567890123456789',
  '1'.repeat(40),
  '9'.repeat(2000),
  '2147483648',
  '9007199254740993',
  '2147483647', // in range, no such row
  '0',
  '-1',
  '%2D1',
  '+1',
  '1e3',
  '0x10',
  '1.5',
  '1%00',
  '%F0%9F%92%A9',
  '%EF%BC%91%EF%BC%92', // １２, full-width digits, as a browser sends them
  'abc',
];

let db: TestDatabase;
let app: Application;
let client: TestClient;
let token: string;

beforeAll(async () => {
  db = await createTestDatabase();
  app = createSampleApp(sampleSettings(db.url));
  client = await testClient(app);
  token = await logIn(client);
});

afterAll(async () => {
  await client?.close();
  await db?.drop();
});

it('every route with an id answers 404 to every odd or absent id, whatever the method', async () => {
  const routes = app.router.routes.filter(
    (r) => r.pattern.paramNames.length > 0 && !r.pattern.paramNames.includes('filename'),
  );
  expect(routes.map((r) => r.name).sort()).toEqual([
    'api.delete_project',
    'api.edit_project',
    'api.project',
    'projects.comment',
    'projects.delete',
    'projects.edit',
    'projects.live',
    'projects.show',
    'projects.update',
    'users.profile',
  ]);
  const answers: string[] = [];
  for (const route of routes) {
    for (const method of route.methods) {
      for (const id of ODD_IDS) {
        const path = route.pattern.source.replace(/<[a-z_]+:id>/, id);
        const body =
          method === 'GET' || method === 'DELETE'
            ? {}
            : method === 'PUT'
              ? { json: { name: 'x', slug: 'x' } }
              : { form: { csrf_token: token, body: 'hi', name: 'x', slug: 'x' } };
        const res = await client.request(method, path, {
          headers: { ...BROWSER, 'x-csrf-token': token },
          ...body,
        });
        await res.arrayBuffer();
        if (res.status !== 404) answers.push(`${method} ${path.slice(0, 60)}: ${res.status}`);
      }
    }
  }
  expect(answers).toEqual([]);
});
