import { createSampleApp } from '../sample/app';
import { defaults } from '../sample/settings';
import { immutableSettings } from '../src';
import { testClient, type TestClient } from '../src/testing';

describe('sample project tracker', () => {
  let client: TestClient;
  beforeEach(async () => {
    client = await testClient(createSampleApp(immutableSettings(defaults)));
  });
  afterEach(() => client.close());

  test('the API browser lists reverse-built URLs', async () => {
    const res = await client.get('/api/?locale=en_GB');
    expect(res.status).toBe(200);
    expect(res.headers.get('server-timing')).toMatch(/^app;dur=\d+\.\d$/);
    expect(await res.json()).toEqual({
      urls: { projects: '/api/projects', add_project: '/api/projects', project: '/api/project/{project_id}' },
      locale: 'en_GB',
    });
  });

  test('projects are created, read, changed and deleted', async () => {
    const created = await client.post('/api/projects', { json: { name: 'Rococo', slug: 'rococo' } });
    expect(created.status).toBe(201);
    const project = await created.json();
    expect(project).toEqual({ id: 1, name: 'Rococo', slug: 'rococo', description: '' });
    expect(created.headers.get('location')).toBe('/api/project/1');

    expect(await (await client.get('/api/project/1')).json()).toEqual(project);
    const edited = await client.put('/api/project/1', { json: { name: 'Rococo 2', slug: 'rococo', description: 'ornate' } });
    expect(await edited.json()).toEqual({ id: 1, name: 'Rococo 2', slug: 'rococo', description: 'ornate' });
    expect((await client.delete('/api/project/1')).status).toBe(204);
    expect((await client.get('/api/project/1')).status).toBe(404);
    expect(await (await client.get('/api/projects')).json()).toEqual({ projects: [] });
  });

  test('bad input gets a 4xx that says what is wrong', async () => {
    const invalid = await client.post('/api/projects', { json: { name: '', slug: 'Not A Slug' } });
    expect(invalid.status).toBe(422);
    expect((await invalid.json()).errors.map((e: { path: string }) => e.path)).toEqual(['name', 'slug']);

    expect((await client.post('/api/projects', { json: [1, 2] })).status).toBe(422);
    expect((await client.post('/api/projects', { body: '{oops', headers: { 'content-type': 'application/json' } })).status).toBe(400);

    await client.post('/api/projects', { json: { name: 'A', slug: 'a' } });
    const taken = await client.post('/api/projects', { json: { name: 'B', slug: 'a' } });
    expect(taken.status).toBe(409);
    expect((await taken.json()).detail).toBe("The slug 'a' is taken by project 1");

    expect((await client.get('/api/project/abc')).status).toBe(404);
    const wrongMethod = await client.post('/api/project/1');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET, HEAD, PUT, DELETE');
  });
});
