'use strict';
// What the bench scripts (run.js, callgrind.js) ask of the machine: a Debian tool they run, a
// free port, its CPU, and how busy other work keeps it.
const { execFileSync } = require('node:child_process');
const { createServer } = require('node:net');
const { readFileSync } = require('node:fs');
const { cpus } = require('node:os');

/**
 * Installs Debian's `pkg` when `command` is missing and we are root (a fresh machine has
 * neither wrk nor valgrind); `args` is a harmless way to run it.
 */
function ensureTool(command, args, pkg = command) {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return;
  } catch (e) {
    // wrk --version exits 1 after printing its version: only a missing binary is ENOENT.
    if (e.code !== 'ENOENT') return;
  }
  if (process.getuid?.() !== 0)
    throw new Error(`${command} is missing: install it (apt-get install ${pkg})`);
  console.log(`installing ${pkg} (apt-get install ${pkg})...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    execFileSync('apt-get', ['install', '-y', pkg], { stdio: 'ignore', env });
  } catch {
    execFileSync('apt-get', ['update'], { stdio: 'ignore', env });
    execFileSync('apt-get', ['install', '-y', pkg], { stdio: 'ignore', env });
  }
}

/** A port nobody listens on: the machine may run other servers. */
const freePort = () =>
  new Promise((resolve, reject) => {
    const srv = createServer().once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });

/** Share of the machine's CPU busy over `ms`: other work on it makes every figure noisy. */
async function machineBusy(ms) {
  const read = () =>
    readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const a = read();
  await new Promise((r) => setTimeout(r, ms));
  const d = read().map((v, i) => v - a[i]);
  const total = d.reduce((x, y) => x + y, 0);
  return total === 0 ? 0 : 1 - (d[3] + d[4]) / total; // idle + iowait
}

/** The CPU's model and how many cores, for the record of a run. */
const describeMachine = () =>
  `${/model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU'}, ${cpus().length} cores`;

module.exports = { ensureTool, freePort, machineBusy, describeMachine };
