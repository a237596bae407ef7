import type { TestClient } from '../src/testing';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { checkExposition, valueOf } from './helpers/exposition';
import { sampleClient } from './helpers/sample';

/** The sample's /metrics: its routes by name, its pool, its WebSockets; promtool-checked. */

let db: TestDatabase;
let client: TestClient;

beforeAll(async () => {
  db = await createTestDatabase();
  client = await sampleClient(db.url);
});

afterAll(async () => {
  await client?.close();
  await db?.drop();
});

test('/metrics shows the API route by name, the pool and the open WebSockets', async () => {
  for (let i = 0; i < 2; i++) expect((await client.get('/api/projects')).status).toBe(200);
  expect((await client.get('/api/projects/999999')).status).toBe(404);
  const res = await client.get('/metrics');
  expect(res.status).toBe(200);
  const t = await res.text();
  checkExposition(t);
  const count = (labels: Record<string, string>) =>
    valueOf(t, 'http_request_duration_seconds_count', labels);
  expect(count({ method: 'GET', route: 'api.projects', status: '2xx' })).toBe(2);
  expect(count({ method: 'GET', route: 'api.project', status: '4xx' })).toBe(1);
  expect(valueOf(t, 'db_pool_connections')).toBeGreaterThanOrEqual(1);
  expect(valueOf(t, 'db_query_duration_seconds_count', { outcome: 'ok' })).toBeGreaterThan(0);
  expect(valueOf(t, 'websocket_connections_open')).toBe(0);
  expect(valueOf(t, 'hub_messages_total', { direction: 'published' })).toBe(0);
});
