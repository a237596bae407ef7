'use strict';
// The floor with two workers: node:cluster forking raw.js, as a hand-written server would.
// run.js sets NODE_CLUSTER_SCHED_POLICY (node's own variable) to rococo serve's policy, so that
// both accept connections the same way.
const cluster = require('node:cluster');

if (cluster.isPrimary) {
  for (let i = 0; i < Number(process.env.WORKERS || 2); i++) cluster.fork();
  cluster.on('exit', (worker, code) => {
    console.error(`raw-cluster: worker ${worker.process.pid} exited (${code})`);
    process.exit(1);
  });
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers)) w.kill();
    process.exit(0);
  });
} else {
  require('./raw');
}
