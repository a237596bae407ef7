'use strict';
// The plain keep-alive client of callgrind.js, in a process of its own: Node's http.Agent, 10
// sockets, one request in flight on each (no pipelining). The parent sends
// { port, method, path, headers, body?, requests }; the client sends them all, then answers { ok, statuses }
// (or { ok: false, error }). The sockets stay open between batches, so a batch after the first
// costs the server no connection.
const http = require('node:http');

const SOCKETS = 10;
const agent = new http.Agent({ keepAlive: true, maxSockets: SOCKETS });

function one(port, method, path, headers, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      res.on('end', () => resolve(res.statusCode));
      res.on('error', reject);
      res.resume();
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function batch({ port, method, path, headers = {}, body, requests }) {
  const statuses = {};
  let left = requests;
  // SOCKETS loops, each sending its next request when its last answer is in.
  const loop = async () => {
    while (left > 0) {
      left--;
      const status = await one(port, method, path, headers, body);
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: SOCKETS }, loop));
  return statuses;
}

process.on('message', (m) => {
  batch(m).then(
    (statuses) => process.send({ ok: true, statuses }),
    (e) => process.send({ ok: false, error: e.message }),
  );
});
// The parent gone, nothing keeps this process.
process.on('disconnect', () => process.exit(0));
