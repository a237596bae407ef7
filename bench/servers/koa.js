'use strict';
const Koa = require('koa');
const Router = require('@koa/router');
const { bodyParser } = require('@koa/bodyparser');
const nunjucks = require('nunjucks');
const { Pool } = require('pg');
const c = require('./common');

const env = nunjucks.configure(c.TEMPLATES, { autoescape: true });
const pool = new Pool({ connectionString: c.DATABASE_URL, max: c.POOL_SIZE });
const app = new Koa();
const router = new Router();
const DIGITS = /^\d+$/; // @koa/router's paths (path-to-regexp 8) take no regex: checked in the handler

router.get('/', (ctx) => {
  ctx.body = { hello: 'world' };
});
router.get('/projects/:id', (ctx, next) => {
  if (!DIGITS.test(ctx.params.id)) return next();
  ctx.body = { id: Number(ctx.params.id) };
});
for (const name of c.RESOURCES) {
  const base = `/api/v1/${name}`;
  router.get(base, (ctx) => {
    ctx.body = [];
  });
  router.post(base, (ctx) => {
    ctx.status = 201;
    ctx.body = { resource: name, created: true };
  });
  router.get(`${base}/:id`, (ctx) => {
    ctx.body = { resource: name, id: Number(ctx.params.id) };
  });
  router.put(`${base}/:id`, (ctx) => {
    ctx.body = { resource: name, id: Number(ctx.params.id), updated: true };
  });
  router.delete(`${base}/:id`, (ctx) => {
    ctx.body = { resource: name, id: Number(ctx.params.id), deleted: true };
  });
}
router.post('/echo', bodyParser(), (ctx) => {
  ctx.body = ctx.request.body;
});
router.get('/page', (ctx) => {
  ctx.type = 'html';
  ctx.body = env.render(c.PAGE_TEMPLATE, c.PAGE);
});
router.get('/db', async (ctx) => {
  ctx.body = (await pool.query(c.DB_QUERY, [c.randomId()])).rows[0];
});

app.use(router.routes()).use(router.allowedMethods());
app.on('error', () => {}); // clients that hang up (wrk at the end of a run): nothing to log
app.listen(c.PORT, c.HOST);
