/**
 * A user's session: a small map of JSON values that follows the browser from request to request
 * (aiohttp_session's `Session`). Get it with `await getSession(req)`; only a session that changed
 * is saved, and saving happens once, after the handler, even when it ends with a redirect.
 *
 * @example
 * const session = await getSession(req);
 * session.set('visits', (session.get<number>('visits') ?? 0) + 1);
 */
export class Session {
  /** True when the request brought no valid session: this one was made for it. */
  readonly isNew: boolean;
  /** When the session was first made, in ms since the epoch. */
  readonly created: number;
  /** @internal The storage's id of the session (Redis), null for a new one. */
  id: string | null;
  private data: Record<string, unknown>;
  // What a storage that saves key by key (Redis) needs to know; the cookie rewrites it all.
  private readonly changedKeys = new Set<string>();
  private readonly deletedKeys = new Set<string>();
  private cleared = false;
  private invalidated = false;

  /** @internal Storages build sessions. */
  constructor(
    data: Record<string, unknown> | null,
    init: { created?: number; id?: string | null } = {},
  ) {
    this.isNew = data === null;
    this.data = data ?? Object.create(null);
    this.created = init.created ?? Date.now();
    this.id = init.id ?? null;
  }

  /** The value under `key`, as it was stored (a JSON value), or undefined. */
  get<T = unknown>(key: string): T | undefined {
    return this.data[key] as T | undefined;
  }

  /**
   * Stores a JSON value. It is copied through JSON now, so what `get` returns in this request
   * is what later requests will read (a `Date` becomes its ISO string).
   */
  set(key: string, value: unknown): void {
    const json = JSON.stringify(value);
    if (json === undefined)
      throw new TypeError(`session.set('${key}'): ${typeof value} is not a JSON value`);
    this.data[key] = JSON.parse(json);
    this.changedKeys.add(key);
    this.deletedKeys.delete(key);
  }

  /** Removes a key. */
  delete(key: string): void {
    if (!(key in this.data)) return;
    delete this.data[key];
    this.changedKeys.delete(key);
    this.deletedKeys.add(key);
  }

  /** Whether `key` holds a value. */
  has(key: string): boolean {
    return key in this.data;
  }

  /** The keys that hold values. */
  keys(): string[] {
    return Object.keys(this.data);
  }

  /** Removes every key; the session (and its cookie) stays. */
  clear(): void {
    this.data = Object.create(null);
    this.changedKeys.clear();
    this.deletedKeys.clear();
    this.cleared = true;
  }

  /**
   * Ends the session: its data is dropped, its stored copy deleted and its cookie cleared. What
   * is set after this (a flash saying goodbye) goes into a new session with a new identity.
   */
  invalidate(): void {
    this.clear();
    this.invalidated = true;
  }

  /** A copy of the data. */
  toJSON(): Record<string, unknown> {
    return { ...this.data };
  }

  /** @internal Whether there is anything to save. */
  get changed(): boolean {
    return this.cleared || this.changedKeys.size > 0 || this.deletedKeys.size > 0;
  }

  /** @internal Whether `invalidate()` was called. */
  get isInvalidated(): boolean {
    return this.invalidated;
  }

  /** @internal What changed since the session was loaded, for storages that save by key. */
  changes(): { cleared: boolean; set: Record<string, unknown>; deleted: string[] } {
    const set: Record<string, unknown> = {};
    for (const k of this.changedKeys) set[k] = this.data[k];
    return { cleared: this.cleared, set, deleted: [...this.deletedKeys] };
  }
}
