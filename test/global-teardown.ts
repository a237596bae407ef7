/** Stops the embedded PostgreSQL that global-setup started, if it started one. */
export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __ROCOCO_DB_STOP__?: () => Promise<void> }).__ROCOCO_DB_STOP__?.();
}
