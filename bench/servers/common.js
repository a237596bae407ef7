'use strict';
// What every server shares: its port and database, the template's data, the 200-route app's
// resource names and the database query. Required from servers/ (JS) and dist/ (compiled TS):
// both are one folder below bench/, so '../servers/common' works from either.
const { join } = require('node:path');

const PORT = Number(process.env.PORT || 3000);
const HOST = '127.0.0.1';
const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const POOL_SIZE = 10;
const TEMPLATES = join(__dirname, '..', 'templates');
const PAGE_TEMPLATE = 'page.html';

/** 40 resources x 5 routes = the 200-route app; the benchmark hits the last one declared. */
const RESOURCES = Array.from({ length: 40 }, (_, i) => `resource${i}s`);

/** The page's context: 20 rows whose text needs escaping. */
const PAGE = {
  title: 'Items <& friends>',
  rows: Array.from({ length: 20 }, (_, i) => ({
    id: i + 1,
    name: `Item <${i + 1}> & "co"`,
    price: (i * 1.25).toFixed(2),
  })),
};

/** What securityHeaders() adds to a response over plain HTTP, by default (raw.js with PLUGIN=headers). */
const SECURITY_HEADER_LINES = [
  'cross-origin-resource-policy',
  'same-origin',
  'origin-agent-cluster',
  '?1',
  'x-content-type-options',
  'nosniff',
  'x-dns-prefetch-control',
  'off',
  'x-download-options',
  'noopen',
  'x-frame-options',
  'SAMEORIGIN',
  'x-permitted-cross-domain-policies',
  'none',
  'x-xss-protection',
  '0',
  'referrer-policy',
  'no-referrer',
  'content-security-policy',
  "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline'",
];

/**
 * The plugin scenarios (run.js): the plugin this server runs with (`PLUGIN`: cors, headers,
 * rate-memory, rate-redis, compress) and its settings, the same for every server. The rate
 * limit is one the bench never reaches: what is measured is counting, not refusing.
 */
const PLUGIN = process.env.PLUGIN || '';
const CORS_ORIGIN = 'https://app.example';
const RATE = { points: 1e9, seconds: 60 };
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const COMPRESS_THRESHOLD = 1024;

const DB_QUERY = 'SELECT id, name FROM bench_items WHERE id = $1';
const DB_ROWS = 1000;
const randomId = () => 1 + Math.floor(Math.random() * DB_ROWS);

module.exports = {
  PORT,
  HOST,
  DATABASE_URL,
  POOL_SIZE,
  TEMPLATES,
  PAGE_TEMPLATE,
  RESOURCES,
  PAGE,
  PLUGIN,
  CORS_ORIGIN,
  RATE,
  REDIS_URL,
  COMPRESS_THRESHOLD,
  DB_QUERY,
  DB_ROWS,
  randomId,
  SECURITY_HEADER_LINES,
};
