'use strict';
// `npm run build`'s first step: bench/node_modules as bench/package-lock.json says. The root's
// `npm run bench` installs it only when it is missing, so a checkout that ran the bench before a
// dependency was added would fail to build: reinstall then.
const { execFileSync } = require('node:child_process');
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

const read = (file) => {
  try {
    return JSON.parse(readFileSync(join(__dirname, file), 'utf8')).packages;
  } catch {
    return null;
  }
};
const wanted = read('package-lock.json');
const installed = read('node_modules/.package-lock.json'); // what npm last installed
const stale =
  installed === null ||
  Object.entries(wanted).some(([path, p]) => path !== '' && installed[path]?.version !== p.version);
if (stale) {
  console.log('bench/node_modules does not match bench/package-lock.json: npm ci');
  execFileSync('npm', ['ci'], { cwd: __dirname, stdio: 'inherit' });
}
