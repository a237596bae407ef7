import { createApp, Controller, Get, Database, sql, Request, database } from '../src';
import { testClient } from '../src/testing';
import { createTestDatabase } from './helpers/database';

@Controller()
class C {
  constructor(private db: Database) {}
  @Get('/n/<n:\\d+>') async n(req: Request) {
    return this.db.one(sql`SELECT ${Number(req.params.n)}::int + 1 AS v`);
  }
}

test('db smoke', async () => {
  const tdb = await createTestDatabase();
  const app = createApp({ controllers: [C], plugins: [database({ url: tdb.url })] });
  const client = await testClient(app);
  const res = await client.get('/n/41');
  expect(await res.json()).toEqual({ v: 42 });
  await client.close();
  await tdb.drop();
});
