import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { compileProject } from './helpers/compile';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { TEST_SESSION_KEY } from './helpers/sample';

/**
 * The sample with OTEL_EXPORTER_OTLP_ENDPOINT set, compiled and in a process of its own (the
 * OTLP exporter loads node's http with a dynamic import(), which jest's module sandbox refuses):
 * serve.ts starts the SDK before the app (sample/telemetry.ts), and the app's cleanup sends the
 * spans, as OTLP/HTTP JSON, to a collector of the test's own.
 */

interface OtlpSpan {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
}
interface OtlpExport {
  resourceSpans: {
    resource: { attributes: { key: string; value: { stringValue?: string } }[] };
    scopeSpans: { spans: OtlpSpan[] }[];
  }[];
}

let out = '';
let db: TestDatabase;
let collector: Server;
const received: OtlpExport[] = [];

beforeAll(async () => {
  out = await compileProject(['src', 'sample'], 'rococo-tracing-test-');
  db = await createTestDatabase();
  collector = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/v1/traces')
        received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpExport);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
}, 120_000);

afterAll(async () => {
  await new Promise((resolve) => collector?.close(resolve));
  await db?.drop();
  if (out !== '') rmSync(out, { recursive: true, force: true });
}, 60_000);

// The sample's serve.ts, as `rococo serve` calls it in a worker: built, listening, closed on SIGTERM.
const WORKER = `
const app = require('./sample/serve.js').default();
app.listen(0).then((url) => process.send(url));
process.once('SIGTERM', () => app.close().then(() => process.exit(0)));
`;

test('the sample sends its spans to OTEL_EXPORTER_OTLP_ENDPOINT', async () => {
  const { port } = collector.address() as AddressInfo;
  const child = spawn(process.execPath, ['-e', WORKER], {
    cwd: out,
    env: {
      ...process.env,
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      DATABASE_URL: db.url,
      SESSION_KEYS: TEST_SESSION_KEY,
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    const base = await new Promise<string>((resolve, reject) => {
      child.once('message', (url) => resolve(String(url)));
      child.once('exit', (code) => reject(new Error(`the sample exited (${code})`)));
    });
    expect((await fetch(`${base}/login`)).status).toBe(200);
  } finally {
    child.kill('SIGTERM'); // the app's cleanup flushes the SDK
    await exited;
  }
  expect(child.exitCode).toBe(0);
  const spans = received.flatMap((e) => e.resourceSpans);
  expect(spans.length).toBeGreaterThan(0);
  const service = spans[0].resource.attributes.find((a) => a.key === 'service.name');
  expect(service?.value.stringValue).toBe('rococo-sample');
  const all = spans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
  const server = all.find((s) => s.name === 'GET /login');
  expect(server).toBeDefined();
  const render = all.find((s) => s.name === 'render login.html');
  expect(render?.parentSpanId).toBe(server?.spanId);
  expect(render?.traceId).toBe(server?.traceId);
}, 60_000);
