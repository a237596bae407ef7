import { IsString, Length, Matches, IsOptional, MaxLength, IsInt, Min, ValidateNested, IsArray, IsBoolean } from 'class-validator';
import { Expose, Type } from 'class-transformer';
import { createApp, Controller, Post, Get, Schema, Request } from '../src';
import { testClient } from '../src/testing';
import { validateOpenAPI } from './helpers/openapi';

class Item { @IsString() name!: string; }
class AddProject {
  @IsString() @Length(1, 32) name!: string;
  @Matches(/^[a-z0-9-]+$/) @Length(1, 32) slug!: string;
  @IsOptional() @IsString() @MaxLength(255) description?: string;
  @IsOptional() @IsArray() @ValidateNested({ each: true }) @Type(() => Item) items?: Item[];
}
class ProjectOut { @Expose() id!: number; @Expose() name!: string; @Expose() slug!: string; }
class Page { @IsInt() @Min(1) page!: number; @IsOptional() @IsBoolean() archived?: boolean; }

@Controller()
class C {
  @Post('/projects') @Schema({ request: AddProject, response: ProjectOut, status: 201 })
  add(req: Request<AddProject>) { return { id: 7, ...req.data, password_hash: 'x' }; }
  @Get('/projects') @Schema(Page)
  list(req: Request<Page>) { return { page: req.data.page, archived: req.data.archived ?? null, type: typeof req.data.page }; }
}

test('schema smoke', async () => {
  const client = await testClient(createApp({ controllers: [C] }));
  const ok = await client.post('/projects', { json: { name: 'R', slug: 'r', extra: 1 } });
  expect([ok.status, await ok.json()]).toEqual([201, { id: 7, name: 'R', slug: 'r' }]);
  const bad = await client.post('/projects', { json: { name: 5, slug: 'Bad Slug', items: [{ name: 1 }] } });
  const body = await bad.json();
  expect(bad.status).toBe(422);
  expect(body.errors.map((e: { path: string }) => e.path)).toEqual(['name', 'slug', 'items[0].name']);
  const form = await client.post('/projects', { form: { name: 'F', slug: 'f' } });
  expect(form.status).toBe(201);
  const q = await client.get('/projects?page=2&archived=false');
  expect(await q.json()).toEqual({ page: 2, archived: false, type: 'number' });
  expect((await client.get('/projects?page=x')).status).toBe(422);
  expect((await client.post('/projects', { json: [1] })).status).toBe(422);
  await client.close();
});

test('openapi smoke', async () => {
  const client = await testClient(createApp({ controllers: [C], openapi: { title: 'T', version: '1' } }));
  const doc = await (await client.get('/openapi.json')).json();
  const result = validateOpenAPI(doc);
  expect(result).toEqual({ valid: true });
  expect(Object.keys(doc.paths)).toEqual(['/projects']);
  expect(Object.keys(doc.components.schemas).sort()).toEqual(['AddProject', 'Item', 'Problem', 'ProjectOut', 'ValidationProblem']);
  const docs = await client.get('/docs');
  expect(docs.status).toBe(200);
  expect((await client.get('/docs/assets/swagger-ui-bundle.js')).status).toBe(200);
  await client.close();
});
