import { Client } from 'pg';

/** Runs one statement on the server of DATABASE_URL (its own database, not a suite's). */
export async function adminQuery<T = Record<string, unknown>>(
  text: string,
  values: unknown[] = [],
  url = process.env.DATABASE_URL as string,
): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Server pids of the sessions connected to database `name` (the admin session is elsewhere). */
export async function backendsOf(name: string): Promise<number[]> {
  const rows = await adminQuery<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = $1 ORDER BY pid',
    [name],
  );
  return rows.map((r) => r.pid);
}

/** Terminates every session connected to database `name`; resolves to the pids it terminated. */
export async function terminateBackendsOf(name: string): Promise<number[]> {
  const rows = await adminQuery<{ pid: number; ok: boolean }>(
    'SELECT pid, pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() ORDER BY pid',
    [name],
  );
  return rows.filter((r) => r.ok).map((r) => r.pid);
}

/** The database name of a connection URL. */
export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1));
}

/** Polls `check` every 20 ms until it returns true; throws after `ms`, with what `seen()` says then. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  ms = 5000,
  what = 'condition',
  seen?: () => string,
): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${ms} ms waiting for ${what}${seen === undefined ? '' : ` (seen: ${seen()})`}`,
      );
    await new Promise((r) => setTimeout(r, 20));
  }
}
