import { execFile } from 'node:child_process';
import {
  copyFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { defaults } from '../sample/settings';
import type { TestClient } from '../src/testing';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { swaggerParserVerdict } from './helpers/openapi';
import { compile, describeErrors, generateTypes, type Compilation } from './helpers/openapi-types';
import {
  prismResponseValidator,
  undeclared,
  type Answer,
  type ResponseValidator,
} from './helpers/openapi-responses';
import {
  startPrismProxy,
  violationsOf,
  type PrismProxy,
  type PrismViolation,
} from './helpers/prism';
import { logIn, sampleClient } from './helpers/sample';

/**
 * The sample's OpenAPI document judged by tools nobody here wrote, against a live sample server
 * (real HTTP, a test database of its own, logged in as the demo user through the login form):
 * - @apidevtools/swagger-parser validates it as OpenAPI 3.1 (for 3.x documents that is the official
 *   schema and every $ref resolving: its further checks, such as unique operationIds, are 2.0 only);
 * - openapi-typescript generates its types, and a program written as a user of openapi-fetch
 *   writes it must type-check (strict), run against the server, and a program of mistakes must
 *   fail to type-check on each marked line and nowhere else;
 * - every documented operation is replayed, with valid and invalid requests, through Stoplight
 *   Prism as a validating proxy: each answer must have a status the operation itself lists (a 4xx
 *   only under `default` is undocumented), a media type the document names for it, and a body that
 *   Prism finds valid. A request Prism answers itself (malformed JSON) goes straight to the sample
 *   and its answer is judged by Prism's validator.
 *
 * The document meant here: ids are integers (path parameters too), every field of an answer is
 * required, each operation lists its own 4xx, and the session cookie (`rococo_session`) and the
 * `X-CSRF-Token` header are security schemes the writing operations require. A failure names the
 * operation, the request, the status and what the tool said.
 */

jest.setTimeout(30_000);

type Doc = Record<string, any>;

const ROOT = resolve(__dirname, '..');
const FIXTURES = join(__dirname, 'fixtures', 'openapi-client');
const SESSION_COOKIE = 'rococo_session';
const MAX_BODY_SIZE = defaults.MAX_BODY_SIZE;

/** The operations of the sample's API, as `METHOD /path`; the replay covers each. */
const OPERATIONS = [
  'GET /api/',
  'GET /api/projects',
  'POST /api/projects',
  'GET /api/projects/{project_id}',
  'PUT /api/projects/{project_id}',
  'DELETE /api/projects/{project_id}',
] as const;
type Operation = (typeof OPERATIONS)[number];

let db: TestDatabase;
let server: TestClient;
/** The sample's URL, without a trailing slash. */
let base: string;
let doc: Doc;
let work: string;
let cookie: string;
let csrfToken: string;
/** Prism starts while the types are generated and checked: the replay awaits it. */
let prismStarting: Promise<PrismProxy>;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await sampleClient(db.url);
  base = server.url('');
  csrfToken = await logIn(server);
  const session = server.cookies.get(SESSION_COOKIE);
  if (session === undefined) throw new Error(`logging in set no ${SESSION_COOKIE} cookie`);
  cookie = `${SESSION_COOKIE}=${session}`;
  const res = await server.get('/openapi.json');
  if (res.status !== 200) throw new Error(`GET /openapi.json: ${res.status}`);
  doc = (await res.json()) as Doc;
  work = mkdtempSync(join(tmpdir(), 'rococo-openapi-'));
  writeFileSync(join(work, 'openapi.json'), JSON.stringify(doc, null, 2));
  prismStarting = startPrismProxy(join(work, 'openapi.json'), base);
  prismStarting.catch(() => {}); // the replay reports it
});

afterAll(async () => {
  await (await prismStarting?.catch(() => undefined))?.stop();
  await server?.close();
  await db?.drop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** `METHOD /path` of every operation in the document. */
function documentedOperations(): string[] {
  return Object.entries((doc.paths ?? {}) as Record<string, Record<string, unknown>>).flatMap(
    ([path, item]) =>
      Object.keys(item)
        .filter((m) =>
          ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'].includes(m),
        )
        .map((m) => `${m.toUpperCase()} ${path}`),
  );
}

function operationOf(op: string): Doc | undefined {
  const [method, path] = op.split(' ');
  return doc.paths?.[path]?.[method.toLowerCase()];
}

/** Throws `lines` as one message (jest shows it whole); passes when there are none. */
function report(title: string, lines: string[]): void {
  if (lines.length) throw new Error(`${title}\n${lines.join('\n')}`);
}

describe('@apidevtools/swagger-parser', () => {
  test('validates the document as OpenAPI 3.1', () => {
    expect(swaggerParserVerdict(doc)).toEqual({ valid: true, openapi: '3.1.0' });
  });
});

describe('security schemes', () => {
  test('the session cookie and the CSRF header are described, and required by the writing operations', () => {
    const schemes = (doc.components?.securitySchemes ?? {}) as Record<string, Doc>;
    const scheme = (where: string, name: string) =>
      Object.entries(schemes).find(
        ([, s]) =>
          s.type === 'apiKey' &&
          s.in === where &&
          String(s.name).toLowerCase() === name.toLowerCase(),
      )?.[0];
    const session = scheme('cookie', SESSION_COOKIE);
    const csrf = scheme('header', 'X-CSRF-Token');
    const problems: string[] = [];
    if (session === undefined)
      problems.push(
        `components.securitySchemes has no { type: apiKey, in: cookie, name: ${SESSION_COOKIE} } (has: ${JSON.stringify(schemes)})`,
      );
    if (csrf === undefined)
      problems.push(
        `components.securitySchemes has no { type: apiKey, in: header, name: X-CSRF-Token } (has: ${JSON.stringify(schemes)})`,
      );
    for (const op of OPERATIONS) {
      const operation = operationOf(op);
      if (operation === undefined) continue; // the replay reports a missing operation
      const requirements = (operation.security ?? doc.security ?? []) as Record<string, string[]>[];
      if (op.startsWith('GET ')) {
        if (requirements.length && !requirements.some((r) => Object.keys(r).length === 0))
          problems.push(
            `${op}: reading needs no session, but security is ${JSON.stringify(requirements)}`,
          );
        continue;
      }
      if (requirements.length === 0) {
        problems.push(
          `${op}: no security requirement, though it needs the session cookie (401 without it) and the CSRF header`,
        );
        continue;
      }
      for (const r of requirements)
        if (session === undefined || !(session in r))
          problems.push(
            `${op}: the alternative ${JSON.stringify(r)} does not require the session cookie`,
          );
      if (csrf !== undefined && !requirements.some((r) => csrf in r))
        problems.push(
          `${op}: no alternative of ${JSON.stringify(requirements)} names the CSRF header scheme`,
        );
    }
    report('The document does not describe the sessions and CSRF protection of the API:', problems);
  });
});

describe('openapi-typescript and openapi-fetch: a typed client', () => {
  let compilation: Compilation | undefined;
  let setupError: Error | undefined;

  beforeAll(() => {
    try {
      writeFileSync(join(work, 'api.ts'), generateTypes(doc));
      writeFileSync(
        join(work, 'package.json'),
        JSON.stringify({ private: true, type: 'commonjs' }),
      );
      symlinkSync(join(ROOT, 'node_modules'), join(work, 'node_modules'), 'dir');
      copyFileSync(join(FIXTURES, 'client.ts.txt'), join(work, 'client.ts'));
      copyFileSync(join(FIXTURES, 'misuse.ts.txt'), join(work, 'misuse.ts'));
      compilation = compile(work, ['api.ts', 'client.ts', 'misuse.ts'], ['client.ts']);
    } catch (e) {
      setupError = e as Error;
    }
  });

  function compiled(): Compilation {
    if (setupError) throw setupError;
    return compilation!;
  }

  test('the generated types compile', () => {
    report(
      'openapi-typescript generated types that do not compile:',
      [describeErrors(compiled().errors.get('api.ts')!)].filter(Boolean),
    );
  });

  test('a client program type-checks under strict (test/fixtures/openapi-client/client.ts.txt)', () => {
    report(
      'The client program does not type-check against the generated types:',
      [describeErrors(compiled().errors.get('client.ts')!)].filter(Boolean),
    );
  });

  test('mistakes do not type-check, each on its marked line (test/fixtures/openapi-client/misuse.ts.txt)', () => {
    const errors = compiled().errors.get('misuse.ts')!;
    const lines = readFileSync(join(work, 'misuse.ts'), 'utf8').split('\n');
    const marked = new Map<number, string>();
    lines.forEach((text, i) => {
      const why = /^\s*[^\s*/].*\/\/ must not compile: (.*)$/.exec(text)?.[1];
      if (why !== undefined) marked.set(i + 1, why);
    });
    expect(marked.size).toBeGreaterThan(10);
    const problems: string[] = [];
    for (const [line, why] of marked) {
      if (!errors.some((e) => e.line === line))
        problems.push(`misuse.ts:${line} compiles, but ${why}:\n    ${lines[line - 1].trim()}`);
    }
    const stray = errors.filter((e) => !marked.has(e.line));
    if (stray.length)
      problems.push(`errors on lines that are not marked:\n${describeErrors(stray)}`);
    report('The generated types let mistakes through:', problems);
  });

  test('the compiled client runs against the live server', async () => {
    compiled();
    const { code, stdout, stderr } = await new Promise<{
      code: number | null;
      stdout: string;
      stderr: string;
    }>((done) => {
      execFile(
        process.execPath,
        [join(work, 'client.js')],
        {
          env: {
            PATH: process.env.PATH,
            API_BASE_URL: base,
            API_COOKIE: cookie,
            API_CSRF_TOKEN: csrfToken,
          },
          timeout: 15_000,
        },
        (error, stdout, stderr) =>
          done({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr }),
      );
    });
    if (code !== 0) throw new Error(`client.js exited with ${code}:\n${stderr}${stdout}`);
    const ran = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(ran).toEqual({
      projectsUrl: '/api/projects',
      locale: 'en_GB',
      id: 1,
      name: 'aiohttp.web',
      slug: 'aiohttp-web',
      ownerId: 1,
      ownerName: 'Igor Davydenko',
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/),
      addedId: expect.any(Number),
      addedOwner: 3,
      changedName: 'Typed client, changed',
      changedDescription: 'Changed through openapi-fetch',
      conflict: 409,
      conflictTitle: 'Conflict',
      removed: 204,
      goneStatus: 404,
    });
  });
});

// --- the replay -------------------------------------------------------------------------------------

/** What the replay knows between requests: the project the valid POST made. */
interface Context {
  created?: number;
}

interface Send {
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/** One request of the replay and the status the sample must give it. */
interface Case {
  operation: Operation;
  what: string;
  /** With the demo user's session cookie and CSRF token, or as a stranger. */
  as: 'demo' | 'anonymous';
  /** The request is one the document describes (so Prism must find nothing wrong with it either). */
  conforming: boolean;
  send(ctx: Context): Send;
  expect: number | number[];
  /** Prism must say the request lacks the security the operation needs. */
  needsSession?: boolean;
  /** Sent straight to the sample: Prism answers this request itself. */
  direct?: boolean;
  then?(ctx: Context, body: any): void;
}

interface Exchange {
  case: Case;
  request: string;
  answer?: Answer;
  problems: string[];
}

const json = (value: unknown, path: string, headers: Record<string, string> = {}): Send => ({
  path,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(value),
});
const raw = (
  path: string,
  contentType: string,
  body: string,
  headers: Record<string, string> = {},
): Send => ({ path, headers: { 'content-type': contentType, ...headers }, body });

/** The demo user owns project 2 (aiopg); project 1 (aiohttp.web) is another user's. */
const OTHERS = 1;
const UNKNOWN = '999999';
/** Ids no route or no project has: the server must answer 404, never 500. */
const ODD_IDS: [string, number | number[]][] = [
  [UNKNOWN, 404],
  ['123456789012345678901234567890', 404],
  ['-1', 404],
  ['1e3', 404],
  ['0x10', 404],
  ['abc', 404],
  ['2147483648', 404], // past the id column: the route's id converter refuses it
  ['9'.repeat(400), 404],
];
const short = (id: string) => (id.length > 32 ? `${id.slice(0, 12)}… (${id.length} digits)` : id);
const created = (ctx: Context) => {
  if (ctx.created === undefined) throw new Error('no project to work on: the valid POST made none');
  return ctx.created;
};
const INPUT = { name: 'Replayed', slug: 'replayed', description: 'Sent through Prism' };
const TOO_BIG = { name: 'Big', slug: 'big', description: 'x'.repeat(MAX_BODY_SIZE) };

const CASES: Case[] = [
  {
    operation: 'GET /api/',
    what: 'no query',
    as: 'anonymous',
    conforming: true,
    send: () => ({ path: '/api/' }),
    expect: 200,
  },
  {
    operation: 'GET /api/',
    what: 'a locale',
    as: 'demo',
    conforming: true,
    send: () => ({ path: '/api/?locale=en_GB' }),
    expect: 200,
  },
  {
    operation: 'GET /api/',
    what: 'a malformed locale',
    as: 'anonymous',
    conforming: false,
    send: () => ({ path: '/api/?locale=x' }),
    expect: 422,
  },

  {
    operation: 'GET /api/projects',
    what: 'as a stranger',
    as: 'anonymous',
    conforming: true,
    send: () => ({ path: '/api/projects' }),
    expect: 200,
  },
  {
    operation: 'GET /api/projects',
    what: 'logged in',
    as: 'demo',
    conforming: true,
    send: () => ({ path: '/api/projects' }),
    expect: 200,
  },

  {
    operation: 'POST /api/projects',
    what: 'a valid project (JSON)',
    as: 'demo',
    conforming: true,
    expect: 201,
    send: () => json(INPUT, '/api/projects'),
    then: (ctx, body) => (ctx.created = body?.id),
  },
  {
    operation: 'POST /api/projects',
    what: 'a valid project (urlencoded form)',
    as: 'demo',
    conforming: true,
    expect: 201,
    send: () =>
      raw('/api/projects', 'application/x-www-form-urlencoded', 'name=Form&slug=replayed-form'),
  },
  {
    operation: 'POST /api/projects',
    what: 'not logged in',
    as: 'anonymous',
    conforming: false,
    needsSession: true,
    expect: 401,
    send: () => json({ ...INPUT, slug: 'anonymous' }, '/api/projects'),
  },
  {
    operation: 'POST /api/projects',
    what: 'a wrong CSRF token',
    as: 'demo',
    conforming: true,
    expect: 403,
    send: () =>
      json({ ...INPUT, slug: 'bad-token' }, '/api/projects', { 'x-csrf-token': 'A'.repeat(86) }),
  },
  {
    operation: 'POST /api/projects',
    what: 'cross-site, no CSRF token',
    as: 'demo',
    conforming: false,
    expect: 403,
    send: () =>
      json({ ...INPUT, slug: 'cross-site' }, '/api/projects', {
        'x-csrf-token': '',
        origin: 'https://evil.example',
      }),
  },
  {
    operation: 'POST /api/projects',
    what: 'a body that does not validate',
    as: 'demo',
    conforming: false,
    expect: 422,
    send: () => json({ name: '', slug: 'Not Valid', description: 7 }, '/api/projects'),
  },
  {
    operation: 'POST /api/projects',
    what: 'malformed JSON',
    as: 'demo',
    conforming: false,
    direct: true,
    expect: 400,
    send: () => raw('/api/projects', 'application/json', '{"name": "x",'),
  },
  {
    operation: 'POST /api/projects',
    what: 'an empty JSON body',
    as: 'demo',
    conforming: false,
    expect: 400,
    send: () => raw('/api/projects', 'application/json', ''),
  },
  {
    operation: 'POST /api/projects',
    what: 'a text/plain body',
    as: 'demo',
    conforming: false,
    expect: 415,
    send: () => raw('/api/projects', 'text/plain', 'name=x'),
  },
  {
    operation: 'POST /api/projects',
    what: `a body over MAX_BODY_SIZE (${MAX_BODY_SIZE} bytes)`,
    as: 'demo',
    conforming: false,
    expect: 413,
    send: () => json(TOO_BIG, '/api/projects'),
  },
  {
    operation: 'POST /api/projects',
    what: 'a taken slug',
    as: 'demo',
    conforming: true,
    expect: 409,
    send: () => json({ name: 'Copy', slug: 'aiopg' }, '/api/projects'),
  },

  {
    operation: 'GET /api/projects/{project_id}',
    what: 'the project just made',
    as: 'anonymous',
    conforming: true,
    expect: 200,
    send: (ctx) => ({ path: `/api/projects/${created(ctx)}` }),
  },
  {
    operation: 'GET /api/projects/{project_id}',
    what: 'a project with an owner, logged in',
    as: 'demo',
    conforming: true,
    expect: 200,
    send: () => ({ path: '/api/projects/2' }),
  },
  ...ODD_IDS.map(([id, status]): Case => ({
    operation: 'GET /api/projects/{project_id}',
    what: `id ${short(id)}`,
    as: 'anonymous',
    conforming: id === UNKNOWN,
    expect: status,
    send: () => ({ path: `/api/projects/${id}` }),
  })),

  {
    operation: 'PUT /api/projects/{project_id}',
    what: 'a valid change of its own project',
    as: 'demo',
    conforming: true,
    expect: 200,
    send: (ctx) => json({ ...INPUT, name: 'Replayed, changed' }, `/api/projects/${created(ctx)}`),
  },
  {
    operation: 'PUT /api/projects/{project_id}',
    what: 'not logged in',
    as: 'anonymous',
    conforming: false,
    needsSession: true,
    expect: 401,
    send: (ctx) => json(INPUT, `/api/projects/${created(ctx)}`),
  },
  {
    operation: 'PUT /api/projects/{project_id}',
    what: "another user's project",
    as: 'demo',
    conforming: true,
    expect: 403,
    send: () => json({ name: 'Mine now', slug: 'mine-now' }, `/api/projects/${OTHERS}`),
  },
  {
    operation: 'PUT /api/projects/{project_id}',
    what: 'a wrong CSRF token',
    as: 'demo',
    conforming: true,
    expect: 403,
    send: (ctx) => json(INPUT, `/api/projects/${created(ctx)}`, { 'x-csrf-token': 'A'.repeat(86) }),
  },
  {
    operation: 'PUT /api/projects/{project_id}',
    what: 'a body that does not validate',
    as: 'demo',
    conforming: false,
    expect: 422,
    send: (ctx) => json({ name: 5, slug: '' }, `/api/projects/${created(ctx)}`),
  },
  {
    operation: 'PUT /api/projects/{project_id}',
    what: 'malformed JSON',
    as: 'demo',
    conforming: false,
    direct: true,
    expect: 400,
    send: (ctx) => raw(`/api/projects/${created(ctx)}`, 'application/json', 'not json'),
  },
  {
    operation: 'PUT /api/projects/{project_id}',
    what: 'a text/plain body',
    as: 'demo',
    conforming: false,
    expect: 415,
    send: (ctx) => raw(`/api/projects/${created(ctx)}`, 'text/plain', 'hello'),
  },
  {
    operation: 'PUT /api/projects/{project_id}',
    what: `a body over MAX_BODY_SIZE (${MAX_BODY_SIZE} bytes)`,
    as: 'demo',
    conforming: false,
    expect: 413,
    send: (ctx) => json(TOO_BIG, `/api/projects/${created(ctx)}`),
  },
  {
    operation: 'PUT /api/projects/{project_id}',
    what: "another project's slug",
    as: 'demo',
    conforming: true,
    expect: 409,
    send: (ctx) => json({ name: 'Copy', slug: 'aiohttp-web' }, `/api/projects/${created(ctx)}`),
  },
  ...ODD_IDS.map(([id, status]): Case => ({
    operation: 'PUT /api/projects/{project_id}',
    what: `id ${short(id)}`,
    as: 'demo',
    conforming: id === UNKNOWN,
    expect: status,
    send: () => json(INPUT, `/api/projects/${id}`),
  })),

  {
    operation: 'DELETE /api/projects/{project_id}',
    what: 'not logged in',
    as: 'anonymous',
    conforming: false,
    needsSession: true,
    expect: 401,
    send: (ctx) => ({ path: `/api/projects/${created(ctx)}` }),
  },
  {
    operation: 'DELETE /api/projects/{project_id}',
    what: "another user's project",
    as: 'demo',
    conforming: true,
    expect: 403,
    send: () => ({ path: `/api/projects/${OTHERS}` }),
  },
  {
    operation: 'DELETE /api/projects/{project_id}',
    what: 'cross-site, no CSRF token',
    as: 'demo',
    conforming: false,
    expect: 403,
    send: (ctx) => ({
      path: `/api/projects/${created(ctx)}`,
      headers: {
        'content-type': 'application/json',
        'x-csrf-token': '',
        origin: 'https://evil.example',
      },
    }),
  },
  ...ODD_IDS.map(([id, status]): Case => ({
    operation: 'DELETE /api/projects/{project_id}',
    what: `id ${short(id)}`,
    as: 'demo',
    conforming: id === UNKNOWN,
    expect: status,
    send: () => ({ path: `/api/projects/${id}` }),
  })),
  {
    operation: 'DELETE /api/projects/{project_id}',
    what: 'its own project',
    as: 'demo',
    conforming: true,
    expect: 204,
    send: (ctx) => ({ path: `/api/projects/${created(ctx)}` }),
  },
  {
    operation: 'DELETE /api/projects/{project_id}',
    what: 'the same project again',
    as: 'demo',
    conforming: true,
    expect: 404,
    send: (ctx) => ({ path: `/api/projects/${created(ctx)}` }),
  },
];

const describeViolation = (v: PrismViolation) =>
  `${v.location.join('.')}: ${v.message}${v.code !== undefined ? ` (${v.code})` : ''}`;

describe('the replay: every operation, valid and invalid requests, through Prism', () => {
  let prism: PrismProxy;
  let validator: ResponseValidator;
  const exchanges: Exchange[] = [];

  beforeAll(async () => {
    prism = await prismStarting;
    validator = await prismResponseValidator(join(work, 'openapi.json'));
    const ctx: Context = {};
    for (const c of CASES) exchanges.push(await replay(c, ctx));
  });

  async function replay(c: Case, ctx: Context): Promise<Exchange> {
    const method = c.operation.split(' ')[0];
    let send: Send;
    try {
      send = c.send(ctx);
    } catch (e) {
      return {
        case: c,
        request: `${method} ?`,
        problems: [`could not be sent: ${(e as Error).message}`],
      };
    }
    const request = `${method} ${send.path.length > 60 ? `${send.path.slice(0, 40)}…` : send.path}`;
    const headers: Record<string, string> = {
      accept: 'application/json',
      ...(c.as === 'demo' ? { cookie, 'x-csrf-token': csrfToken } : {}),
      ...send.headers,
    };
    for (const [k, v] of Object.entries(headers)) if (v === '') delete headers[k];
    const res = await fetch((c.direct ? base : prism.url) + send.path, {
      method,
      headers,
      body: send.body,
      redirect: 'manual',
    });
    const answer: Answer = {
      status: res.status,
      contentType: res.headers.get('content-type'),
      body: await res.text(),
    };
    const problems: string[] = [];
    const expected = [c.expect].flat();
    if (!expected.includes(answer.status))
      problems.push(
        `the sample answered ${answer.status}, expected ${expected.join(' or ')}: ${answer.body.slice(0, 300)}`,
      );
    problems.push(...undeclared(doc, method, c.operation.split(' ')[1], answer));
    if (c.direct) {
      problems.push(
        ...validator
          .violations(method, c.operation.split(' ')[1], answer)
          .map((v) => `Prism's validator: ${v}`),
      );
    } else {
      if (res.headers.get('server-timing') === null)
        problems.push(
          `the answer came from Prism, not from the sample: ${answer.body.slice(0, 300)}`,
        );
      const violations = violationsOf(res.headers);
      const responseSide = violations.filter((v) => v.location[0] === 'response');
      const requestSide = violations.filter((v) => v.location[0] === 'request');
      problems.push(...responseSide.map((v) => `Prism: ${describeViolation(v)}`));
      if (c.conforming)
        problems.push(
          ...requestSide.map(
            (v) => `Prism finds the request itself against the document: ${describeViolation(v)}`,
          ),
        );
      if (c.needsSession && !requestSide.some((v) => String(v.code) === '401')) {
        problems.push(
          'Prism saw nothing missing without the session cookie: the document does not say this operation needs it',
        );
      }
    }
    if (c.then && answer.status < 300)
      c.then(ctx, answer.contentType?.includes('json') ? JSON.parse(answer.body) : undefined);
    return { case: c, request, answer, problems: [...new Set(problems)] }; // Prism may say a thing twice
  }

  test('the document has exactly the operations replayed here', () => {
    expect(documentedOperations().sort()).toEqual([...OPERATIONS].sort());
  });

  test.each(OPERATIONS)('%s: every answer is one the document declares', (op) => {
    const mine = exchanges.filter((e) => e.case.operation === op);
    expect(mine.length).toBeGreaterThan(1);
    const bad = mine.filter((e) => e.problems.length);
    const id = operationOf(op)?.operationId ?? 'not in the document';
    report(
      `${op} (${id}): ${bad.length} of ${mine.length} exchanges break the document:`,
      bad.map((e) => {
        const got = e.answer
          ? `${e.answer.status} ${e.answer.contentType ?? '(no Content-Type)'}`
          : 'not sent';
        return `- ${e.case.what} (${e.case.as}, ${e.request}${e.case.direct ? ', straight to the sample' : ''}) → ${got}\n${e.problems.map((p) => `    ${p}`).join('\n')}`;
      }),
    );
  });
});
