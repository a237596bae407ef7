'use strict';
// What a rate limit costs per request: one rococo app (from ../src, through ts-node), a small
// JSON route without a limit, with a limit in memory, and with a limit in Redis (REDIS_URL),
// each loaded by keepalive-client.js (10 keep-alive sockets, one request in flight on each) in
// rounds that take turns, so that a machine's noise spreads over all three. Prints req/s (the
// median of the rounds) and the µs per request each limit adds.
//   REDIS_URL=redis://127.0.0.1:6379 node bench/rate-limit.js [requests per round] [rounds]
const path = require('node:path');
const { fork } = require('node:child_process');
require('ts-node').register({
  transpileOnly: true,
  project: path.join(__dirname, '..', 'tsconfig.json'),
});
require('reflect-metadata');
const { createApp, Controller, Get, RateLimit, rateLimit } = require('../src');

const REQUESTS = Number(process.argv[2] ?? 20000);
const ROUNDS = Number(process.argv[3] ?? 5);

function controller(limited) {
  class Bench {
    hello() {
      return { hello: 'world' };
    }
  }
  const decorate = (d) =>
    d(Bench.prototype, 'hello', Object.getOwnPropertyDescriptor(Bench.prototype, 'hello'));
  if (limited) decorate(RateLimit({ points: 1e9, duration: 60 }));
  decorate(Get('/hello'));
  Controller('')(Bench);
  return Bench;
}

async function serve(name, limited, redis) {
  const app = createApp({
    controllers: [controller(limited)],
    settings: { ACCESS_LOG: false },
    plugins: limited ? [rateLimit({ redis, prefix: `bench:${process.pid}:${name}:` })] : [],
  });
  const base = await app.listen(0);
  return { name, app, port: Number(new URL(base).port) };
}

function load(client, port, requests) {
  return new Promise((resolve, reject) => {
    client.once('message', (m) => (m.ok ? resolve(m.statuses) : reject(new Error(m.error))));
    client.send({ port, method: 'GET', path: '/hello', requests });
  });
}

async function main() {
  const servers = [await serve('none', false, false), await serve('memory', true, false)];
  if (process.env.REDIS_URL) servers.push(await serve('redis', true, process.env.REDIS_URL));
  for (const s of servers) await s.app.startup();
  const clients = servers.map(() => fork(path.join(__dirname, 'keepalive-client.js')));
  const rates = new Map(servers.map((s) => [s.name, []]));
  // CPU of this process (the servers; the clients are forks) per request: less at the mercy of
  // a busy machine than req/s. Redis's own CPU is not in it.
  const cpu = new Map(servers.map((s) => [s.name, []]));
  for (let i = 0; i < servers.length; i++) await load(clients[i], servers[i].port, 2000); // warm up
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < servers.length; i++) {
      const start = process.hrtime.bigint();
      const used = process.cpuUsage();
      const statuses = await load(clients[i], servers[i].port, REQUESTS);
      const s = Number(process.hrtime.bigint() - start) / 1e9;
      if (statuses[200] !== REQUESTS)
        throw new Error(`${servers[i].name}: ${JSON.stringify(statuses)}`);
      rates.get(servers[i].name).push(REQUESTS / s);
      const { user, system } = process.cpuUsage(used);
      cpu.get(servers[i].name).push((user + system) / REQUESTS);
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const baseCpu = median(cpu.get('none'));
  for (const [name, xs] of rates) {
    const c = median(cpu.get(name));
    const extra = name === 'none' ? '' : ` (+${(c - baseCpu).toFixed(1)})`;
    console.log(
      `${name.padEnd(7)} ${median(xs).toFixed(0).padStart(6)} req/s, ${c.toFixed(1)} µs CPU/request${extra}   (req/s of the rounds: ${xs.map((x) => x.toFixed(0)).join(' ')})`,
    );
  }
  for (const c of clients) c.kill();
  for (const s of servers) await s.app.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
