'use strict';
const express = require('express');
const nunjucks = require('nunjucks');
const { Pool } = require('pg');
const c = require('./common');

const env = nunjucks.configure(c.TEMPLATES, { autoescape: true });
const pool = new Pool({ connectionString: c.DATABASE_URL, max: c.POOL_SIZE });
const app = express();
const DIGITS = /^\d+$/; // Express 5's paths take no regex: checked in the handler

app.get('/', (req, res) => res.json({ hello: 'world' }));
app.get('/projects/:id', (req, res, next) =>
  DIGITS.test(req.params.id) ? res.json({ id: Number(req.params.id) }) : next(),
);
for (const name of c.RESOURCES) {
  const base = `/api/v1/${name}`;
  app.get(base, (req, res) => res.json([]));
  app.post(base, (req, res) => res.status(201).json({ resource: name, created: true }));
  app.get(`${base}/:id`, (req, res) => res.json({ resource: name, id: Number(req.params.id) }));
  app.put(`${base}/:id`, (req, res) =>
    res.json({ resource: name, id: Number(req.params.id), updated: true }),
  );
  app.delete(`${base}/:id`, (req, res) =>
    res.json({ resource: name, id: Number(req.params.id), deleted: true }),
  );
}
app.post('/echo', express.json(), (req, res) => res.json(req.body));
app.get('/page', (req, res) => res.type('html').send(env.render(c.PAGE_TEMPLATE, c.PAGE)));
app.get('/db', async (req, res) =>
  res.json((await pool.query(c.DB_QUERY, [c.randomId()])).rows[0]),
);

app.listen(c.PORT, c.HOST);
