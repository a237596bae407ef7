import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Application,
  Controller,
  createApp,
  Database,
  Get,
  migrate,
  RococoError,
  sql,
  database,
} from '../src';
import { testClient } from '../src/testing';
import { createTestDatabase, type TestDatabase } from './helpers/database';

const FIXTURES = join(__dirname, 'fixtures');
const BASIC = join(FIXTURES, 'migrations-basic');
const FAILING = join(FIXTURES, 'migrations-failing');
const RACE = join(FIXTURES, 'migrations-race');

// Each test gets a fresh database and an app (not listening) whose Database it uses.
let tdb: TestDatabase;
let app: Application;
let db: Database;

beforeEach(async () => {
  tdb = await createTestDatabase();
  app = createApp({ plugins: [database({ url: tdb.url })] });
  await app.startup();
  db = app.database as Database;
});

afterEach(async () => {
  await app?.close();
  await tdb?.drop();
});

const recorded = async () =>
  (
    await db.query<{ name: string }>(
      sql`SELECT name FROM rococo_migrations ORDER BY applied_at, name`,
    )
  ).map((r) => r.name);

const tableExists = async (name: string) =>
  (await db.one<{ t: string | null }>(sql`SELECT to_regclass(${'public.' + name})::text AS t`))
    .t !== null;

const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => new Error('resolved'),
    (e: unknown) => e,
  );

test('applies the .sql files in name order, once each, multi-statement, and records them', async () => {
  const applied = await migrate(db, BASIC);
  expect(applied).toEqual(['001_users.sql', '002_projects.sql', '010_log.sql']);
  expect(await recorded()).toEqual(['001_users.sql', '002_projects.sql', '010_log.sql']);
  // Every statement of every file ran.
  expect(await db.query(sql`SELECT name FROM users ORDER BY id`)).toEqual([
    { name: 'ada' },
    { name: 'grace; not a statement end' },
  ]);
  expect(
    await db.query(
      sql`SELECT p.name, u.name AS owner FROM projects p JOIN users u ON u.id = p.owner_id`,
    ),
  ).toEqual([{ name: 'rococo', owner: 'ada' }]);
  expect(await tableExists('projects_owner')).toBe(true);
  expect(await db.query(sql`SELECT file FROM migration_log`)).toEqual([{ file: '010_log.sql' }]);
});

test('running twice is a no-op', async () => {
  expect(await migrate(db, BASIC)).toHaveLength(3);
  expect(await migrate(db, BASIC)).toEqual([]);
  expect(await migrate(db, BASIC)).toEqual([]);
  expect(await recorded()).toEqual(['001_users.sql', '002_projects.sql', '010_log.sql']);
  expect(await db.query(sql`SELECT count(*)::int AS n FROM users`)).toEqual([{ n: 2 }]);
  expect(await db.query(sql`SELECT count(*)::int AS n FROM migration_log`)).toEqual([{ n: 1 }]);
});

test('a new file added later is applied alone', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rococo-mig-'));
  try {
    cpSync(BASIC, dir, { recursive: true });
    expect(await migrate(db, dir)).toEqual(['001_users.sql', '002_projects.sql', '010_log.sql']);
    writeFileSync(
      join(dir, '011_more.sql'),
      "INSERT INTO migration_log VALUES ('011_more.sql');\n",
    );
    expect(await migrate(db, dir)).toEqual(['011_more.sql']);
    expect(await db.query(sql`SELECT file FROM migration_log ORDER BY file`)).toEqual([
      { file: '010_log.sql' },
      { file: '011_more.sql' },
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a failing migration rolls back that file only, and stops the run', async () => {
  const err = await errorOf(migrate(db, FAILING));
  expect(err).toBeInstanceOf(RococoError);
  expect((err as RococoError).code).toBe('ROCOCO_MIGRATION');
  expect((err as Error).message).toContain('002_bad.sql');
  expect((err as Error).message).toContain('no_such_table'); // the cause, from PostgreSQL
  expect((err as Error).message).not.toContain('001_ok.sql');

  expect(await recorded()).toEqual(['001_ok.sql']);
  expect(await tableExists('kept')).toBe(true);
  expect(await db.query(sql`SELECT id FROM kept`)).toEqual([{ id: 1 }]);
  expect(await tableExists('half_done')).toBe(false); // created by the failing file, rolled back
  expect(await tableExists('never_applied')).toBe(false); // after the failing file: not run

  // The connection was given back clean: a second run fails the same way, applying nothing twice.
  const again = await errorOf(migrate(db, FAILING));
  expect((again as RococoError).code).toBe('ROCOCO_MIGRATION');
  expect((again as Error).message).toContain('002_bad.sql');
  expect(await recorded()).toEqual(['001_ok.sql']);
  expect(await db.query(sql`SELECT count(*)::int AS n FROM kept`)).toEqual([{ n: 1 }]);
  // And the advisory lock was released: another session can take it at once.
  expect(
    await db.query(
      sql`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    ),
  ).toEqual([{ n: 0 }]);
});

test('a file changed after it was applied is refused, and nothing after it runs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rococo-mig-'));
  try {
    cpSync(BASIC, dir, { recursive: true });
    await migrate(db, dir);
    appendFileSync(
      join(dir, '002_projects.sql'),
      "\nINSERT INTO projects (owner_id, name) VALUES (1, 'sneaky');\n",
    );
    writeFileSync(join(dir, '020_new.sql'), 'CREATE TABLE after_change (id int);\n');
    const err = await errorOf(migrate(db, dir));
    expect(err).toBeInstanceOf(RococoError);
    expect((err as RococoError).code).toBe('ROCOCO_MIGRATION');
    expect((err as Error).message).toContain('002_projects.sql');
    expect(await db.query(sql`SELECT name FROM projects`)).toEqual([{ name: 'rococo' }]);
    expect(await tableExists('after_change')).toBe(false);
    expect(await recorded()).toEqual(['001_users.sql', '002_projects.sql', '010_log.sql']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// --------------------------------------------------------------------------------------------
interface WorkerResult {
  applied?: string[];
  error?: string;
  code?: string;
}

/** A node process that runs migrate(); resolves `ready` once it is connected. */
function startWorker(url: string, dir: string) {
  const child: ChildProcess = spawn(
    process.execPath,
    [join(__dirname, 'helpers', 'migrate-worker.js'), url, dir],
    {
      cwd: join(__dirname, '..'),
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env },
    },
  );
  let out = '';
  let err = '';
  let onReady: () => void;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('ready\n')) onReady();
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<{ exit: number | null; result: WorkerResult | null; stderr: string }>(
    (resolve) => {
      child.on('close', (exit) => {
        const line = out.split('\n').find((l) => l.startsWith('{'));
        resolve({ exit, result: line ? (JSON.parse(line) as WorkerResult) : null, stderr: err });
      });
    },
  );
  const exited = done.then(() => {
    throw new Error(`worker exited before it was ready: ${out} ${err}`);
  });
  return {
    ready: Promise.race([ready, exited]),
    go: () => child.stdin!.end('go\n'),
    done,
    kill: () => child.kill('SIGKILL'),
  };
}

test('two processes migrating the same fresh database at once apply each file exactly once', async () => {
  const a = startWorker(tdb.url, RACE);
  const b = startWorker(tdb.url, RACE);
  try {
    await Promise.all([a.ready, b.ready]);
    a.go();
    b.go();
    const [ra, rb] = await Promise.all([a.done, b.done]);
    expect({ exit: ra.exit, error: ra.result?.error }).toEqual({ exit: 0, error: undefined });
    expect({ exit: rb.exit, error: rb.result?.error }).toEqual({ exit: 0, error: undefined });
    // Between them they applied both files, none twice.
    const all = [...(ra.result!.applied as string[]), ...(rb.result!.applied as string[])].sort();
    expect(all).toEqual(['001_slow.sql', '002_second.sql']);
    // A run that waited for the lock found everything done.
    expect([ra.result!.applied, rb.result!.applied]).toContainEqual([]);
    expect(await recorded()).toEqual(['001_slow.sql', '002_second.sql']);
    expect(await db.query(sql`SELECT file FROM race_log ORDER BY file`)).toEqual([
      { file: '001_slow.sql' },
      { file: '002_second.sql' },
    ]);
  } finally {
    a.kill();
    b.kill();
  }
}, 60000);

// --------------------------------------------------------------------------------------------
describe('database({ migrations, migrate: true })', () => {
  @Controller()
  class UsersController {
    constructor(private db: Database) {}
    @Get('/users')
    async users() {
      return this.db.query(sql`SELECT name FROM users ORDER BY id`);
    }
  }

  test('migrates at startup, before the first request', async () => {
    const a = createApp({
      controllers: [UsersController],
      plugins: [database({ url: tdb.url, migrations: BASIC, migrate: true })],
    });
    // Nothing happens at createApp.
    expect(await tableExists('rococo_migrations')).toBe(false);
    const client = await testClient(a);
    try {
      expect(await recorded()).toEqual(['001_users.sql', '002_projects.sql', '010_log.sql']);
      const res = await client.get('/users');
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual([{ name: 'ada' }, { name: 'grace; not a statement end' }]);
    } finally {
      await client.close();
    }
    // A second app on the same database starts without applying anything again.
    const b = createApp({
      plugins: [database({ url: tdb.url, migrations: BASIC, migrate: true })],
    });
    await b.startup();
    await b.close();
    expect(await db.query(sql`SELECT count(*)::int AS n FROM migration_log`)).toEqual([{ n: 1 }]);
  });

  test('migrations without migrate: true are not applied', async () => {
    const a = createApp({ plugins: [database({ url: tdb.url, migrations: BASIC })] });
    await a.startup();
    await a.close();
    expect(await tableExists('users')).toBe(false);
  });

  test('a failing migration fails startup', async () => {
    const a = createApp({
      plugins: [database({ url: tdb.url, migrations: FAILING, migrate: true })],
    });
    try {
      const err = await errorOf(a.listen(0));
      expect((err as RococoError).code).toBe('ROCOCO_MIGRATION');
      expect((err as Error).message).toContain('002_bad.sql');
      expect(a.server).toBeNull();
    } finally {
      await a.close();
    }
  });

  test('migrate: true without a folder is refused at createApp', () => {
    expect(() => createApp({ plugins: [database({ url: tdb.url, migrate: true })] })).toThrow(
      RococoError,
    );
  });
});
