'use strict';
// The WebSocket load client of run.js (wrk speaks no WebSocket). run.js starts it once per
// scenario, pinned to CPU 1, and drives it over IPC: `setup` opens the sockets to every server,
// `run` loads one server for some seconds and reports, `close` ends. The sockets stay open from
// round to round, so handshakes are not measured.
//
// - echo: 100 connections to /ws/echo, each keeping 10 messages in flight (a new one is sent as
//   each echo comes back): echoed messages/s, round-trip p99. A client sends the messages that
//   replace a batch of echoes in one write, so a server receives several in one read and may
//   answer them in one write (rococo does; ws, written message by message, writes each).
// - echo-1: the same with one message in flight per connection: every message arrives alone,
//   what a server does per message is all there is to measure.
// - fanout: 1,000 connections to /ws/sub and one to /ws/pub; the publisher keeps 10 messages in
//   flight, a message being done when all 1,000 subscribers got it: deliveries/s (messages x
//   subscribers), publish-to-delivery p99.
//
// To stay cheaper than the servers it loads, it does not use a WebSocket library while
// measuring: it does the handshake itself, writes prebuilt masked frames and only reads frame
// headers back (each socket gets its frames in order, so counting them is enough to know which
// message arrived). What the frames say is checked beforehand, with the `ws` package
// (`check`, called by run.js on every server).
const net = require('node:net');
const { randomBytes, createHash } = require('node:crypto');
const { readFileSync } = require('node:fs');
const { performance } = require('node:perf_hooks');

// Every server gets the same bytes and must send them back unchanged: Nest's WsAdapter speaks
// {event, data}, and its answers, serialized again, come out byte for byte the same.
const ECHO_MESSAGE = JSON.stringify({
  event: 'echo',
  data: { name: 'rococo', tags: ['a', 'b'], count: 3, nested: { ok: true } },
});
const PUBLISH_MESSAGE = JSON.stringify({
  event: 'publish',
  data: 'project 42: alice commented on the roadmap',
});

const ECHO = { connections: 100, window: 10 };
const ECHO_1 = { connections: 100, window: 1 };
const FANOUT = { subscribers: 1000, window: 10 };
const STALL_MS = 10_000;

const SCENARIOS = {
  'ws-echo': {
    title: `WebSocket echo (${ECHO.connections} connections, ${ECHO.window} messages in flight each)`,
    unit: 'messages',
    per: 'message',
  },
  'ws-echo-1': {
    title: `WebSocket echo, one message at a time (${ECHO_1.connections} connections, ${ECHO_1.window} message in flight each)`,
    unit: 'messages',
    per: 'message',
  },
  'ws-fanout': {
    title: `WebSocket fan-out to ${FANOUT.subscribers.toLocaleString('en')} subscribers (${FANOUT.window} messages in flight)`,
    unit: 'deliveries',
    per: 'delivery',
  },
};

// --- checks, with a real client ----------------------------------------------------------------
function open(port, path) {
  const WebSocket = require('ws');
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
    const messages = [];
    ws.on('message', (data, isBinary) => messages.push(isBinary ? '(binary)' : data.toString()));
    ws.once('open', () => resolve({ ws, messages }));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) =>
      reject(new Error(`${path}: HTTP ${res.statusCode} instead of 101`)),
    );
  });
}

/** Waits until `ok()` (at most 2 s), then a little more for anything unexpected to arrive. */
async function settle(ok) {
  const deadline = Date.now() + 2000;
  while (!ok() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 50));
}

/** Throws unless the server on `port` answers the scenario `id` as it should. */
async function check(port, id) {
  const opened = [];
  const connect = async (path) => {
    const c = await open(port, path);
    opened.push(c.ws);
    return c;
  };
  const same = (got, want) => got.length === want.length && got.every((m, i) => m === want[i]);
  try {
    if (id === 'ws-echo' || id === 'ws-echo-1') {
      const c = await connect('/ws/echo');
      const other = ECHO_MESSAGE.replace('"count":3', '"count":4');
      const want = [ECHO_MESSAGE, other, ECHO_MESSAGE];
      for (const m of want) c.ws.send(m);
      await settle(() => c.messages.length >= want.length);
      if (!same(c.messages, want))
        throw new Error(
          `/ws/echo sent back ${JSON.stringify(c.messages)} for ${JSON.stringify(want)}`,
        );
    } else {
      const subs = [];
      for (let i = 0; i < 3; i++) subs.push(await connect('/ws/sub'));
      const pub = await connect('/ws/pub');
      const want = [PUBLISH_MESSAGE, PUBLISH_MESSAGE.replace('42', '43')];
      for (const m of want) pub.ws.send(m);
      await settle(() => subs.every((s) => s.messages.length >= want.length));
      for (const s of subs)
        if (!same(s.messages, want))
          throw new Error(
            `a /ws/sub connection got ${JSON.stringify(s.messages)} for ${JSON.stringify(want)}`,
          );
      if (pub.messages.length) throw new Error(`the publisher got ${JSON.stringify(pub.messages)}`);
    }
  } finally {
    for (const ws of opened) ws.terminate();
  }
}

// --- the load: raw frames ----------------------------------------------------------------------
/** A client frame (masked, as the protocol wants), repeated `times`. */
function frames(data, times, opcode = 1) {
  const payload = Buffer.isBuffer(data) ? data : Buffer.from(data);
  if (payload.length > 125) throw new Error('frames() makes short frames only');
  const one = Buffer.alloc(6 + payload.length);
  one[0] = 0x80 | opcode;
  one[1] = 0x80 | payload.length;
  randomBytes(4).copy(one, 2);
  for (let i = 0; i < payload.length; i++) one[6 + i] = payload[i] ^ one[2 + (i & 3)];
  return Buffer.concat(Array(times).fill(one));
}
const CLOSE = frames(Buffer.from([0x03, 0xe8]), 1, 8); // 1000, normal closure

// Every socket reads into this one buffer (net's `onread`: no allocation, no stream machinery
// per read): each read is handled before the next one, and what must outlive it is copied.
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** One socket after the handshake: counts the data frames the server sends, answers pings. */
class Connection {
  constructor(socket) {
    this.socket = socket;
    this.skip = 0; // bytes of a frame's payload still to come
    this.rest = null; // a frame header (or control frame) cut by the end of a read, copied
    this.closed = socket.destroyed;
    this.onFrames = null; // (count, now) => void
    socket.on('close', () => (this.closed = true));
  }

  /** Reads `buf[0, end)`. */
  data(buf, end) {
    let i = 0;
    if (this.skip > 0) {
      i = Math.min(this.skip, end);
      this.skip -= i;
    }
    if (this.rest !== null) {
      buf = Buffer.concat([this.rest, buf.subarray(i, end)]);
      end = buf.length;
      i = 0;
      this.rest = null;
    }
    let count = 0;
    while (i < end) {
      const left = end - i;
      const b0 = buf[i];
      let len = left < 2 ? 0 : buf[i + 1] & 0x7f;
      const header = len === 126 ? 4 : len === 127 ? 10 : 2;
      const opcode = b0 & 0x0f;
      // A cut header, or a cut control frame (kept whole to answer a ping with its payload).
      if (left < 2 || left < header || (opcode >= 8 && left < header + len)) {
        this.rest = Buffer.from(buf.subarray(i, end));
        break;
      }
      if (len === 126) len = buf.readUInt16BE(i + 2);
      else if (len === 127) len = buf.readUInt32BE(i + 2) * 2 ** 32 + buf.readUInt32BE(i + 6);
      if (opcode >= 8) {
        if (opcode === 9)
          this.socket.write(frames(Buffer.from(buf.subarray(i + header, i + header + len)), 1, 10));
        i += header + len;
        continue;
      }
      if (b0 & 0x80) count++; // the last frame of a message
      const next = i + header + len;
      if (next > end) {
        this.skip = next - end;
        break;
      }
      i = next;
    }
    if (count > 0) this.onFrames?.(count, performance.now());
  }

  close() {
    if (!this.closed) this.socket.end(CLOSE);
  }
}

/** A WebSocket handshake on a plain TCP socket; resolves to the Connection. */
function connect(port, path) {
  return new Promise((resolve, reject) => {
    const key = randomBytes(16).toString('base64');
    const accept = createHash('sha1')
      .update(key + GUID)
      .digest('base64');
    let conn = null;
    let answer = ''; // the handshake's answer so far
    const fail = (message) => {
      reject(new Error(`${path}: ${message}`));
      socket.destroy();
    };
    const onread = (n, buf) => {
      if (conn !== null) return conn.data(buf, n);
      answer += buf.toString('latin1', 0, n);
      const end = answer.indexOf('\r\n\r\n');
      if (end === -1)
        return answer.length > 16_384 ? fail('no end to the handshake answer') : undefined;
      const [status, ...headers] = answer.slice(0, end).split('\r\n');
      if (!/^HTTP\/1\.1 101 /.test(status)) return fail(`${status} instead of 101`);
      const got = headers
        .find((h) => /^sec-websocket-accept:/i.test(h))
        ?.slice(21)
        .trim();
      if (got !== accept) return fail('wrong Sec-WebSocket-Accept');
      conn = new Connection(socket);
      const rest = Buffer.from(answer.slice(end + 4), 'latin1');
      if (rest.length > 0) conn.data(rest, rest.length);
      resolve(conn);
    };
    const socket = net.connect({
      host: '127.0.0.1',
      port,
      noDelay: true,
      onread: { buffer: READ_BUFFER, callback: onread },
    });
    socket.on('error', (e) => conn === null && fail(e.message));
    socket.on('close', () => conn === null && fail('closed during the handshake'));
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
  });
}

/** Opens `n` connections, 50 handshakes at a time (a burst of 1,000 SYNs overflows the backlog). */
async function connectMany(port, path, n) {
  const out = [];
  while (out.length < n)
    out.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(50, n - out.length) }, () => connect(port, path)),
      )),
    );
  return out;
}

/** Latencies in 10 µs buckets up to 2 s. */
class Histogram {
  constructor() {
    this.counts = new Uint32Array(200_001);
    this.n = 0;
  }
  add(ms) {
    const b = Math.round(ms * 100);
    this.counts[b < 200_000 ? b : 200_000]++;
    this.n++;
  }
  percentile(p) {
    const target = Math.ceil(this.n * p);
    let seen = 0;
    for (let b = 0; b < this.counts.length; b++)
      if ((seen += this.counts[b]) >= target) return b / 100;
    return NaN;
  }
  reset() {
    this.counts.fill(0);
    this.n = 0;
  }
}

function cpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime, the whole process
}

/** The echo load on one server's connections. */
class EchoLoad {
  static async open(port, { connections, window }) {
    return new EchoLoad(await connectMany(port, '/ws/echo', connections), window);
  }
  constructor(conns, window) {
    this.conns = conns;
    this.window = window;
    this.batches = Array.from({ length: this.window + 1 }, (_, n) => frames(ECHO_MESSAGE, n));
    this.hist = new Histogram();
    this.count = 0;
    this.inflight = 0;
    this.running = false;
    this.drained = null;
    this.until = Infinity; // run() with `messages`: the count to reach, then `reached()`
    this.reached = null;
    for (const c of conns) {
      c.sent = new Float64Array(this.window);
      c.head = 0; // sent so far
      c.tail = 0; // received so far
      c.onFrames = (n, now) => this.received(c, n, now);
    }
  }
  received(c, n, now) {
    if ((this.count += n) >= this.until) this.reached?.();
    const w = this.window;
    for (let j = 0; j < n; j++) this.hist.add(now - c.sent[c.tail++ % w]);
    if (c.tail > c.head) throw new Error('/ws/echo sent back more messages than it got');
    if (this.running) {
      for (let j = 0; j < n; j++) c.sent[c.head++ % w] = now;
      c.socket.write(this.batches[n]);
    } else if ((this.inflight -= n) === 0) this.drained?.();
  }
  start() {
    this.running = true;
    const now = performance.now();
    for (const c of this.conns) {
      for (let j = 0; j < this.window; j++) c.sent[c.head++ % this.window] = now;
      c.socket.write(this.batches[this.window]);
    }
  }
  stop() {
    this.running = false;
    this.inflight = this.conns.reduce((a, c) => a + c.head - c.tail, 0);
    return this.inflight === 0
      ? Promise.resolve()
      : new Promise((resolve) => (this.drained = resolve));
  }
}

/** The fan-out load on one server's subscribers and publisher. */
class FanoutLoad {
  static async open(port) {
    const subs = await connectMany(port, '/ws/sub', FANOUT.subscribers);
    const [pub] = await connectMany(port, '/ws/pub', 1);
    return new FanoutLoad(subs, pub);
  }
  constructor(subs, pub) {
    this.subs = subs;
    this.pub = pub;
    this.window = FANOUT.window;
    this.frame = frames(PUBLISH_MESSAGE, 1);
    this.batch = frames(PUBLISH_MESSAGE, this.window);
    this.sentAt = new Float64Array(this.window);
    this.got = new Uint32Array(this.window); // subscribers that got message `seq`, at seq % window
    this.published = 0;
    this.completed = 0;
    this.hist = new Histogram();
    this.count = 0;
    this.running = false;
    this.drained = null;
    this.until = Infinity;
    this.reached = null;
    pub.onFrames = () => {
      throw new Error('the publisher got messages from /ws/pub');
    };
    for (const s of subs) {
      s.seen = 0;
      s.onFrames = (n, now) => this.received(s, n, now);
    }
  }
  received(s, n, now) {
    if ((this.count += n) >= this.until) this.reached?.();
    const w = this.window;
    const all = this.subs.length;
    for (let j = 0; j < n; j++) {
      const slot = s.seen++ % w;
      this.hist.add(now - this.sentAt[slot]);
      if (++this.got[slot] === all) {
        this.got[slot] = 0;
        this.completed++;
        if (this.running) {
          this.sentAt[this.published++ % w] = performance.now();
          this.pub.socket.write(this.frame);
        } else if (this.completed === this.published) this.drained?.();
      }
    }
    if (s.seen > this.published)
      throw new Error('a /ws/sub connection got more messages than were published');
  }
  start() {
    this.running = true;
    const now = performance.now();
    for (let j = 0; j < this.window; j++) this.sentAt[this.published++ % this.window] = now;
    this.pub.socket.write(this.batch);
  }
  stop() {
    this.running = false;
    return this.completed === this.published
      ? Promise.resolve()
      : new Promise((resolve) => (this.drained = resolve));
  }
}

// --- the process run.js drives ------------------------------------------------------------------
async function serve() {
  let loads = [];
  let clkTck = 100;
  const commands = {
    async setup({ scenario, ports, clk }) {
      clkTck = clk;
      const open = {
        'ws-echo': (port) => EchoLoad.open(port, ECHO),
        'ws-echo-1': (port) => EchoLoad.open(port, ECHO_1),
        'ws-fanout': (port) => FanoutLoad.open(port),
      }[scenario];
      loads = [];
      for (const port of ports) loads.push(await open(port));
      return {};
    },
    // `seconds` of load; or, with `messages` (callgrind.js), until that many came back, and
    // `total` counts the ones still in flight then too: every message sent in the run.
    async run({ target, pid, seconds, messages }) {
      const load = loads[target];
      const sockets = load.conns ?? [...load.subs, load.pub];
      load.hist.reset();
      load.count = 0;
      const ticks0 = cpuTicks(pid);
      const usage0 = process.cpuUsage();
      const t0 = performance.now();
      load.start();
      await new Promise((r) => {
        if (messages === undefined) return setTimeout(r, seconds * 1000);
        load.until = messages;
        load.reached = r;
      });
      load.until = Infinity;
      load.reached = null;
      const elapsed = (performance.now() - t0) / 1000;
      const ticks = cpuTicks(pid) - ticks0;
      const usage = process.cpuUsage(usage0);
      const count = load.count;
      const p99 = load.hist.percentile(0.99);
      let timer;
      const stalled = new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer for ${STALL_MS / 1000} s: messages were lost`)),
          STALL_MS,
        );
      });
      try {
        await Promise.race([load.stop(), stalled]);
      } finally {
        clearTimeout(timer);
      }
      const closed = sockets.filter((c) => c.closed).length;
      if (closed > 0) throw new Error(`${closed} connections were closed by the server`);
      return {
        count,
        total: load.count,
        seconds: elapsed,
        serverCpuUs: (ticks * 1e6) / clkTck,
        clientBusy: (usage.user + usage.system) / 1e6 / elapsed,
        p99,
      };
    },
    async close() {
      for (const l of loads) for (const c of l.conns ?? [...l.subs, l.pub]) c.close();
      await new Promise((r) => setTimeout(r, 100));
      return {};
    },
  };
  process.on('message', async (m) => {
    try {
      process.send({ ok: true, ...(await commands[m.cmd](m)) });
    } catch (e) {
      process.send({ ok: false, error: e.message });
    }
  });
  // An error thrown in a socket's callback (a server that answers wrong) fails the run.
  process.on('uncaughtException', (e) => {
    process.send({ ok: false, error: e.message }, () => process.exit(1));
  });
  process.on('disconnect', () => process.exit(0));
}

if (require.main === module) serve();

module.exports = { SCENARIOS, check, ECHO, ECHO_1, FANOUT };
