#!/usr/bin/env node
'use strict';
// rococo next to raw node:http and its peers. `npm run bench` at the root installs and builds,
// then runs this; `npm run bench -- --quick` for a short pass. Options: --quick,
// --scenarios=json,db  --servers=raw,rococo (a subset, for profiling), --cluster-policy=none|rr
// (the -w 2 servers' scheduling policy, both the same: none by default, as rococo serve's),
// --samples=FILE (every round's figures, appended as JSON lines).
//
// Each server runs in its own process pinned to CPU 0; wrk runs on CPU 1 (100 connections,
// pipelining 10). Per scenario: start the servers, warm each up, then alternating rounds; p99 comes
// from rounds without pipelining (wrk corrects latency assuming one request in flight per
// connection: with pipelining its percentiles mean nothing). Every server is checked on every
// scenario first, so a broken one fails before anything is measured.
//
// The WebSocket scenarios (ws-echo, ws-echo-1, ws-fanout) load raw `ws`, rococo and NestJS gateways with
// ws-load.js (wrk speaks no WebSocket), on CPU 1 too: see that file.
const { spawn, execFileSync } = require('node:child_process');
const { appendFileSync, readFileSync, readdirSync, writeFileSync, mkdirSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { isDeepStrictEqual } = require('node:util');
const WS = require('./ws-load');
const { prepareDatabase } = require('./database');
const { ensureTool, freePort, machineBusy, describeMachine } = require('./machine');

const BENCH = __dirname;
const args = process.argv.slice(2);
const flag = (name) =>
  args
    .find((a) => a.startsWith(`--${name}=`))
    ?.split('=')[1]
    ?.split(',');
const QUICK = args.includes('--quick');
// Seconds of warm-up per server, then `rounds` alternating rounds of `duration` with pipelining,
// the first `latency` of them followed by one without (for p99).
const MODE = QUICK
  ? { name: 'quick', warmup: 2, rounds: 2, latency: 1, duration: 1 }
  : { name: 'full', warmup: 2, rounds: 3, latency: 2, duration: 1 };
// The WebSocket scenarios: seconds of warm-up per server, then `rounds` alternating rounds of
// `duration` (p99 comes from the same rounds).
const WS_MODE = QUICK
  ? { warmup: 1, rounds: 2, duration: 1 }
  : { warmup: 2, rounds: 5, duration: 1 };
const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString());

// wrk is the load generator; a fresh machine has none: install Debian's when we may.
ensureTool('wrk', ['--version']);

// --samples=FILE: every round's figures, one JSON line a scenario and server, in the order the
// rounds ran (what the medians hide: a slow first round, drift, one stalled round).
const SAMPLES = flag('samples')?.[0];
const keepSamples = (sc, servers, samples) => {
  if (SAMPLES === undefined) return;
  for (const s of servers)
    appendFileSync(
      SAMPLES,
      JSON.stringify({ scenario: sc.id, server: s.id, rounds: samples.get(s) }) + '\n',
    );
};

const CLUSTER_SCENARIOS = ['json-w2', 'page-w2'];
// Both -w 2 servers with the same cluster scheduling policy: rococo serve's (the workers accept
// on the shared socket; see src/cli/master.ts for why), not node's Linux default for raw-cluster
// (the master accepts and hands each connection over). Each honours node's own variable.
// --cluster-policy=rr runs both with round robin instead.
const CLUSTER_POLICY = flag('cluster-policy')?.[0] ?? 'none';
if (!['none', 'rr'].includes(CLUSTER_POLICY))
  throw new Error(`--cluster-policy: none or rr, got ${CLUSTER_POLICY}`);
const CLUSTER_ENV = { NODE_CLUSTER_SCHED_POLICY: CLUSTER_POLICY };
const { CORS_ORIGIN } = require('./servers/common');

/** Which plugin each plugin scenario measures, and what it is called in the tables. */
const PLUGINS = {
  cors: { scenarios: ['cors'], rococo: 'cors()', fastify: '@fastify/cors' },
  headers: { scenarios: ['headers'], rococo: 'securityHeaders()', fastify: '@fastify/helmet' },
  'rate-memory': {
    scenarios: ['rate-memory'],
    rococo: 'rateLimit(), in memory',
    fastify: '@fastify/rate-limit, in memory',
  },
  'rate-redis': {
    scenarios: ['rate-redis'],
    rococo: 'rateLimit(), in Redis',
    fastify: '@fastify/rate-limit, in Redis',
    env: { REDIS_URL: process.env.REDIS_URL || 'redis://127.0.0.1:6379' },
  },
  compress: {
    scenarios: ['page-gzip', 'page-br'],
    rococo: 'compression()',
    fastify: '@fastify/compress',
  },
  metrics: { scenarios: ['metrics'], rococo: 'metrics()', fastify: 'fastify-metrics' },
  tracing: {
    scenarios: ['tracing'],
    rococo: 'tracing(), no SDK',
    fastify: '@fastify/otel, no SDK',
  },
};
function PLUGIN_SERVERS() {
  // The floor of any security-headers plugin: raw node:http writing the same lines by hand.
  const rawHeaders = {
    id: 'raw-headers',
    name: 'node:http (raw) + the same headers by hand',
    file: 'servers/raw.js',
    env: { PLUGIN: 'headers' },
    scenarios: ['headers'],
    base: 'raw',
  };
  return [
    rawHeaders,
    ...Object.entries(PLUGINS).flatMap(([plugin, p]) => [
      {
        id: `rococo-${plugin}`,
        name: `rococo + ${p.rococo}`,
        file: 'dist/rococo.js',
        env: { PLUGIN: plugin, ...p.env },
        scenarios: p.scenarios,
        base: 'rococo',
      },
      {
        id: `fastify-${plugin}`,
        name: `Fastify + ${p.fastify}`,
        file: 'servers/fastify.js',
        env: { PLUGIN: plugin, ...p.env },
        scenarios: p.scenarios,
        base: 'fastify',
      },
    ]),
  ];
}
const pluginScenario = (plugin) => [
  'raw',
  'rococo',
  `rococo-${plugin}`,
  'fastify',
  `fastify-${plugin}`,
];
const SERVERS = [
  {
    id: 'raw',
    name: 'node:http (raw)',
    wsName: 'ws (raw)',
    file: 'servers/raw.js',
    validate: true,
    ws: true,
    floor: true,
  },
  { id: 'rococo', name: 'rococo', file: 'dist/rococo.js', validate: true, ws: true },
  // The same server with its access log on (one JSON line a request, to /dev/null): what logging costs.
  {
    id: 'rococo-log',
    name: 'rococo + access log',
    file: 'dist/rococo.js',
    env: { ACCESS_LOG: '1' },
    stdout: 'ignore',
    scenarios: ['json'],
  },
  { id: 'fastify', name: 'Fastify', file: 'servers/fastify.js', validate: true },
  { id: 'express', name: 'Express', file: 'servers/express.js' },
  { id: 'koa', name: 'Koa', file: 'servers/koa.js' },
  { id: 'hono', name: 'Hono', file: 'servers/hono.js', validate: true },
  { id: 'nest-express', name: 'NestJS (Express)', file: 'dist/nest-express.js', validate: true },
  {
    id: 'nest-fastify',
    name: 'NestJS (Fastify)',
    wsName: 'NestJS gateways (WsAdapter)',
    file: 'dist/nest-fastify.js',
    validate: true,
    ws: true,
  },
  {
    id: 'routing-controllers',
    name: 'routing-controllers',
    file: 'dist/routing-controllers.js',
    validate: true,
  },
  // Two workers each, on both cores (shared with wrk): the -w 2 scenarios only.
  {
    id: 'raw-cluster',
    name: 'node:cluster + node:http (raw), 2 workers',
    file: 'servers/raw-cluster.js',
    env: CLUSTER_ENV,
    cluster: true,
    floor: true,
    scenarios: CLUSTER_SCENARIOS,
  },
  {
    id: 'rococo-serve',
    name: 'rococo serve -w 2',
    file: '../dist/src/cli/main.js',
    stdout: 'ignore',
    args: ['serve', 'dist/rococo-app.js', '-w', '2', '-b', '127.0.0.1:{port}'],
    env: CLUSTER_ENV,
    cluster: true,
    scenarios: CLUSTER_SCENARIOS,
  },
  // The plugin scenarios: rococo and Fastify each with one plugin of its own (common.js's
  // PLUGIN), next to themselves without it and raw node:http.
  ...PLUGIN_SERVERS(),
].filter((s) => !flag('servers') || flag('servers').includes(s.id));

const ECHO = '{"name":"rococo","tags":["a","b"],"count":3,"nested":{"ok":true}}';
const VALID = { name: 'widget', quantity: 3, email: 'dev@example.com', tags: ['a', 'b'] };
// 20 lines, every third with a note: about 1.3 KB of JSON.
const ORDER = {
  customer: { name: 'Ada Lovelace', email: 'ada@example.com' },
  lines: Array.from({ length: 20 }, (_, i) => ({
    sku: `SKU-${1000 + i}`,
    quantity: 1 + ((i * 7) % 100),
    ...(i % 3 === 0 ? { note: `gift wrap, item ${i}` } : {}),
  })),
  comment: 'leave at the door',
};
const isJson = (r) => r.type.startsWith('application/json');
// The rows the speed goals are read from (GET / with and without the access log, validation, -w 2)
// get 9 rounds in a full run instead of 3: with 3 rounds of 1 s, one stalled round moved their
// median by up to 2.5x between runs (rococo's 20-item validation: 6.6k-18.1k req/s in one run).
// With 5, still not enough on a noisy host: the same server's 1 s rounds of `GET /` spanned
// 60k-127k req/s in 25 rounds on end (Intel, 2026-12-07, no steal time reported), and the access
// log's row went from 0.65x to 0.96x between two runs of the same build.
const GOAL_ROUNDS = 9;
const SCENARIOS = [
  {
    id: 'json',
    title: 'GET / (JSON hello)',
    path: '/',
    rounds: GOAL_ROUNDS,
    check: (r) => isJson(r) && isDeepStrictEqual(r.json, { hello: 'world' }),
  },
  {
    id: 'param',
    title: 'GET /projects/<id:\\d+> (regex parameter)',
    path: '/projects/42',
    check: (r) => isJson(r) && isDeepStrictEqual(r.json, { id: 42 }),
    reject: '/projects/4x2',
  },
  {
    id: 'routes200',
    title: 'GET /api/v1/resource39s/123 (200-route app, late route)',
    path: '/api/v1/resource39s/123',
    check: (r) => isJson(r) && isDeepStrictEqual(r.json, { resource: 'resource39s', id: 123 }),
  },
  {
    id: 'echo',
    title: 'POST /echo (small JSON body echoed)',
    method: 'POST',
    path: '/echo',
    body: ECHO,
    check: (r) => isJson(r) && isDeepStrictEqual(r.json, JSON.parse(ECHO)),
  },
  {
    id: 'page',
    title: 'GET /page (nunjucks, 20 rows, autoescaped)',
    path: '/page',
    check: (r) =>
      r.type.startsWith('text/html') &&
      r.text.split('<tr class=').length === 21 &&
      r.text.includes('Item &lt;20&gt; &amp; &quot;co&quot;'),
  },
  // PostgreSQL shares both cores with the server and wrk: its rounds swing the most, so more of them.
  {
    id: 'db',
    title: 'GET /db (one PostgreSQL query, pool of 10)',
    path: '/db',
    rounds: 7,
    check: (r) => isJson(r) && Number.isInteger(r.json.id) && r.json.name === `item ${r.json.id}`,
  },
  {
    id: 'validate',
    title:
      'POST /validate (class-validator: @Schema, ValidationPipe...; Fastify: JSON schema; Hono: zod)',
    method: 'POST',
    path: '/validate',
    only: 'validate',
    rounds: GOAL_ROUNDS,
    body: JSON.stringify({ ...VALID, extra: 'dropped' }),
    check: (r) => isJson(r) && isDeepStrictEqual(r.json, VALID),
    invalid: JSON.stringify({ name: '', quantity: 300, email: 'nope' }),
  },
  {
    id: 'validate-order',
    title:
      'POST /validate-order (a bigger body: a nested object and a list of 20 nested items; the same validators)',
    method: 'POST',
    path: '/validate-order',
    only: 'validate',
    rounds: GOAL_ROUNDS,
    body: JSON.stringify({ ...ORDER, extra: 'dropped' }),
    check: (r) => isJson(r) && isDeepStrictEqual(r.json, ORDER),
    invalid: JSON.stringify({
      ...ORDER,
      lines: [...ORDER.lines.slice(1), { sku: '', quantity: 0 }],
    }),
  },
  {
    id: 'json-w2',
    title: 'GET / (JSON hello), 2 workers on 2 cores shared with wrk',
    path: '/',
    check: (r) => isJson(r) && isDeepStrictEqual(r.json, { hello: 'world' }),
    only: 'cluster',
    rounds: GOAL_ROUNDS,
  },
  {
    id: 'page-w2',
    title: 'GET /page (nunjucks), 2 workers on 2 cores shared with wrk',
    path: '/page',
    check: (r) => r.type.startsWith('text/html') && r.text.split('<tr class=').length === 21,
    only: 'cluster',
    rounds: GOAL_ROUNDS,
  },
  {
    id: 'cors',
    title: `GET / with CORS: a simple request from an allowed origin, credentials`,
    path: '/',
    headers: { origin: CORS_ORIGIN },
    servers: pluginScenario('cors'),
    check: (r) =>
      isJson(r) && (r.plugin !== true || r.headers['access-control-allow-origin'] === CORS_ORIGIN),
  },
  {
    id: 'headers',
    title: "GET / with security headers (helmet's defaults)",
    path: '/',
    servers: ['raw-headers', ...pluginScenario('headers')],
    check: (r) =>
      isJson(r) &&
      (r.plugin !== true ||
        (r.headers['x-content-type-options'] === 'nosniff' &&
          /default-src 'self'/.test(r.headers['content-security-policy'] ?? ''))),
  },
  ...['memory', 'redis'].map((where) => ({
    id: `rate-${where}`,
    title: `GET / with a rate limit per client address, counted in ${where === 'redis' ? 'Redis' : 'memory'}`,
    path: '/',
    servers: pluginScenario(`rate-${where}`),
    // rococo sends the IETF RateLimit header; @fastify/rate-limit x-ratelimit-remaining.
    check: (r) =>
      isJson(r) &&
      (r.plugin !== true ||
        r.headers.ratelimit !== undefined ||
        r.headers['x-ratelimit-remaining'] !== undefined),
  })),
  {
    id: 'metrics',
    title: 'GET / with Prometheus metrics (duration histogram by route, process defaults)',
    path: '/',
    servers: pluginScenario('metrics'),
    check: isJson,
    scrape: '/metrics',
  },
  {
    id: 'tracing',
    title: 'GET / with OpenTelemetry tracing on and no SDK registered',
    path: '/',
    servers: pluginScenario('tracing'),
    check: isJson,
  },
  ...['gzip', 'br'].map((encoding) => ({
    id: `page-${encoding}`,
    title: `GET /page compressed (Accept-Encoding: ${encoding})`,
    path: '/page',
    headers: { 'accept-encoding': encoding },
    servers: pluginScenario('compress'),
    check: (r) =>
      r.type.startsWith('text/html') &&
      r.text.split('<tr class=').length === 21 &&
      (r.plugin !== true || r.headers['content-encoding'] === encoding),
  })),
  ...Object.entries(WS.SCENARIOS).map(([id, { title, unit, per }]) => ({
    id,
    title,
    unit,
    per,
    only: 'ws',
    websocket: true,
  })),
].filter((s) => !flag('scenarios') || flag('scenarios').includes(s.id));

// The rounds of a scenario: its own count in a full run (see db), else the mode's.
const roundsOf = (sc) => (QUICK ? MODE.rounds : (sc.rounds ?? MODE.rounds));
const serversFor = (sc) =>
  sc.servers
    ? SERVERS.filter((s) => sc.servers.includes(s.id))
    : SERVERS.filter(
        (s) => (!sc.only || s[sc.only]) && (!s.scenarios || s.scenarios.includes(sc.id)),
      );
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// --- servers -------------------------------------------------------------------------------
const running = new Set();
// Interrupted (Ctrl-C, a timeout's SIGTERM) or not, no server outlives the run.
process.on('exit', () => running.forEach((p) => p.kill('SIGKILL')));
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
  ['SIGHUP', 129],
])
  process.on(signal, () => process.exit(code));

async function start(server, port) {
  const args = (server.args ?? []).map((a) => a.replace('{port}', String(port)));
  // A cluster runs on both cores; every other server on CPU 0, wrk on CPU 1.
  const child = spawn(
    'taskset',
    ['-c', server.cluster ? '0,1' : '0', process.execPath, join(BENCH, server.file), ...args],
    {
      cwd: BENCH,
      env: {
        ...process.env,
        PORT: String(port),
        DATABASE_URL,
        NODE_ENV: 'production',
        ...server.env,
      },
      stdio: ['ignore', server.stdout ?? 'inherit', 'inherit'],
    },
  );
  running.add(child);
  let exited = false;
  child.once('exit', () => {
    exited = true;
    running.delete(child);
  });
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${server.name} exited during startup`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/`)).ok)
        return { ...server, port, child, pid: child.pid };
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${server.name} did not answer on port ${port} within 20 s`);
}

function stop(s) {
  if (s.child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    s.child.once('exit', resolve);
    s.child.kill('SIGTERM');
    setTimeout(() => s.child.kill('SIGKILL'), 2000).unref();
  });
}

// At most STARTING at once: the check starts every server (27) on CPU 0, and on a fresh machine
// (nothing in the page cache yet) those started all at once did not all answer within start()'s
// 20 s (rococo did not, twice in a row, on 2026-12-07).
const STARTING = 4;
const startAll = async (servers) => {
  const ports = [];
  while (ports.length < servers.length) {
    const port = await freePort();
    if (!ports.includes(port)) ports.push(port);
  }
  const started = new Array(servers.length);
  let next = 0;
  const starter = async () => {
    while (next < servers.length) {
      const i = next++;
      started[i] = await start(servers[i], ports[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(STARTING, servers.length) }, starter));
  return started;
};

// --- checks: every server answers every scenario correctly ------------------------------------
async function call(s, method, path, body, headers = {}) {
  const res = await fetch(`http://127.0.0.1:${s.port}${path}`, {
    method,
    body,
    headers: body ? { 'content-type': 'application/json', ...headers } : headers,
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON: the text is the body
  }
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    headers: Object.fromEntries(res.headers),
    // The servers of a plugin scenario must show the plugin's work, the others only answer.
    plugin: s.base !== undefined,
    text,
    json,
  };
}

async function verify(sc, s) {
  if (sc.websocket) {
    try {
      return await WS.check(s.port, sc.id);
    } catch (e) {
      throw new Error(`${s.name} fails ${sc.id}: ${e.message}`, { cause: e });
    }
  }
  const r = await call(s, sc.method ?? 'GET', sc.path, sc.body, sc.headers);
  const problems = [];
  if (r.status !== 200) problems.push(`status ${r.status}`);
  else if (!sc.check(r)) problems.push(`unexpected answer (${r.type}): ${r.text.slice(0, 200)}`);
  // A metrics server must expose the request just made (a route histogram's series).
  if (sc.scrape && s.base !== undefined) {
    const m = await call(s, 'GET', sc.scrape);
    if (m.status !== 200 || !/_bucket\{/.test(m.text))
      problems.push(`${sc.scrape} has no histogram (status ${m.status})`);
  }
  if (sc.reject && (await call(s, 'GET', sc.reject)).status !== 404)
    problems.push(`${sc.reject} is not a 404`);
  if (sc.invalid) {
    const bad = await call(s, 'POST', sc.path, sc.invalid);
    if (bad.status !== 400 && bad.status !== 422)
      problems.push(`an invalid body got ${bad.status}, not 400/422`);
  }
  if (problems.length)
    throw new Error(`${s.name} fails ${sc.method ?? 'GET'} ${sc.path}: ${problems.join('; ')}`);
}

// --- measuring ---------------------------------------------------------------------------------
function luaScript(sc, depth) {
  // Pipelining `depth`: each write is that many requests; done() prints what we read back.
  const lines = [`wrk.method = "${sc.method ?? 'GET'}"`];
  if (sc.body)
    lines.push(`wrk.body = [==[${sc.body}]==]`, `wrk.headers["Content-Type"] = "application/json"`);
  for (const [name, value] of Object.entries(sc.headers ?? {}))
    lines.push(`wrk.headers["${name}"] = "${value}"`);
  lines.push(
    'init = function(args)',
    '  local r = {}',
    `  for i = 1, ${depth} do r[i] = wrk.format() end`,
    '  req = table.concat(r)',
    'end',
    'request = function() return req end',
    'done = function(summary, latency, requests)',
    '  local e = summary.errors',
    '  io.write(string.format("RESULT %d %d %d %d %d\\n", summary.requests, summary.duration, latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))',
    'end',
  );
  const file = join(tmpdir(), `rococo-bench-${sc.id}-${depth}.lua`);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

function wrk(s, sc, script, seconds) {
  return new Promise((resolve, reject) => {
    const url = `http://127.0.0.1:${s.port}${sc.path}`;
    const p = spawn('taskset', [
      '-c',
      sc.only === 'cluster' ? '0,1' : '1',
      'wrk',
      '-t1',
      '-c100',
      `-d${seconds}s`,
      '--latency',
      '-s',
      script,
      url,
    ]);
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('exit', () => {
      const m = /RESULT (\d+) (\d+) (\d+) (\d+) (\d+)/.exec(out);
      if (!m) return reject(new Error(`wrk gave no result for ${s.name} ${sc.path}:\n${out}`));
      const [requests, durationUs, p99Us, statusErrors, socketErrors] = m.slice(1).map(Number);
      resolve({ requests, durationUs, p99Us, statusErrors, socketErrors });
    });
  });
}

// A server's processes: itself and, for a cluster, its workers.
function processes(pid) {
  const pids = [pid];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid)
        pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

function cpuTicks(pids) {
  let ticks = 0;
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(f[11]) + Number(f[12]); // utime + stime, the whole process
  }
  return ticks;
}

const rssMB = (pids) =>
  pids.reduce(
    (mb, pid) =>
      mb + Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024,
    0,
  );

// wrk stops with up to 1,000 requests in flight, and a server goes on answering those it had
// already received, on the CPU the next server's round then runs on: raw node:http validating
// 20 items by hand kept CPU 0 busy for a third of a second after its 1 s rounds, and the server
// after it in the rotation (rococo, on every round) lost that share of its own. A round starts
// once the previous server has used no CPU for 50 ms (at most 5 s).
async function settle(s) {
  const until = Date.now() + 5000;
  let last = cpuTicks(s.pids);
  while (Date.now() < until) {
    await sleep(50);
    const now = cpuTicks(s.pids);
    if (now === last) return;
    last = now;
  }
}

async function measure(sc) {
  const servers = await startAll(serversFor(sc));
  try {
    const script = luaScript(sc, 10);
    const single = luaScript(sc, 1);
    for (const s of servers) {
      await wrk(s, sc, script, MODE.warmup);
      // After the warm-up: a cluster's workers have all started.
      s.pids = processes(s.pid);
      await settle(s);
    }
    const samples = new Map(servers.map((s) => [s, []]));
    const p99 = new Map(servers.map((s) => [s, []]));
    for (let round = 0; round < roundsOf(sc); round++) {
      // Alternate: each round starts with the next server.
      for (let i = 0; i < servers.length; i++) {
        const s = servers[(i + round) % servers.length];
        const before = cpuTicks(s.pids);
        const r = await wrk(s, sc, script, MODE.duration);
        const cpuUs = ((cpuTicks(s.pids) - before) * 1e6) / CLK_TCK;
        await settle(s);
        if (r.statusErrors > 0)
          throw new Error(`${s.name}: ${r.statusErrors} non-2xx/3xx answers on ${sc.path}`);
        samples.get(s).push({
          rps: r.requests / (r.durationUs / 1e6),
          cpu: cpuUs / r.requests,
          errors: r.socketErrors,
        });
        if (round < MODE.latency) {
          p99.get(s).push((await wrk(s, sc, single, MODE.duration)).p99Us / 1000);
          await settle(s);
        }
      }
    }
    keepSamples(sc, servers, samples);
    return servers.map((s) => {
      const xs = samples.get(s);
      const rps = xs.map((x) => x.rps);
      return {
        name: s.name,
        id: s.id,
        floor: s.floor,
        rps: median(rps),
        min: Math.min(...rps),
        max: Math.max(...rps),
        p99: median(p99.get(s)),
        cpu: median(xs.map((x) => x.cpu)),
        rss: rssMB(s.pids),
        errors: xs.reduce((a, x) => a + x.errors, 0),
      };
    });
  } finally {
    await Promise.all(servers.map(stop));
  }
}

// WebSockets: one ws-load.js process on CPU 1 holds every server's sockets, from round to round.
function wsClient() {
  const child = spawn('taskset', ['-c', '1', process.execPath, join(BENCH, 'ws-load.js')], {
    cwd: BENCH,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  running.add(child);
  let gone = null;
  child.once('exit', (code) => {
    running.delete(child);
    gone = new Error(`ws-load.js exited (${code})`);
  });
  const ask = (cmd) =>
    new Promise((resolve, reject) => {
      if (gone) return reject(gone);
      const onExit = () => reject(gone);
      child.once('exit', onExit);
      child.once('message', (m) => {
        child.off('exit', onExit);
        if (m.ok) resolve(m);
        else reject(new Error(`ws-load.js ${cmd.cmd}: ${m.error}`));
      });
      child.send(cmd);
    });
  return { ask, kill: () => child.kill('SIGKILL') };
}

async function measureWs(sc) {
  const servers = await startAll(serversFor(sc));
  const client = wsClient();
  try {
    await client.ask({
      cmd: 'setup',
      scenario: sc.id,
      ports: servers.map((s) => s.port),
      clk: CLK_TCK,
    });
    const run = (i, seconds) => client.ask({ cmd: 'run', target: i, pid: servers[i].pid, seconds });
    for (let i = 0; i < servers.length; i++) await run(i, WS_MODE.warmup);
    const samples = new Map(servers.map((s) => [s, []]));
    for (let round = 0; round < WS_MODE.rounds; round++) {
      for (let j = 0; j < servers.length; j++) {
        const i = (j + round) % servers.length;
        const r = await run(i, WS_MODE.duration);
        samples.get(servers[i]).push({
          rps: r.count / r.seconds,
          cpu: r.serverCpuUs / r.count,
          p99: r.p99,
          server: r.serverCpuUs / 1e6 / r.seconds,
          client: r.clientBusy,
        });
      }
    }
    keepSamples(sc, servers, samples);
    // RSS with the scenario's sockets still open.
    const rss = servers.map((s) => rssMB([s.pid]));
    await client.ask({ cmd: 'close' });
    return servers.map((s, i) => {
      const xs = samples.get(s);
      const rps = xs.map((x) => x.rps);
      return {
        name: s.wsName ?? s.name,
        id: s.id,
        floor: s.floor,
        rps: median(rps),
        min: Math.min(...rps),
        max: Math.max(...rps),
        p99: median(xs.map((x) => x.p99)),
        cpu: median(xs.map((x) => x.cpu)),
        rss: rss[i],
        busy: `${(median(xs.map((x) => x.server)) * 100).toFixed(0)}/${(median(xs.map((x) => x.client)) * 100).toFixed(0)}%`,
        errors: 0,
      };
    });
  } finally {
    client.kill();
    await Promise.all(servers.map(stop));
  }
}

// --- output ------------------------------------------------------------------------------------
const k = (n) => (n >= 1000 ? `${(n / 1000).toFixed(1)}k` : n.toFixed(0));

function table(sc, rows) {
  const raw = rows.find((r) => r.floor);
  const head = [
    'server',
    `${sc.unit ?? 'req'}/s median (min-max)`,
    'p99 ms',
    `CPU µs/${sc.per ?? 'req'}`,
    'RSS MB',
    'x raw',
  ];
  if (sc.websocket) head.push('busy server/client');
  // A plugin scenario: what the plugin adds to its server's CPU per request without it.
  const plugin = sc.servers !== undefined;
  if (plugin) head.push('plugin CPU cost');
  const cost = (r) => {
    const base = rows.find((b) => b.id === SERVERS.find((s) => s.id === r.id)?.base);
    if (!base) return '';
    const pct = Math.round((r.cpu / base.cpu - 1) * 100);
    return `${pct >= 0 ? '+' : ''}${pct}%`;
  };
  const body = rows.map((r) => [
    r.name + (r.errors ? ` (${r.errors} socket errors)` : ''),
    `${k(r.rps)} (${k(r.min)}-${k(r.max)})`,
    r.p99.toFixed(1),
    r.cpu.toFixed(1),
    r.rss.toFixed(0),
    raw ? `${(r.rps / raw.rps).toFixed(2)}x` : '-',
    ...(sc.websocket ? [r.busy] : []),
    ...(plugin ? [cost(r)] : []),
  ]);
  // The WebSocket scenarios only run on the servers that have them (see the notes).
  if (!sc.websocket && sc.only !== 'cluster' && !plugin)
    for (const s of SERVERS)
      if (!s.scenarios && !rows.some((r) => r.id === s.id))
        body.push([s.name, 'n/a', '', '', '', '']);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const sep = `| ${widths.map((w, i) => (i === 0 ? '-'.repeat(w) : '-'.repeat(w - 1) + ':')).join(' | ')} |`;
  return [`### ${sc.title}`, '', line(head), sep, ...body.map(line), ''].join('\n');
}

const PEERS = [
  'fastify',
  'express',
  'koa',
  '@koa/router',
  'hono',
  '@hono/node-server',
  '@nestjs/core',
  'routing-controllers',
  'nunjucks',
  'pg',
  'class-validator',
  'ws',
  '@fastify/cors',
  '@fastify/helmet',
  '@fastify/rate-limit',
  '@fastify/compress',
  '@nestjs/websockets',
  '@nestjs/platform-ws',
];
const version = (dir) => require(join(dir, 'package.json')).version;
const versions = () => {
  const v = PEERS.map((p) => `${p} ${version(join(BENCH, 'node_modules', p))}`);
  // rococo's ws is the root's; @nestjs/platform-ws pins its own.
  v.push(`rococo's ws ${version(join(BENCH, '..', 'node_modules', 'ws'))}`);
  try {
    v.push(
      `@nestjs/platform-ws's ws ${version(join(BENCH, 'node_modules', '@nestjs', 'platform-ws', 'node_modules', 'ws'))}`,
    );
  } catch {
    // it uses the same ws
  }
  return v.join(', ');
};

async function main() {
  const http = SCENARIOS.filter((sc) => !sc.websocket);
  const ws = SCENARIOS.filter((sc) => sc.websocket).reduce((n, sc) => n + serversFor(sc).length, 0);
  const estimate =
    http.reduce(
      (t, sc) =>
        t + serversFor(sc).length * (MODE.warmup + (roundsOf(sc) + MODE.latency) * MODE.duration),
      0,
    ) +
    ws * (WS_MODE.warmup + WS_MODE.rounds * WS_MODE.duration + 2) +
    SCENARIOS.length * 5;
  const machine = describeMachine();
  console.log(
    `rococo bench, ${MODE.name}: ${SERVERS.length} servers, ${SCENARIOS.length} scenarios, ${MODE.rounds} rounds${http
      .filter((sc) => roundsOf(sc) !== MODE.rounds)
      .map((sc) => ` (${sc.id} ${roundsOf(sc)})`)
      .join('')}: about ${Math.ceil(estimate / 60)} min`,
  );
  const busy = await machineBusy(1000);
  if (busy > 0.1)
    console.warn(
      `warning: the machine is already ${(busy * 100).toFixed(0)}% busy with other work: figures will be noisy`,
    );
  if (SCENARIOS.some((s) => s.id === 'db')) await prepareDatabase(DATABASE_URL);

  const all = await startAll(SERVERS);
  try {
    for (const sc of SCENARIOS)
      for (const s of all)
        if (serversFor(sc).includes(SERVERS.find((x) => x.id === s.id))) await verify(sc, s);
  } finally {
    await Promise.all(all.map(stop));
  }
  console.log('every server answers every scenario correctly\n');

  const tables = [];
  for (const sc of SCENARIOS) {
    const t = table(sc, await (sc.websocket ? measureWs(sc) : measure(sc)));
    console.log(t);
    tables.push(t);
  }

  const md = [
    '# rococo benchmarks',
    '',
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, Node ${process.version}, ${machine}. Mode: ${MODE.name}` +
      ` (\`npm run bench${QUICK ? ' -- --quick' : ''}\`): ${MODE.warmup} s warm-up per server, then ${MODE.rounds} alternating` +
      ` rounds of ${MODE.duration} s, ${MODE.latency} of them followed by a latency round.` +
      ` Machine busy with other work just before the run: ${(busy * 100).toFixed(0)}%.`,
    '',
    '- Each server runs in its own process pinned to CPU 0; `wrk -t1 -c100` runs on CPU 1, pipelining 10.',
    '  A round starts once the server before it has used no CPU for 50 ms: a server goes on answering',
    '  the requests in flight when wrk stops, on the CPU the next round runs on.',
    "- req/s: median of the rounds (min-max). x raw: that median over raw node:http's, in the same run.",
    "- CPU µs/req: the server's own utime+stime over a round divided by the requests it answered",
    '  (median of the rounds): a figure that does not depend on the load generator.',
    '- p99: median of the latency rounds, 100 connections without pipelining (wrk corrects latency',
    '  for one request in flight per connection, so its percentiles mean nothing with pipelining).',
    '  This VM stalls now and then: p99 is the noisiest column.',
    '- -w 2: two workers (node:cluster forking the raw server; `rococo serve -w 2` on the same app),',
    '  unpinned, with wrk on the same two cores: req/s is what the machine gives both together, and',
    '  CPU µs/req and RSS add the master and the workers. Both with the same cluster scheduling',
    `  policy, NODE_CLUSTER_SCHED_POLICY=${CLUSTER_POLICY} (${CLUSTER_POLICY === 'none' ? "rococo serve's: the workers accept themselves" : 'round robin: the master accepts and hands connections over'}).`,
    '- RSS: after the last round. PostgreSQL runs on the same machine, unpinned: /db is bound by it,',
    '  and its rounds swing the most: a full run gives /db 7 rounds instead of 3, and the rows the',
    `  speed goals are read from (GET /, validation, -w 2) ${GOAL_ROUNDS}.`,
    '- Express 5, Koa (@koa/router) and NestJS take no regex in paths (path-to-regexp 8): they check',
    '  `\\d+` in the handler. routing-controllers runs on its own Express 4.',
    ...(SCENARIOS.some((sc) => sc.websocket)
      ? [
          `- WebSocket scenarios: ${WS_MODE.warmup} s warm-up per server, ${WS_MODE.rounds} alternating rounds of ${WS_MODE.duration} s, on raw \`ws\``,
          '  (the floor: a WebSocketServer on the same node:http server), rococo (`@WebSocket`, the `Hub` for',
          '  the fan-out) and NestJS gateways on `WsAdapter` (the Fastify server; its Express twin serves the',
          '  same gateways through the same adapter). The load is `bench/ws-load.js`, one Node process on CPU 1',
          '  that writes prebuilt frames and only reads frame headers back (the `ws` package checks every',
          "  answer first). Every server gets the same bytes and sends them back unchanged: Nest's {event, data}",
          '  messages, which raw and rococo relay as text and Nest parses and serializes again.',
          `- echo: ${WS.ECHO.connections} connections, ${WS.ECHO.window} messages in flight each; messages/s echoed, p99 of the round trip`,
          `  with ${WS.ECHO.window} in flight. The client sends the messages replacing a batch of echoes in one write: a server that`,
          '  answers the messages of one read in one write (rococo) makes fewer system calls than one that writes each (ws, Nest).',
          `  echo, one at a time: ${WS.ECHO_1.connections} connections, ${WS.ECHO_1.window} message in flight each: what a message costs alone.`,
          `  fan-out: ${WS.FANOUT.subscribers.toLocaleString('en')} subscribers, one publisher keeping ${WS.FANOUT.window} messages in flight`,
          `  (a message is done when all ${WS.FANOUT.subscribers.toLocaleString('en')} got it); deliveries/s = messages x subscribers, p99 from publish to`,
          '  delivery. CPU µs per message echoed or delivered; RSS with the sockets open. busy: the share of its',
          '  core the server and the load client used over a round (medians): the one near 100% set the pace.',
        ]
      : []),
    `- Versions: ${versions()}.`,
    '',
    ...tables,
  ].join('\n');
  mkdirSync(join(BENCH, 'results'), { recursive: true });
  writeFileSync(join(BENCH, 'results', 'latest.md'), md);
  console.log('written to bench/results/latest.md');
}

main().catch((e) => {
  console.error(e.message ?? e);
  process.exit(1);
});
