#!/usr/bin/env node
'use strict';
// Instructions per request, counted by valgrind's callgrind: repeatable within a percent where
// req/s and CPU time swing by 20% on a shared machine. `npm run bench:callgrind -- --server
// rococo --path /projects/42` builds what `npm run bench` builds, then, per run:
//
// - starts the server alone under `valgrind --tool=callgrind --instr-atstart=no` (not counting,
//   valgrind runs node about three times faster: start-up and warm-up take 30-60 s instead of
//   2-3 minutes), pinned to CPU 0, and waits until it answers the path with a 200;
// - waits --settle seconds (12): timers armed at start-up fire before the warm-up, not among the
//   counted requests (pg's pool closes rococo's start-up check connection after 10 s idle, and a
//   socket closing deoptimizes the stream code every request runs through);
// - sends the warm-up (20,000 requests: before it, V8 is still compiling the hot paths) from
//   keepalive-client.js, a process of its own on CPU 1 (http.Agent, 10 sockets, no pipelining);
// - turns counting on (`callgrind_control --instr=on`), sends requests for --settle seconds more
//   and drops their count (see measure()), then sends --batches batches of
//   --requests requests with `callgrind_control --dump` after each: a dump holds the
//   instructions since the one before, so each batch is its own (total2 - total1) / (N2 - N1),
//   in one process, with nothing of start-up or exit in it. A run's figure is the median batch:
//   batches agree within 1% when nothing but requests ran in them, and one that does not has
//   paid for a one-off (a timer's rare path first taken, deoptimized, compiled again), which the
//   median leaves out and the mean over all batches, printed next to it, keeps.
//
// node runs with --single-threaded (no V8 worker threads: compiling and collecting happen on the
// thread callgrind counts, none of it racing the event loop) and with its young generation fixed
// at its native size under load and no memory reducer: V8 sizes the one and runs the other from
// bytes allocated per millisecond of wall time, and under callgrind, 100x slower, it judges the
// server idle: it shrinks the young generation to 1 MB and runs full collections, and batches
// then differ by up to 2.3x. Nothing else is changed: no --jitless, no --predictable.
//
// Options: --server ID (rococo, raw, fastify, express, koa, hono, nest-express, nest-fastify,
// routing-controllers), --path /x (GET), --body JSON (a POST of that JSON to --path instead;
// --body @FILE reads it from a file), --origin URL (an Origin header: what CORS reads; with
// PLUGIN=cors in the environment), --warmup 20000, --requests 3000, --batches 5,
// --runs 1 (a fresh server each), --settle 12, --out FILE (appends a line), --no-build,
// --keep (keeps the dumps for callgrind_annotate), --trace (--keep, and the server's
// --trace-gc --trace-opt --trace-deopt with a line at each dump: what happened in a batch).
//
// --ws echo: instructions per WebSocket message echoed instead (servers raw, rococo,
// nest-fastify: run.js's ws-echo scenario). The load is run.js's, ws-load.js on CPU 1 (100
// connections to /ws/echo, 10 messages in flight each; --ws echo-1: one in flight each);
// --warmup, --requests (messages per batch) and the settling count messages, and each run of
// the load ends once every message it sent came back, so a batch's dump divides by the messages
// echoed in it. `npm run bench:callgrind -- --ws echo --server rococo --requests 20000`.
const { spawn, execFileSync } = require('node:child_process');
const http = require('node:http');
const {
  readFileSync,
  appendFileSync,
  mkdtempSync,
  rmSync,
  existsSync,
  openSync,
  closeSync,
} = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { ensureTool, freePort, machineBusy, describeMachine } = require('./machine');

const WS = require('./ws-load');

const BENCH = __dirname;
const ROOT = join(BENCH, '..');
const SERVERS = {
  raw: 'servers/raw.js',
  rococo: 'dist/rococo.js',
  fastify: 'servers/fastify.js',
  express: 'servers/express.js',
  koa: 'servers/koa.js',
  hono: 'servers/hono.js',
  'nest-express': 'dist/nest-express.js',
  'nest-fastify': 'dist/nest-fastify.js',
  'routing-controllers': 'dist/routing-controllers.js',
};
// The servers of run.js's WebSocket scenarios.
const WS_SERVERS = ['raw', 'rococo', 'nest-fastify'];
// The young generation of node 20 on 64 bits under load: two semi-spaces of 16 MB, its maximum
// (rococo reaches it within the warm-up; raw node:http's stays at 8 MB longer).
const NODE_FLAGS = [
  '--single-threaded',
  '--no-memory-reducer',
  '--min-semi-space-size=16',
  '--max-semi-space-size=16',
];
const TRACE_FLAGS = ['--trace-gc', '--trace-opt', '--trace-deopt'];
// Batches of one run further apart than this: something besides requests ran in one of them
// (3,000 requests hold one or two young-generation collections: 0.1-0.7% apart).
const BATCH_SPREAD = 0.01;

function options(argv) {
  const o = {
    server: 'rococo',
    path: '/',
    origin: '',
    body: '',
    ws: '',
    warmup: 20_000,
    requests: 3_000,
    batches: 5,
    runs: 1,
    settle: 12,
    out: null,
    build: true,
    keep: false,
    trace: false,
  };
  const switches = { 'no-build': ['build', false], keep: ['keep', true], trace: ['trace', true] };
  for (let i = 0; i < argv.length; i++) {
    let [name, value] = argv[i].replace(/^--/, '').split(/=(.*)/s);
    if (name in switches) {
      o[switches[name][0]] = switches[name][1];
      continue;
    }
    if (!(name in o) || typeof o[name] === 'boolean')
      throw new Error(`unknown option ${argv[i]} (see the top of bench/callgrind.js)`);
    if (value === undefined) value = argv[++i];
    if (value === undefined) throw new Error(`--${name} needs a value`);
    if (name === 'out' || typeof o[name] === 'string') o[name] = value;
    else {
      const n = Number(value.replace(/_/g, ''));
      if (!Number.isInteger(n) || n < (name === 'warmup' || name === 'settle' ? 0 : 1))
        throw new Error(`--${name} must be a whole number, got ${value}`);
      o[name] = n;
    }
  }
  if (!(o.server in SERVERS))
    throw new Error(`unknown server ${o.server} (known: ${Object.keys(SERVERS).join(', ')})`);
  if (!o.path.startsWith('/')) throw new Error(`--path must start with /, got ${o.path}`);
  if (o.trace) o.keep = true;
  if (o.body.startsWith('@')) o.body = readFileSync(o.body.slice(1), 'utf8');
  if (o.body) JSON.parse(o.body); // a typo fails here, not as 400s after the warm-up
  if (o.ws !== '' && o.ws !== 'echo' && o.ws !== 'echo-1')
    throw new Error(`--ws: echo or echo-1, got ${o.ws}`);
  if (o.ws && !WS_SERVERS.includes(o.server))
    throw new Error(`--ws: ${o.server} has no WebSocket echo (${WS_SERVERS.join(', ')} have)`);
  return o;
}

// What `npm run bench` builds: bench/'s dependencies, rococo's dist/, bench's own TypeScript.
function build() {
  const npm = (cwd, ...args) =>
    execFileSync('npm', args, { cwd, stdio: ['ignore', 'ignore', 'inherit'] });
  if (!existsSync(join(BENCH, 'node_modules'))) npm(BENCH, 'ci');
  npm(ROOT, 'run', 'build');
  npm(BENCH, 'run', 'build');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const children = new Set();
process.on('exit', () => children.forEach((p) => p.kill('SIGKILL')));
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
  ['SIGHUP', 129],
])
  process.on(signal, () => process.exit(code));
const track = (child) => {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
};

// One request on a connection of its own, closed after it (`Connection: close`): a keep-alive
// connection left open would be closed by its idle timeout among the counted requests.
const probe = (port, path) =>
  new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      })
      .on('error', reject);
  });

// The server under callgrind, not counting yet. Its dumps go to `${file}.1`, `.2`...
async function startServer(o, port, dir) {
  const file = join(dir, 'callgrind.out');
  const log = o.trace ? join(dir, 'server.log') : null;
  // O_APPEND: the dump markers of traceMark() land between the server's lines.
  const out = log ? openSync(log, 'a') : 'ignore';
  const valgrind = [
    'valgrind',
    '--tool=callgrind',
    '--instr-atstart=no',
    `--callgrind-out-file=${file}`,
  ];
  const node = [
    process.execPath,
    ...NODE_FLAGS,
    ...(o.trace ? TRACE_FLAGS : []),
    join(BENCH, SERVERS[o.server]),
  ];
  const child = track(
    spawn('taskset', ['-c', '0', ...valgrind, ...node], {
      cwd: BENCH,
      env: { ...process.env, PORT: String(port), NODE_ENV: 'production' },
      stdio: ['ignore', out, 'pipe'],
    }),
  );
  if (log) closeSync(out);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  // taskset execs valgrind, which runs node in the same process: one pid for all three.
  const server = { child, pid: child.pid, file, log, parts: 0 };
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`${o.server} exited during startup:\n${stderr.slice(-2000)}`);
    // A POST is checked by the first batch: up means answering GET / (every bench server does).
    const probed = o.body ? '/' : o.path;
    const status = await probe(port, probed).catch(() => null);
    if (status === 200) return server;
    if (status !== null)
      throw new Error(`${o.server} answers GET ${probed} with ${status}, not 200`);
    await sleep(250);
  }
  throw new Error(`${o.server} did not answer under valgrind within 180 s`);
}

const control = (server, ...args) =>
  execFileSync('callgrind_control', [...args, String(server.pid)], { stdio: 'ignore' });
const traceMark = (server, text) =>
  server.log && appendFileSync(server.log, `### ${new Date().toISOString()} ${text}\n`);

// The instructions since the last dump, or since counting started.
function dump(server, label) {
  control(server, `--dump=${label}`);
  traceMark(server, `dump ${label}`);
  const part = `${server.file}.${++server.parts}`;
  const m = /^totals:\s*(\d+)/m.exec(readFileSync(part, 'utf8'));
  if (m === null) throw new Error(`no totals in ${part}`);
  return Number(m[1]);
}

function stopServer(server) {
  if (server.child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    server.child.once('exit', resolve);
    server.child.kill('SIGKILL'); // the counts are in the dumps: nothing to wait for
  });
}

function client() {
  const child = track(
    spawn('taskset', ['-c', '1', process.execPath, join(BENCH, 'keepalive-client.js')], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  const send = (m) =>
    new Promise((resolve, reject) => {
      const onExit = (code) => reject(new Error(`keepalive-client.js exited (${code})`));
      child.once('exit', onExit);
      child.once('message', (r) => {
        child.off('exit', onExit);
        if (r.ok) resolve(r.statuses);
        else reject(new Error(`keepalive-client.js: ${r.error}`));
      });
      child.send(m);
    });
  return { send, kill: () => child.kill('SIGKILL') };
}

// --ws echo: ws-load.js, driven as run.js drives it; send(n) resolves to the messages echoed.
function wsClient(port, pid, scenario) {
  const child = track(
    spawn('taskset', ['-c', '1', process.execPath, join(BENCH, 'ws-load.js')], {
      cwd: BENCH,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  const ask = (m) =>
    new Promise((resolve, reject) => {
      const onExit = (code) => reject(new Error(`ws-load.js exited (${code})`));
      child.once('exit', onExit);
      child.once('message', (r) => {
        child.off('exit', onExit);
        if (r.ok) resolve(r);
        else reject(new Error(`ws-load.js ${m.cmd}: ${r.error}`));
      });
      child.send(m);
    });
  let ready = null;
  const send = async (messages) => {
    ready ??= ask({ cmd: 'setup', scenario, ports: [port], clk: 100 });
    await ready;
    return (await ask({ cmd: 'run', target: 0, pid, messages })).total;
  };
  return { send, kill: () => child.kill('SIGKILL') };
}

async function measure(o) {
  const dir = mkdtempSync(join(tmpdir(), 'rococo-callgrind-'));
  const port = await freePort();
  let t = Date.now();
  const seconds = () => {
    const s = (Date.now() - t) / 1000;
    t = Date.now();
    return s;
  };
  let server = null;
  let load = null;
  try {
    server = await startServer(o, port, dir);
    if (o.ws) await WS.check(port, `ws-${o.ws}`);
    load = o.ws ? wsClient(port, server.pid, `ws-${o.ws}`) : client();
    const startup = seconds();
    // What send() sent: the requests asked for, or the messages echoed (a few more).
    const send = async (requests) => {
      if (o.ws) return load.send(requests);
      const headers = o.origin ? { origin: o.origin } : {};
      if (o.body) headers['content-type'] = 'application/json';
      const method = o.body ? 'POST' : 'GET';
      const body = o.body || undefined;
      const statuses = await load.send({ port, method, path: o.path, headers, body, requests });
      const bad = Object.entries(statuses).filter(([s]) => s !== '200');
      if (bad.length)
        throw new Error(
          `${o.server}: ${bad.map(([s, n]) => `${n} x ${s}`).join(', ')} on ${method} ${o.path}`,
        );
      return requests;
    };
    await sleep(o.settle * 1000);
    seconds();
    traceMark(server, 'warm-up');
    if (o.warmup > 0) await send(o.warmup);
    const warmup = seconds();
    control(server, '--instr=on');
    // Counting slows the server three times more, and what that changes in time happens during
    // --settle seconds of requests that are not counted: with fewer queries in flight, pg's pool
    // closes the connections left idle for 10 s, and the closes deoptimize the stream code.
    let settling = 0;
    const until = Date.now() + o.settle * 1000;
    while (Date.now() < until) settling += await send(500);
    dump(server, 'settled');
    const settled = seconds();
    const batches = [];
    for (let i = 1; i <= o.batches; i++) {
      const sent = await send(o.requests);
      const total = dump(server, `batch-${i}`);
      batches.push({ total, sent, perRequest: total / sent, seconds: seconds() });
    }
    return { startup, warmup, settling, settled, batches, dir };
  } finally {
    load?.kill();
    if (server !== null) await stopServer(server);
    if (!o.keep) rmSync(dir, { recursive: true, force: true });
  }
}

const k = (n) => `${(n / 1000).toFixed(1)}k`;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const spread = (xs) => (Math.max(...xs) - Math.min(...xs)) / Math.min(...xs);
const pct = (x) => `${(x * 100).toFixed(1)}%`;

async function main() {
  const o = options(process.argv.slice(2));
  ensureTool('valgrind', ['--version']);
  if (o.build) {
    console.log('building: npm run build, npm --prefix bench run build...');
    build();
  }
  // The table of the /db route, as `npm run bench` makes it.
  if (o.path === '/db') await require('./database').prepareDatabase();
  const busy = await machineBusy(1000);
  const plan = `${o.warmup} warm-up + ${o.batches} x ${o.requests}`;
  const what = o.ws ? `WebSocket ${o.ws}` : `${o.body ? 'POST' : 'GET'} ${o.path}`;
  const unit = o.ws ? 'message' : 'request';
  console.log(
    `${o.server}, ${what}: ${o.runs} run(s) of ${plan} ${unit}s; Node ${process.version}, ${describeMachine()}, ${pct(busy)} busy with other work`,
  );
  const runs = [];
  for (let r = 1; r <= o.runs; r++) {
    const m = await measure(o);
    const perRequest = median(m.batches.map((b) => b.perRequest));
    const mean =
      m.batches.reduce((a, b) => a + b.total, 0) / m.batches.reduce((a, b) => a + b.sent, 0);
    runs.push(perRequest);
    console.log(
      `run ${r}: ${k(perRequest)} instructions/${unit} (median batch; mean ${k(mean)}); batches ${m.batches.map((b) => `${k(b.perRequest)} (${b.total}, ${b.seconds.toFixed(0)} s)`).join(', ')}; ` +
        `start-up ${m.startup.toFixed(0)} s, warm-up ${m.warmup.toFixed(0)} s, ${m.settling} ${unit}s in ${m.settled.toFixed(0)} s not counted${o.keep ? `; kept ${m.dir}` : ''}`,
    );
    const s = spread(m.batches.map((b) => b.perRequest));
    if (s > BATCH_SPREAD)
      console.log(
        `  the batches of run ${r} differ by ${pct(s)}: something besides requests ran in one (a collection, a deoptimization; --trace shows it)`,
      );
  }
  if (o.runs > 1) console.log(`runs: ${runs.map(k).join(', ')}: spread ${pct(spread(runs))}`);
  const after = await machineBusy(1000);
  console.log(`machine busy with other work: ${pct(busy)} before, ${pct(after)} after`);
  if (o.out) {
    const git = (...args) => execFileSync('git', args, { cwd: ROOT }).toString().trim();
    const commit =
      git('rev-parse', '--short', 'HEAD') +
      (git('status', '--porcelain', '--untracked-files=no') ? '+changes' : '');
    const fields = [
      new Date().toISOString().slice(0, 16),
      commit,
      o.server,
      what,
      plan,
      runs.map((x) => x.toFixed(0)).join(','),
      `${pct(busy)}/${pct(after)}`,
    ];
    if (!existsSync(o.out))
      appendFileSync(
        o.out,
        [
          'utc',
          'commit',
          'server',
          'request',
          'requests',
          'instructions/request (each run)',
          'machine busy before/after',
        ].join('\t') + '\n',
      );
    appendFileSync(o.out, fields.join('\t') + '\n');
    console.log(`appended to ${o.out}`);
  }
}

main().catch((e) => {
  console.error(e.message ?? e);
  process.exit(1);
});
