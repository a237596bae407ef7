'use strict';
const fastify = require('fastify');
const nunjucks = require('nunjucks');
const { Pool } = require('pg');
const c = require('./common');

const env = nunjucks.configure(c.TEMPLATES, { autoescape: true });
const pool = new Pool({ connectionString: c.DATABASE_URL, max: c.POOL_SIZE });
const app = fastify({ logger: false });

// The plugin scenarios: Fastify's own packages, as its users install them, with the settings
// every server shares (common.js).
const PLUGINS = {
  cors: () => [require('@fastify/cors'), { origin: [c.CORS_ORIGIN], credentials: true }],
  headers: () => [require('@fastify/helmet'), {}],
  'rate-memory': () => [
    require('@fastify/rate-limit'),
    { max: c.RATE.points, timeWindow: c.RATE.seconds * 1000 },
  ],
  'rate-redis': () => [
    require('@fastify/rate-limit'),
    {
      max: c.RATE.points,
      timeWindow: c.RATE.seconds * 1000,
      redis: new (require('ioredis'))(c.REDIS_URL),
    },
  ],
  compress: () => [require('@fastify/compress'), { threshold: c.COMPRESS_THRESHOLD }],
  // Its defaults: route histogram and summary, the process's default metrics, GET /metrics.
  metrics: () => [require('fastify-metrics'), { endpoint: '/metrics' }],
  // The OpenTelemetry instrumentation with no SDK registered: what it costs when traces are off.
  tracing: () => [new (require('@fastify/otel').FastifyOtelInstrumentation)().plugin()],
};
if (c.PLUGIN) app.register(...PLUGINS[c.PLUGIN]());

// Routes in a plugin context of their own, registered after the plugin: rate-limit and
// compress apply to the routes declared once they are loaded.
app.register(async (app) => {
  app.get('/', async () => ({ hello: 'world' }));
  // What a Fastify user writes for validation: JSON schemas, compiled by ajv (request: unknown
  // keys removed, formats on) and fast-json-stringify (response).
  const item = {
    type: 'object',
    required: ['name', 'quantity', 'email'],
    additionalProperties: false,
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 32 },
      quantity: { type: 'integer', minimum: 1, maximum: 100 },
      email: { type: 'string', format: 'email' },
      tags: { type: 'array', maxItems: 5, items: { type: 'string' } },
    },
  };
  app.post(
    '/validate',
    { schema: { body: item, response: { 200: item } } },
    async (req) => req.body,
  );
  const line = {
    type: 'object',
    required: ['sku', 'quantity'],
    additionalProperties: false,
    properties: {
      sku: { type: 'string', minLength: 1, maxLength: 32 },
      quantity: { type: 'integer', minimum: 1, maximum: 100 },
      note: { type: 'string', maxLength: 200 },
    },
  };
  const order = {
    type: 'object',
    required: ['customer', 'lines'],
    additionalProperties: false,
    properties: {
      customer: {
        type: 'object',
        required: ['name', 'email'],
        additionalProperties: false,
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 64 },
          email: { type: 'string', format: 'email' },
        },
      },
      lines: { type: 'array', minItems: 1, maxItems: 50, items: line },
      comment: { type: 'string', maxLength: 500 },
    },
  };
  app.post(
    '/validate-order',
    { schema: { body: order, response: { 200: order } } },
    async (req) => req.body,
  );
  app.get('/projects/:id(^\\d+$)', async (req) => ({ id: Number(req.params.id) }));
  for (const name of c.RESOURCES) {
    const base = `/api/v1/${name}`;
    app.get(base, async () => []);
    app.post(base, async (req, reply) => reply.code(201).send({ resource: name, created: true }));
    app.get(`${base}/:id`, async (req) => ({ resource: name, id: Number(req.params.id) }));
    app.put(`${base}/:id`, async (req) => ({
      resource: name,
      id: Number(req.params.id),
      updated: true,
    }));
    app.delete(`${base}/:id`, async (req) => ({
      resource: name,
      id: Number(req.params.id),
      deleted: true,
    }));
  }
  app.post('/echo', async (req) => req.body);
  app.get('/page', async (req, reply) =>
    reply.type('text/html; charset=utf-8').send(env.render(c.PAGE_TEMPLATE, c.PAGE)),
  );
  app.get('/db', async () => (await pool.query(c.DB_QUERY, [c.randomId()])).rows[0]);
});

app.listen({ port: c.PORT, host: c.HOST });
