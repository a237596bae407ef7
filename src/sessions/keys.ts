import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { RococoError } from '../core/errors';

/** How to make a key, as every key error says it. */
export const MAKE_KEY = `node -e "console.log(require('node:crypto').randomBytes(32).toString('base64'))"`;

/** What `SESSION_KEYS` may be: one key, keys separated by commas or spaces, or a list. */
export type SessionKeys = string | readonly string[] | undefined | null;

/**
 * The 32-byte keys in `keys`, the first one first. A key that is not exactly 32 bytes of
 * base64 (standard or url-safe) stops startup with a message that shows how to make one.
 */
export function parseKeys(keys: SessionKeys): Buffer[] {
  const list =
    keys === undefined || keys === null
      ? []
      : typeof keys === 'string'
        ? keys.split(/[\s,]+/)
        : [...keys];
  const out: Buffer[] = [];
  list.forEach((key, i) => {
    if (typeof key !== 'string')
      throw keyError(`SESSION_KEYS[${i}] is a ${typeof key}, not a base64 string`);
    const k = key.trim();
    if (k === '') return;
    const bytes = /^[A-Za-z0-9+/_-]+={0,2}$/.test(k)
      ? Buffer.from(k, k.includes('-') || k.includes('_') ? 'base64url' : 'base64')
      : null;
    if (bytes === null || bytes.length !== 32) {
      const what = bytes === null ? 'is not base64' : `decodes to ${bytes.length} bytes`;
      throw keyError(
        `SESSION_KEYS[${i}] (${k.slice(0, 4)}…) ${what}; each key must be 32 random bytes in base64`,
      );
    }
    out.push(bytes);
  });
  return out;
}

/**
 * A development key kept in `file` (made on first use, mode 0600, in a folder git ignores), so
 * that restarts keep sessions. Only for DEBUG: a production app gets its keys from settings.
 */
export function developmentKey(file: string, log: Logger): Buffer {
  try {
    const keys = parseKeys(readFileSync(file, 'utf8'));
    if (keys.length > 0) {
      log.warn(
        { file },
        'sessions: DEBUG and no SESSION_KEYS: using the development key from this file',
      );
      return keys[0];
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const key = randomBytes(32);
  mkdirSync(dirname(file), { recursive: true });
  ignoreInGit(file);
  writeFileSync(file, key.toString('base64') + '\n', { mode: 0o600 });
  log.warn(
    { file },
    `sessions: DEBUG and no SESSION_KEYS: generated a development key into this file; in production set SESSION_KEYS (make a key with: ${MAKE_KEY})`,
  );
  return key;
}

/**
 * Keeps `file` out of git: a folder without a .gitignore gets one that ignores the whole folder
 * (`.rococo/`); a folder that has one (a project's own) keeps its lines and gets one for the file.
 */
function ignoreInGit(file: string): void {
  const ignore = join(dirname(file), '.gitignore');
  const entry = '/' + basename(file);
  let existing: string;
  try {
    existing = readFileSync(ignore, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    writeFileSync(ignore, '*\n');
    return;
  }
  if (existing.split(/\r?\n/).some((line) => line.trim() === '*' || line.trim() === entry)) return;
  appendFileSync(ignore, (existing === '' || existing.endsWith('\n') ? '' : '\n') + entry + '\n');
}

/** The error of a missing or malformed key, with the command that makes a good one. */
export function keyError(message: string): RococoError {
  return new RococoError(
    'ROCOCO_SESSION_KEYS',
    `${message}. Make a key with:\n  ${MAKE_KEY}\nand set it as SESSION_KEYS (several, comma-separated, rotate: the first encrypts, all decrypt)`,
  );
}
