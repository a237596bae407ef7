'use strict';
// The floor: node:http with routes matched by hand, nunjucks, pg and class-validator directly,
// and `ws` servers on the same port for the WebSocket scenarios.
const http = require('node:http');
const { WebSocketServer } = require('ws');
const nunjucks = require('nunjucks');
const { Pool } = require('pg');
const { plainToInstance } = require('class-transformer');
const { validate } = require('class-validator');
const { ItemInput, OrderInput } = require('../dist/dto');
const c = require('./common');

const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(c.TEMPLATES), {
  autoescape: true,
});
const page = env.getTemplate(c.PAGE_TEMPLATE, true);
const pool = new Pool({ connectionString: c.DATABASE_URL, max: c.POOL_SIZE });
const resources = new Set(c.RESOURCES);
const PROJECT = /^\/projects\/(\d+)$/;

// PLUGIN=headers: the header lines rococo's securityHeaders() sends over HTTP, written by hand
// (what node itself costs to write them: the floor of any such plugin).
const SECURITY = c.PLUGIN === 'headers' ? c.SECURITY_HEADER_LINES : null;

function send(res, status, type, body) {
  const head = ['content-type', type, 'content-length', String(Buffer.byteLength(body))];
  res.writeHead(status, SECURITY === null ? head : head.concat(SECURITY));
  res.end(body);
}
const json = (res, value, status = 200) =>
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
const notFound = (res) => json(res, { error: 'not found' }, 404);

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (e) {
        reject(e);
      }
    });
    req.on('error', reject);
  });
}

function route(req, res) {
  const url = req.url;
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const get = req.method === 'GET';
  if (get && path === '/') return json(res, { hello: 'world' });
  if (get && path.startsWith('/projects/')) {
    const m = PROJECT.exec(path);
    return m === null ? notFound(res) : json(res, { id: Number(m[1]) });
  }
  if (path.startsWith('/api/v1/')) {
    const rest = path.slice(8);
    const slash = rest.indexOf('/');
    const name = slash === -1 ? rest : rest.slice(0, slash);
    if (!resources.has(name)) return notFound(res);
    if (slash === -1) {
      if (get) return json(res, []);
      if (req.method === 'POST') return json(res, { resource: name, created: true }, 201);
      return notFound(res);
    }
    const id = rest.slice(slash + 1);
    if (id === '' || id.includes('/')) return notFound(res);
    if (get) return json(res, { resource: name, id: Number(id) });
    if (req.method === 'PUT') return json(res, { resource: name, id: Number(id), updated: true });
    if (req.method === 'DELETE')
      return json(res, { resource: name, id: Number(id), deleted: true });
    return notFound(res);
  }
  if (req.method === 'POST' && path === '/echo')
    return readJson(req).then((body) => json(res, body));
  if (get && path === '/page')
    return send(res, 200, 'text/html; charset=utf-8', page.render(c.PAGE));
  if (get && path === '/db')
    return pool.query(c.DB_QUERY, [c.randomId()]).then(({ rows }) => json(res, rows[0]));
  if (req.method === 'POST' && path === '/validate') return validated(req, res, ItemInput);
  if (req.method === 'POST' && path === '/validate-order') return validated(req, res, OrderInput);
  return notFound(res);
}

async function validated(req, res, cls) {
  const item = plainToInstance(cls, await readJson(req));
  const errors = await validate(item, { whitelist: true, forbidUnknownValues: true });
  if (errors.length > 0) json(res, { errors: errors.map((e) => e.property) }, 422);
  else json(res, item);
}

// WebSockets: /ws/echo sends each message back; what /ws/pub receives goes to every /ws/sub.
const wsServer = () => new WebSocketServer({ noServer: true, clientTracking: false });
const sockets = new Map([
  ['/ws/echo', wsServer()],
  ['/ws/sub', wsServer()],
  ['/ws/pub', wsServer()],
]);
const subscribers = new Set();
sockets.get('/ws/echo').on('connection', (ws) => {
  ws.on('error', () => {});
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
sockets.get('/ws/sub').on('connection', (ws) => {
  ws.on('error', () => {});
  subscribers.add(ws);
  ws.on('close', () => subscribers.delete(ws));
});
sockets.get('/ws/pub').on('connection', (ws) => {
  ws.on('error', () => {});
  ws.on('message', (data, isBinary) => {
    for (const sub of subscribers) sub.send(data, { binary: isBinary });
  });
});

http
  .createServer((req, res) => {
    const fail = () => json(res, { error: 'bad request' }, 400);
    try {
      const out = route(req, res);
      if (out instanceof Promise) out.catch(fail);
    } catch {
      fail();
    }
  })
  .on('upgrade', (req, socket, head) => {
    const wss = sockets.get(req.url);
    if (wss === undefined) return socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  })
  .listen(c.PORT, c.HOST);
