#!/usr/bin/env node
'use strict';
// Instructions per request in each process of a cluster: the master and its one worker, counted
// by callgrind as callgrind.js counts one process (read its header: warm-up, --settle, batches
// between dumps, the median batch). `node bench/callgrind-cluster.js --server rococo-serve`
// runs `rococo serve dist/rococo-app.js -w 1` (raw-cluster: servers/raw-cluster.js with
// WORKERS=1) under `valgrind --trace-children=yes`: the master and the worker it forks both run
// under callgrind, neither counting until the warm-up is over. One worker, so that every request
// goes to it and a batch's count divides by the batch's requests.
//
// Options: --server rococo-serve|raw-cluster, --path /x, --policy rr|none (sets
// NODE_CLUSTER_SCHED_POLICY; default: what each server does without it), --warmup 20000,
// --requests 3000, --batches 5, --settle 12, --no-build, --keep.
const { spawn, execFileSync } = require('node:child_process');
const http = require('node:http');
const { readFileSync, readdirSync, mkdtempSync, rmSync, existsSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { ensureTool, freePort, machineBusy, describeMachine } = require('./machine');

const BENCH = __dirname;
const ROOT = join(BENCH, '..');
const SERVERS = {
  'rococo-serve': (port) => [
    '../dist/src/cli/main.js',
    'serve',
    'dist/rococo-app.js',
    '-w',
    '1',
    '-b',
    `127.0.0.1:${port}`,
    // Under valgrind on a busy machine a worker's start-up alone can outlast the default 30 s
    // without a heartbeat, and the master would kill it. The heartbeat is sent as usual.
    '--timeout',
    '300',
  ],
  'raw-cluster': () => ['servers/raw-cluster.js'],
};
// callgrind.js's flags (see there why); a worker inherits them (cluster.fork passes execArgv).
const NODE_FLAGS = [
  '--single-threaded',
  '--no-memory-reducer',
  '--min-semi-space-size=16',
  '--max-semi-space-size=16',
];

function options(argv) {
  const o = {
    server: 'rococo-serve',
    path: '/',
    policy: '',
    warmup: 20_000,
    requests: 3_000,
    batches: 5,
    settle: 12,
    build: true,
    keep: false,
  };
  for (let i = 0; i < argv.length; i++) {
    let [name, value] = argv[i].replace(/^--/, '').split(/=(.*)/s);
    if (name === 'no-build') o.build = false;
    else if (name === 'keep') o.keep = true;
    else {
      if (!(name in o) || typeof o[name] === 'boolean')
        throw new Error(`unknown option ${argv[i]}`);
      if (value === undefined) value = argv[++i];
      o[name] = typeof o[name] === 'number' ? Number(value) : value;
    }
  }
  if (!(o.server in SERVERS)) throw new Error(`unknown server ${o.server}`);
  return o;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const children = new Set();
process.on('exit', () => children.forEach((p) => p.kill('SIGKILL')));
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));
const track = (child) => {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
};

const probe = (port, path) =>
  new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      })
      .on('error', reject);
  });

function childrenOf(pid) {
  const out = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid)
        out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const control = (pid, ...args) =>
  execFileSync('callgrind_control', [...args, String(pid)], { stdio: 'ignore' });

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

async function measure(o) {
  const dir = mkdtempSync(join(tmpdir(), 'rococo-callgrind-cluster-'));
  const port = await freePort();
  const file = join(dir, 'callgrind.out');
  const env = { ...process.env, PORT: String(port), NODE_ENV: 'production', WORKERS: '1' };
  if (o.policy) env.NODE_CLUSTER_SCHED_POLICY = o.policy;
  else delete env.NODE_CLUSTER_SCHED_POLICY;
  const master = track(
    spawn(
      'taskset',
      [
        '-c',
        '0',
        'valgrind',
        '--tool=callgrind',
        '--trace-children=yes',
        '--instr-atstart=no',
        `--callgrind-out-file=${file}.%p`,
        process.execPath,
        ...NODE_FLAGS,
        ...SERVERS[o.server](port),
      ],
      { cwd: BENCH, env, stdio: ['ignore', 'ignore', 'pipe'] },
    ),
  );
  let stderr = '';
  master.stderr.on('data', (d) => (stderr += d));
  let load = null;
  try {
    const deadline = Date.now() + 240_000;
    for (;;) {
      if (master.exitCode !== null)
        throw new Error(`exited during startup:\n${stderr.slice(-2000)}`);
      if (Date.now() > deadline) throw new Error('no answer within 240 s');
      const status = await probe(port, o.path).catch(() => null);
      if (status === 200) break;
      await sleep(250);
    }
    const workers = childrenOf(master.pid);
    if (workers.length !== 1) throw new Error(`expected one worker, found ${workers}`);
    const pids = { master: master.pid, worker: workers[0] };
    const parts = { master: 0, worker: 0 };
    const dump = (who, label) => {
      control(pids[who], `--dump=${label}`);
      const part = `${file}.${pids[who]}.${++parts[who]}`;
      const m = /^totals:\s*(\d+)/m.exec(readFileSync(part, 'utf8'));
      if (m === null) throw new Error(`no totals in ${part}`);
      return Number(m[1]);
    };
    load = client();
    const send = async (requests) => {
      const statuses = await load.send({
        port,
        method: 'GET',
        path: o.path,
        headers: {},
        requests,
      });
      const bad = Object.keys(statuses).filter((s) => s !== '200');
      if (bad.length) throw new Error(`answers ${JSON.stringify(statuses)} on GET ${o.path}`);
    };
    await sleep(o.settle * 1000);
    if (o.warmup > 0) await send(o.warmup);
    control(pids.master, '--instr=on');
    control(pids.worker, '--instr=on');
    const until = Date.now() + o.settle * 1000;
    while (Date.now() < until) await send(500);
    dump('master', 'settled');
    dump('worker', 'settled');
    const batches = [];
    for (let i = 1; i <= o.batches; i++) {
      await send(o.requests);
      batches.push({
        master: dump('master', `batch-${i}`) / o.requests,
        worker: dump('worker', `batch-${i}`) / o.requests,
      });
    }
    return { batches, dir };
  } finally {
    load?.kill();
    if (master.exitCode === null) {
      const gone = new Promise((r) => master.once('exit', r));
      for (const pid of childrenOf(master.pid)) process.kill(pid, 'SIGKILL');
      master.kill('SIGKILL');
      await gone;
    }
    if (!o.keep) rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const k = (n) => `${(n / 1000).toFixed(1)}k`;

async function main() {
  const o = options(process.argv.slice(2));
  ensureTool('valgrind', ['--version']);
  if (o.build) {
    const npm = (cwd, ...args) =>
      execFileSync('npm', args, { cwd, stdio: ['ignore', 'ignore', 'inherit'] });
    if (!existsSync(join(BENCH, 'node_modules'))) npm(BENCH, 'ci');
    npm(ROOT, 'run', 'build');
    npm(BENCH, 'run', 'build');
  }
  const busy = await machineBusy(1000);
  console.log(
    `${o.server} -w 1${o.policy ? ` (NODE_CLUSTER_SCHED_POLICY=${o.policy})` : ''}, GET ${o.path}: ${o.warmup} warm-up + ${o.batches} x ${o.requests} requests; Node ${process.version}, ${describeMachine()}, ${(busy * 100).toFixed(1)}% busy`,
  );
  const m = await measure(o);
  for (const who of ['worker', 'master'])
    console.log(
      `${who}: ${k(median(m.batches.map((b) => b[who])))} instructions/request (median batch); batches ${m.batches.map((b) => k(b[who])).join(', ')}${o.keep ? `; kept ${m.dir}` : ''}`,
    );
}

main().catch((e) => {
  console.error(e.message ?? e);
  process.exit(1);
});
