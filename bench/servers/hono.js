'use strict';
const { Hono } = require('hono');
const { serve } = require('@hono/node-server');
const { zValidator } = require('@hono/zod-validator');
const { z } = require('zod');
const nunjucks = require('nunjucks');
const { Pool } = require('pg');
const c = require('./common');

const env = nunjucks.configure(c.TEMPLATES, { autoescape: true });
const pool = new Pool({ connectionString: c.DATABASE_URL, max: c.POOL_SIZE });
const app = new Hono();

app.get('/', (ctx) => ctx.json({ hello: 'world' }));
app.get('/projects/:id{[0-9]+}', (ctx) => ctx.json({ id: Number(ctx.req.param('id')) }));
for (const name of c.RESOURCES) {
  const base = `/api/v1/${name}`;
  app.get(base, (ctx) => ctx.json([]));
  app.post(base, (ctx) => ctx.json({ resource: name, created: true }, 201));
  app.get(`${base}/:id`, (ctx) => ctx.json({ resource: name, id: Number(ctx.req.param('id')) }));
  app.put(`${base}/:id`, (ctx) =>
    ctx.json({ resource: name, id: Number(ctx.req.param('id')), updated: true }),
  );
  app.delete(`${base}/:id`, (ctx) =>
    ctx.json({ resource: name, id: Number(ctx.req.param('id')), deleted: true }),
  );
}
app.post('/echo', async (ctx) => ctx.json(await ctx.req.json()));
// What a Hono user writes for validation: zod through its validator middleware (unknown keys stripped).
const item = z.object({
  name: z.string().min(1).max(32),
  quantity: z.number().int().min(1).max(100),
  email: z.email(),
  tags: z.array(z.string()).max(5).optional(),
});
app.post('/validate', zValidator('json', item), (ctx) => ctx.json(ctx.req.valid('json')));
const order = z.object({
  customer: z.object({ name: z.string().min(1).max(64), email: z.email() }),
  lines: z
    .array(
      z.object({
        sku: z.string().min(1).max(32),
        quantity: z.number().int().min(1).max(100),
        note: z.string().max(200).optional(),
      }),
    )
    .min(1)
    .max(50),
  comment: z.string().max(500).optional(),
});
app.post('/validate-order', zValidator('json', order), (ctx) => ctx.json(ctx.req.valid('json')));
app.get('/page', (ctx) => ctx.html(env.render(c.PAGE_TEMPLATE, c.PAGE)));
app.get('/db', async (ctx) => ctx.json((await pool.query(c.DB_QUERY, [c.randomId()])).rows[0]));

serve({ fetch: app.fetch, port: c.PORT, hostname: c.HOST });
