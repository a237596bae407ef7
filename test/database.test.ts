import { inspect } from 'node:util';
import {
  Application,
  Controller,
  createApp,
  Database,
  Get,
  HTTPError,
  HTTPNotFound,
  immutableSettings,
  NoRowsError,
  Post,
  Request,
  RococoError,
  sql,
  SqlQuery,
  TooManyRowsError,
  database,
} from '../src';
import { testClient } from '../src/testing';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { adminQuery, backendsOf, databaseName, waitFor } from './helpers/pg-admin';

let tdb: TestDatabase;
let app: Application;
let db: Database;

beforeAll(async () => {
  tdb = await createTestDatabase();
  app = createApp({ plugins: [database({ url: tdb.url })] });
  await app.startup();
  db = app.database as Database;
  await db.query(sql`CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)`);
});

afterAll(async () => {
  await app?.close();
  await tdb?.drop();
});

beforeEach(async () => {
  await db.query(sql`TRUNCATE items`);
});

const names = async () =>
  (await db.query<{ name: string }>(sql`SELECT name FROM items ORDER BY id`)).map((r) => r.name);

// --------------------------------------------------------------------------------------------
describe('sql tag', () => {
  test('values become parameters, never text', () => {
    const q = sql`SELECT * FROM items WHERE id = ${7} AND name = ${'x'} OR flag = ${null}`;
    expect(q).toBeInstanceOf(SqlQuery);
    expect(q.text).toBe('SELECT * FROM items WHERE id = $1 AND name = $2 OR flag = $3');
    expect(q.values).toEqual([7, 'x', null]);
    expect(sql`SELECT 1`.text).toBe('SELECT 1');
    expect(sql`SELECT 1`.values).toEqual([]);
  });

  test('an injection attempt is stored verbatim and the table survives', async () => {
    const evil = "'; DROP TABLE items; --";
    const q = sql`INSERT INTO items (id, name) VALUES (${1}, ${evil})`;
    expect(q.text).toBe('INSERT INTO items (id, name) VALUES ($1, $2)');
    expect(q.text).not.toContain('DROP');
    await db.query(q);
    const row = await db.one<{ name: string }>(sql`SELECT name FROM items WHERE name = ${evil}`);
    expect(row.name).toBe(evil);
    expect(await db.query(sql`SELECT count(*)::int AS n FROM items`)).toEqual([{ n: 1 }]);
    // A value that looks like a placeholder is a value too.
    await db.query(sql`INSERT INTO items (id, name) VALUES (${2}, ${'$1'})`);
    expect(await names()).toEqual([evil, '$1']);
  });

  test('fragments compose and their placeholders are renumbered', async () => {
    const where = sql`id >= ${2} AND name <> ${'c'}`;
    const q = sql`SELECT ${'v'}::text AS v, id FROM items WHERE ${where} AND id < ${9} ORDER BY id`;
    expect(q.text).toBe(
      'SELECT $1::text AS v, id FROM items WHERE id >= $2 AND name <> $3 AND id < $4 ORDER BY id',
    );
    expect(q.values).toEqual(['v', 2, 'c', 9]);
    // The same fragment twice, a fragment first, two fragments side by side, nesting.
    const eq = sql`id = ${3}`;
    const twice = sql`${eq} OR ${eq}`;
    expect(twice.text).toBe('id = $1 OR id = $2');
    expect(twice.values).toEqual([3, 3]);
    const nested = sql`SELECT id FROM items WHERE (${twice}) OR ${sql`${sql`id = ${5}`}`}${sql` OR id = ${6}`} ORDER BY id`;
    expect(nested.text).toBe(
      'SELECT id FROM items WHERE (id = $1 OR id = $2) OR id = $3 OR id = $4 ORDER BY id',
    );
    expect(nested.values).toEqual([3, 3, 5, 6]);
    // The fragments were not changed by being used.
    expect(eq.text).toBe('id = $1');
    expect(where.values).toEqual([2, 'c']);

    for (const [id, name] of [
      [1, 'a'],
      [2, 'b'],
      [3, 'c'],
      [5, 'e'],
      [6, 'f'],
    ] as const) {
      await db.query(sql`INSERT INTO items (id, name) VALUES (${id}, ${name})`);
    }
    expect(await db.query(q)).toEqual([
      { v: 'v', id: 2 },
      { v: 'v', id: 5 },
      { v: 'v', id: 6 },
    ]);
    expect(await db.query(nested)).toEqual([{ id: 3 }, { id: 5 }, { id: 6 }]);
  });

  test('sql.ident quotes identifiers, including one with a double quote', async () => {
    expect(sql.ident('items').text).toBe('"items"');
    expect(sql.ident('we"ird').text).toBe('"we""ird"');
    expect(sql.ident('public', 'items').text).toBe('"public"."items"');
    expect(sql.ident('x').values).toEqual([]);
    expect(() => sql.ident()).toThrow(TypeError);

    const table = sql.ident('we"ird; DROP TABLE items; --');
    const column = sql.ident('Col"Name');
    await db.query(sql`CREATE TABLE ${table} (${column} text)`);
    await db.query(sql`INSERT INTO ${table} (${column}) VALUES (${'ok'})`);
    expect(await db.query(sql`SELECT ${column} FROM ${table}`)).toEqual([{ 'Col"Name': 'ok' }]);
    expect(
      await db.query(sql`SELECT count(*)::int AS n FROM ${sql.ident('public', 'items')}`),
    ).toEqual([{ n: 0 }]);
    const tables = await db.query<{ t: string }>(
      sql`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`,
    );
    expect(tables.map((r) => r.t)).toEqual(['items', 'we"ird; DROP TABLE items; --']);
    await db.query(sql`DROP TABLE ${table}`);
  });

  test('sql.join of values and of fragments', async () => {
    const values = sql.join([1, 'x', true]);
    expect(values.text).toBe('$1, $2, $3');
    expect(values.values).toEqual([1, 'x', true]);

    const cols = sql.join([sql.ident('id'), sql.ident('name')]);
    expect(cols.text).toBe('"id", "name"');
    expect(cols.values).toEqual([]);

    const conds = sql.join([sql`id = ${1}`, sql`name = ${'a'}`, sql`id < ${3}`], sql` AND `);
    expect(conds.text).toBe('id = $1 AND name = $2 AND id < $3');
    expect(conds.values).toEqual([1, 'a', 3]);

    const insert = sql`INSERT INTO items (${cols}) VALUES (${sql.join([1, 'a'])}), (${sql.join([2, 'b'])})`;
    expect(insert.text).toBe('INSERT INTO items ("id", "name") VALUES ($1, $2), ($3, $4)');
    await db.query(insert);
    expect(await db.query(sql`SELECT ${cols} FROM items WHERE ${conds}`)).toEqual([
      { id: 1, name: 'a' },
    ]);
    expect(await db.query(sql`SELECT id FROM items WHERE id IN (${sql.join([2, 9])})`)).toEqual([
      { id: 2 },
    ]);
    // An array value is one parameter.
    expect(
      await db.query(sql`SELECT id FROM items WHERE id = ANY(${[1, 2]}::int[]) ORDER BY id`),
    ).toEqual([{ id: 1 }, { id: 2 }]);
    expect(() => sql.join([])).toThrow(TypeError);
  });

  test('an undefined value throws (null is SQL NULL)', async () => {
    const missing: { id?: number } = {};
    expect(() => sql`SELECT * FROM items WHERE id = ${missing.id}`).toThrow(TypeError);
    expect(() => sql`SELECT * FROM items WHERE id = ${missing.id}`).toThrow(/undefined/);
    expect(() => sql.join([1, undefined])).toThrow(TypeError);
    expect(await db.query(sql`SELECT ${null}::int AS v`)).toEqual([{ v: null }]);
  });

  test('sql.unsafe splices text as is', async () => {
    const order = sql.unsafe('id DESC');
    expect(order.text).toBe('id DESC');
    expect(order.values).toEqual([]);
    const q = sql`SELECT id FROM items WHERE id > ${0} ORDER BY ${order} LIMIT ${2}`;
    expect(q.text).toBe('SELECT id FROM items WHERE id > $1 ORDER BY id DESC LIMIT $2');
    await db.query(sql`INSERT INTO items (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c')`);
    expect(await db.query(q)).toEqual([{ id: 3 }, { id: 2 }]);
  });
});

// --------------------------------------------------------------------------------------------
describe('queries', () => {
  beforeEach(async () => {
    await db.query(sql`INSERT INTO items (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'b')`);
  });

  test('query returns the rows, none is fine; a plain string works too', async () => {
    expect(await db.query(sql`SELECT id, name FROM items ORDER BY id`)).toEqual([
      { id: 1, name: 'a' },
      { id: 2, name: 'b' },
      { id: 3, name: 'b' },
    ]);
    expect(await db.query(sql`SELECT id FROM items WHERE id > ${10}`)).toEqual([]);
    expect(await db.query('SELECT count(*)::int AS n FROM items')).toEqual([{ n: 3 }]);
  });

  test('a query error is the PostgreSQL error, not a 503', async () => {
    const err = await db.query(sql`SELECT * FROM no_such_table`).catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(HTTPError);
    expect((err as { code?: string }).code).toBe('42P01');
    const dup = await db
      .query(sql`INSERT INTO items (id, name) VALUES (${1}, ${'again'})`)
      .catch((e: unknown) => e);
    expect((dup as { code?: string }).code).toBe('23505');
  });

  test('one: exactly one row; none is a NoRowsError (a 404), two a TooManyRowsError', async () => {
    expect(await db.one(sql`SELECT id, name FROM items WHERE id = ${1}`)).toEqual({
      id: 1,
      name: 'a',
    });

    const none = await db.one(sql`SELECT id FROM items WHERE id = ${42}`).catch((e: unknown) => e);
    expect(none).toBeInstanceOf(NoRowsError);
    expect(none).toBeInstanceOf(HTTPNotFound);
    expect((none as HTTPError).status).toBe(404);

    const two = await db
      .one(sql`SELECT id FROM items WHERE name = ${'b'}`)
      .catch((e: unknown) => e);
    expect(two).toBeInstanceOf(TooManyRowsError);
    expect(two).not.toBeInstanceOf(HTTPError);
    expect((two as Error).message).toMatch(/2/);
  });

  test('maybeOne: a row, null, or TooManyRowsError', async () => {
    expect(await db.maybeOne(sql`SELECT name FROM items WHERE id = ${2}`)).toEqual({ name: 'b' });
    expect(await db.maybeOne(sql`SELECT name FROM items WHERE id = ${42}`)).toBeNull();
    await expect(
      db.maybeOne(sql`SELECT name FROM items WHERE name = ${'b'}`),
    ).rejects.toBeInstanceOf(TooManyRowsError);
  });

  test('many: one or more rows; none is a NoRowsError', async () => {
    expect(await db.many(sql`SELECT id FROM items WHERE name = ${'b'} ORDER BY id`)).toEqual([
      { id: 2 },
      { id: 3 },
    ]);
    expect(await db.many(sql`SELECT id FROM items WHERE id = ${1}`)).toEqual([{ id: 1 }]);
    await expect(db.many(sql`SELECT id FROM items WHERE id > ${10}`)).rejects.toBeInstanceOf(
      NoRowsError,
    );
  });

  test('rows are typed by the generic', async () => {
    interface Item {
      id: number;
      name: string;
    }
    const rows: Item[] = await db.many<Item>(sql`SELECT id, name FROM items ORDER BY id`);
    const first: Item = await db.one<Item>(sql`SELECT id, name FROM items WHERE id = ${1}`);
    const maybe: Item | null = await db.maybeOne<Item>(
      sql`SELECT id, name FROM items WHERE id = ${2}`,
    );
    const all: Item[] = await db.query<Item>(sql`SELECT id, name FROM items ORDER BY id`);
    // @ts-expect-error: Item has no such column (ts-jest type-checks this file)
    expect(first.nope).toBeUndefined();
    const upper: string = rows[0].name.toUpperCase();
    expect(upper).toBe('A');
    expect(first.id + 1).toBe(2);
    expect(maybe?.name).toBe('b');
    expect(all.map((r) => r.id)).toEqual([1, 2, 3]);
  });
});

// --------------------------------------------------------------------------------------------
describe('transactions', () => {
  test('commits when the function resolves, and returns its value', async () => {
    const out = await db.transaction(async (tx) => {
      await tx.query(sql`INSERT INTO items (id, name) VALUES (${1}, ${'a'})`);
      await tx.query(sql`INSERT INTO items (id, name) VALUES (${2}, ${'b'})`);
      // Not visible to other connections before the commit.
      expect(await db.query(sql`SELECT id FROM items`)).toEqual([]);
      expect(await tx.query(sql`SELECT id FROM items ORDER BY id`)).toEqual([{ id: 1 }, { id: 2 }]);
      return 'done';
    });
    expect(out).toBe('done');
    expect(await names()).toEqual(['a', 'b']);
  });

  test('rolls back when the function throws, and rethrows the same error', async () => {
    const boom = new Error('boom');
    const err = await db
      .transaction(async (tx) => {
        await tx.query(sql`INSERT INTO items (id, name) VALUES (${1}, ${'a'})`);
        throw boom;
      })
      .catch((e: unknown) => e);
    expect(err).toBe(boom);
    expect(await names()).toEqual([]);
  });

  test('a failed statement rolls the whole transaction back', async () => {
    await db.query(sql`INSERT INTO items (id, name) VALUES (1, 'a')`);
    const err = await db
      .transaction(async (tx) => {
        await tx.query(sql`INSERT INTO items (id, name) VALUES (${2}, ${'b'})`);
        await tx.query(sql`INSERT INTO items (id, name) VALUES (${1}, ${'dup'})`);
      })
      .catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('23505');
    expect(await names()).toEqual(['a']);
  });

  test('a failing COMMIT (deferred constraint) rejects and leaves nothing', async () => {
    await db.query(
      sql`CREATE TABLE deferred (v int, CONSTRAINT deferred_v_key UNIQUE (v) DEFERRABLE INITIALLY DEFERRED)`,
    );
    try {
      const err = await db
        .transaction(async (tx) => {
          await tx.query(sql`INSERT INTO deferred VALUES (1), (1)`);
          return 'resolved';
        })
        .catch((e: unknown) => e);
      expect((err as { code?: string }).code).toBe('23505');
      expect(await db.query(sql`SELECT count(*)::int AS n FROM deferred`)).toEqual([{ n: 0 }]);
    } finally {
      await db.query(sql`DROP TABLE deferred`);
    }
  });

  test('nested: an inner failure caught by the outer keeps the outer rows', async () => {
    const inner = new Error('inner');
    await db.transaction(async (tx) => {
      await tx.query(sql`INSERT INTO items (id, name) VALUES (${1}, ${'outer-before'})`);
      const err = await tx
        .transaction(async (tx2) => {
          await tx2.query(sql`INSERT INTO items (id, name) VALUES (${2}, ${'inner'})`);
          expect(await tx2.query(sql`SELECT id FROM items ORDER BY id`)).toEqual([
            { id: 1 },
            { id: 2 },
          ]);
          throw inner;
        })
        .catch((e: unknown) => e);
      expect(err).toBe(inner);
      // Inside the outer transaction the inner row is gone already, and the transaction is usable.
      expect(await tx.query(sql`SELECT id FROM items ORDER BY id`)).toEqual([{ id: 1 }]);
      await tx.query(sql`INSERT INTO items (id, name) VALUES (${3}, ${'outer-after'})`);
    });
    expect(await names()).toEqual(['outer-before', 'outer-after']);
  });

  test('nested: an inner SQL error (aborted state) is undone by its savepoint only', async () => {
    await db.transaction(async (tx) => {
      await tx.query(sql`INSERT INTO items (id, name) VALUES (${1}, ${'a'})`);
      const err = await tx
        .transaction(async (tx2) => {
          await tx2.query(sql`INSERT INTO items (id, name) VALUES (${2}, ${'b'})`);
          await tx2.query(sql`INSERT INTO items (id, name) VALUES (${1}, ${'dup'})`);
        })
        .catch((e: unknown) => e);
      expect((err as { code?: string }).code).toBe('23505');
      await tx.query(sql`INSERT INTO items (id, name) VALUES (${3}, ${'c'})`);
    });
    expect(await names()).toEqual(['a', 'c']);
  });

  test('nested: an inner success commits with the outer, and is undone with it', async () => {
    const value = await db.transaction(async (tx) => {
      await tx.query(sql`INSERT INTO items (id, name) VALUES (${1}, ${'outer'})`);
      return tx.transaction(async (tx2) => {
        await tx2.query(sql`INSERT INTO items (id, name) VALUES (${2}, ${'inner'})`);
        return tx2.transaction(async (tx3) => {
          await tx3.query(sql`INSERT INTO items (id, name) VALUES (${3}, ${'innermost'})`);
          return 'deep';
        });
      });
    });
    expect(value).toBe('deep');
    expect(await names()).toEqual(['outer', 'inner', 'innermost']);

    await db.query(sql`TRUNCATE items`);
    const outerFailure = new Error('outer fails after the inner succeeded');
    await expect(
      db.transaction(async (tx) => {
        await tx.query(sql`INSERT INTO items (id, name) VALUES (${1}, ${'outer'})`);
        await tx.transaction(async (tx2) => {
          await tx2.query(sql`INSERT INTO items (id, name) VALUES (${2}, ${'inner'})`);
        });
        throw outerFailure;
      }),
    ).rejects.toBe(outerFailure);
    expect(await names()).toEqual([]);
  });

  test('nested: savepoints in sequence at one level, and a failure two levels down', async () => {
    await db.transaction(async (tx) => {
      await tx.transaction(async (a) => {
        await a.query(sql`INSERT INTO items (id, name) VALUES (${1}, ${'first'})`);
      });
      await tx.transaction(async (b) => {
        await b.query(sql`INSERT INTO items (id, name) VALUES (${2}, ${'second'})`);
        await b
          .transaction(async (c) => {
            await c.query(sql`INSERT INTO items (id, name) VALUES (${3}, ${'third'})`);
            throw new Error('third fails');
          })
          .catch(() => undefined);
        await b.query(sql`INSERT INTO items (id, name) VALUES (${4}, ${'fourth'})`);
      });
      await tx
        .transaction(async (d) => {
          await d.query(sql`INSERT INTO items (id, name) VALUES (${5}, ${'fifth'})`);
          throw new Error('fifth fails');
        })
        .catch(() => undefined);
    });
    expect(await names()).toEqual(['first', 'second', 'fourth']);
  });

  test('the tx object can be used concurrently (Promise.all)', async () => {
    const ids = [1, 2, 3, 4, 5, 6, 7, 8];
    const rows = await db.transaction(async (tx) => {
      await Promise.all(
        ids.map((id) => tx.query(sql`INSERT INTO items (id, name) VALUES (${id}, ${'n' + id})`)),
      );
      const [count, one, many] = await Promise.all([
        tx.one<{ n: number }>(sql`SELECT count(*)::int AS n FROM items`),
        tx.one<{ name: string }>(sql`SELECT name FROM items WHERE id = ${3}`),
        tx.many<{ id: number }>(sql`SELECT id FROM items ORDER BY id`),
      ]);
      expect(count.n).toBe(8);
      expect(one.name).toBe('n3');
      return many;
    });
    expect(rows.map((r) => r.id)).toEqual(ids);
    expect(await db.query(sql`SELECT count(*)::int AS n FROM items`)).toEqual([{ n: 8 }]);
  });

  test('concurrent queries of a failing tx are all rolled back', async () => {
    await expect(
      db.transaction(async (tx) => {
        await Promise.all([
          tx.query(sql`INSERT INTO items (id, name) VALUES (${1}, ${'a'})`),
          tx.query(sql`INSERT INTO items (id, name) VALUES (${2}, ${'b'})`),
          tx.query(sql`SELECT 1/0`),
        ]);
      }),
    ).rejects.toMatchObject({ code: '22012' });
    expect(await names()).toEqual([]);
  });

  test('concurrent nested transactions on one tx: the one that succeeds keeps its row, the failing one does not', async () => {
    await db.transaction(async (tx) => {
      const results = await Promise.allSettled([
        tx.transaction(async (a) => {
          await a.query(sql`INSERT INTO items (id, name) VALUES (${1}, ${'ok'})`);
          await a.query(sql`SELECT pg_sleep(0.05)`);
          return 'a';
        }),
        tx.transaction(async (b) => {
          await b.query(sql`INSERT INTO items (id, name) VALUES (${2}, ${'fails'})`);
          throw new Error('b fails');
        }),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    });
    expect(await names()).toEqual(['ok']);
  });

  test('a nested call made on the outer tx from inside a nested callback does not deadlock', async () => {
    // A closure over the outer `tx` rather than the inner one: still a nested call on the same
    // connection, which must complete (as a deeper savepoint), never hang.
    // An app of its own: a stuck transaction would keep the suite's pool from closing.
    const own = createApp({ plugins: [database({ url: tdb.url })] });
    await own.startup();
    let pid = 0;
    const run = (own.database as Database).transaction(async (tx) => {
      pid = (await tx.one<{ pid: number }>(sql`SELECT pg_backend_pid() AS pid`)).pid;
      await tx.transaction(async () => {
        await tx.transaction(async (inner) => {
          await inner.query(sql`INSERT INTO items (id, name) VALUES (${1}, ${'deep'})`);
        });
      });
      return 'done';
    });
    const outcome = await Promise.race([
      run.then(
        (v) => v,
        (e: unknown) => e,
      ),
      new Promise((resolve) => setTimeout(() => resolve('hung for 3 s'), 3000)),
    ]);
    if (outcome === 'hung for 3 s') {
      // The stuck transaction never gives its connection back, so its pool cannot end: cut the
      // connection instead (no open handle is left).
      await adminQuery('SELECT pg_terminate_backend($1)', [pid]);
    } else {
      await own.close();
    }
    expect(outcome).toBe('done');
    expect(await names()).toEqual(['deep']);
  });

  test('transactions on the pool run in parallel, each on its own connection', async () => {
    const pids = await Promise.all(
      [1, 2, 3].map((id) =>
        db.transaction(async (tx) => {
          await tx.query(sql`INSERT INTO items (id, name) VALUES (${id}, ${'p' + id})`);
          await tx.query(sql`SELECT pg_sleep(0.1)`);
          return (await tx.one<{ pid: number }>(sql`SELECT pg_backend_pid() AS pid`)).pid;
        }),
      ),
    );
    expect(new Set(pids).size).toBe(3);
    expect(await names()).toEqual(['p1', 'p2', 'p3']);
  });
});

// --------------------------------------------------------------------------------------------
describe('through HTTP', () => {
  @Controller('/items')
  class ItemsController {
    constructor(private db: Database) {}

    @Get('/<id:\\d+>')
    async item(req: Request) {
      return this.db.one<{ id: number; name: string }>(
        sql`SELECT id, name FROM items WHERE id = ${Number(req.params.id)}`,
      );
    }

    @Get('/by-name/<name>')
    async byName(req: Request) {
      return this.db.one(sql`SELECT id FROM items WHERE name = ${req.params.name}`);
    }

    @Post('/')
    async add(req: Request) {
      const body = (await req.json()) as { id: number; name: string };
      return this.db.one(
        sql`INSERT INTO items (id, name) VALUES (${body.id}, ${body.name}) RETURNING id, name`,
      );
    }
  }

  const exercise = async (a: Application) => {
    const client = await testClient(a);
    try {
      expect(a.database).toBeInstanceOf(Database);
      expect(a.container.resolve(Database)).toBe(a.database);
      const created = await client.post('/items/', { json: { id: 10, name: "O'Brien" } });
      expect(created.status).toBe(200);
      expect(await created.json()).toEqual({ id: 10, name: "O'Brien" });

      const found = await client.get('/items/10');
      expect(found.status).toBe(200);
      expect(await found.json()).toEqual({ id: 10, name: "O'Brien" });

      const missing = await client.get('/items/999');
      expect(missing.status).toBe(404);
      expect(missing.headers.get('content-type')).toBe('application/problem+json');
      expect(await missing.json()).toMatchObject({
        type: 'about:blank',
        title: 'Not Found',
        status: 404,
      });

      await client.post('/items/', { json: { id: 11, name: 'twin' } });
      await client.post('/items/', { json: { id: 12, name: 'twin' } });
      const two = await client.get('/items/by-name/twin');
      expect(two.status).toBe(500);
      const body = (await two.json()) as Record<string, unknown>;
      expect(body).toEqual({ type: 'about:blank', title: 'Internal Server Error', status: 500 });
    } finally {
      await client.close();
    }
  };

  test('a controller injecting Database, with the database({ url }) plugin', async () => {
    const a = createApp({ controllers: [ItemsController], plugins: [database({ url: tdb.url })] });
    await exercise(a);
  });

  test('a controller injecting Database, with database() reading settings.DATABASE_URL', async () => {
    const a = createApp({
      controllers: [ItemsController],
      settings: immutableSettings({ DATABASE_URL: tdb.url }),
      plugins: [database()],
    });
    await exercise(a);
  });

  test('a controller injecting Database without the database plugin fails at createApp, naming it', () => {
    let err: unknown;
    try {
      createApp({ controllers: [ItemsController] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RococoError);
    expect((err as Error).message).toBe(
      "ROCOCO_PLUGIN: ItemsController -> Database: Database comes from the 'database' plugin: add it to createApp({ plugins })",
    );
    // An app without a database has none and needs none, even with DATABASE_URL set.
    expect(
      createApp({ settings: immutableSettings({ DATABASE_URL: tdb.url }) }).database,
    ).toBeUndefined();
  });

  test('database() without any url is refused; unknown database options too', () => {
    expect(() => createApp({ plugins: [database({})] })).toThrow(RococoError);
    expect(() => createApp({ plugins: [database({ url: tdb.url, size: 3 } as never)] })).toThrow(
      /size/,
    );
  });

  describe('startup fails fast when the server cannot be reached', () => {
    const url = 'postgres://rococo_user:s3cret@127.0.0.1:1/tracker_db';

    const check = async (start: (a: Application) => Promise<unknown>) => {
      const a = createApp({ controllers: [ItemsController], plugins: [database({ url })] });
      const t0 = Date.now();
      const err = await start(a).then(
        () => new Error('startup resolved'),
        (e: unknown) => e,
      );
      const elapsed = Date.now() - t0;
      try {
        expect(elapsed).toBeLessThan(3000);
        expect(err).toBeInstanceOf(RococoError);
        expect((err as RococoError).code).toBe('ROCOCO_DATABASE');
        const message = (err as Error).message;
        expect(message).toContain('127.0.0.1');
        expect(message).toContain(':1');
        expect(message).toContain('tracker_db');
        expect(message).not.toContain('s3cret');
        expect(inspect(err)).not.toContain('s3cret');
        expect(String((err as Error).stack)).not.toContain('s3cret');
        expect(a.server).toBeNull();
      } finally {
        await a.close();
      }
    };

    test('app.startup() rejects', () => check((a) => a.startup()));
    test('app.listen() rejects', () => check((a) => a.listen(0)));
    test('testClient(app) rejects', () => check((a) => testClient(a)));
  });

  test('the pool is closed on app.close()', async () => {
    const a = createApp({ controllers: [ItemsController], plugins: [database({ url: tdb.url })] });
    const client = await testClient(a);
    const pool = (a.database as Database).pool;
    // Open several connections at once.
    await Promise.all([1, 2, 3].map(() => a.database!.query(sql`SELECT pg_sleep(0.05)`)));
    expect(pool.totalCount).toBe(3);
    expect((await client.get('/items/1')).status).toBe(404);
    const name = databaseName(tdb.url);
    const others = (
      await db.query<{ n: number }>(
        sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = ${name}`,
      )
    )[0].n;
    expect(others).toBeGreaterThanOrEqual(4); // the suite's own pool + this app's three
    await client.close();
    expect(pool.ended).toBe(true);
    expect(pool.totalCount).toBe(0);
    await expect(a.database!.query(sql`SELECT 1`)).rejects.toThrow();
    // The server agrees: only the suite's own connections remain.
    await waitFor(
      async () => (await backendsOf(name)).length === db.pool.totalCount,
      3000,
      'the app connections to close',
    );
  });
});
