import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * Password hashes with scrypt (node:crypto): a random salt per password, and the parameters
 * kept in the stored string, `scrypt$N$r$p$salt$hash` (salt and hash in base64), so that they
 * can be raised later without locking anyone out (see {@link needsRehash}).
 */

/** The cost of new hashes: 2^15 iterations of 1 KiB blocks, 32 MiB of memory, ~50-100 ms. */
const COST = { N: 2 ** 15, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const HASH_BYTES = 32;
/** What a stored string may ask for: a corrupted row must not make a request take minutes. */
const LIMITS = { N: 2 ** 20, r: 32, p: 16 };

interface Parsed {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

/**
 * A hash of a password nobody knows, made with the current parameters: an unknown email is
 * checked against it, so that it takes as long to refuse as a wrong password.
 */
export const DUMMY_HASH =
  'scrypt$32768$8$1$i9ZzqWBheeU1/LmnNqubjg==$Lwx+T14d2koTHvV49V9tQiTyUJgC8EkjJPu80QUEIO4=';

const DUMMY = parse(DUMMY_HASH) as Parsed;

/** The stored string for `password`, with a new random salt. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, salt, COST.N, COST.r, COST.p, HASH_BYTES);
  return ['scrypt', COST.N, COST.r, COST.p, salt.toString('base64'), hash.toString('base64')].join(
    '$',
  );
}

/**
 * Whether `password` matches `stored`, compared in constant time. A missing or malformed
 * `stored` (a user without a password) is checked against {@link DUMMY_HASH} and refused, so
 * that it costs what a real check costs.
 */
export async function verifyPassword(
  password: string,
  stored: string | null | undefined,
): Promise<boolean> {
  const parsed = parse(stored);
  const against = parsed ?? DUMMY;
  const hash = await derive(
    password,
    against.salt,
    against.N,
    against.r,
    against.p,
    against.hash.length,
  );
  return timingSafeEqual(hash, against.hash) && parsed !== null;
}

/** Whether `stored` was made with other parameters than new hashes get (hash it again at login). */
export function needsRehash(stored: string): boolean {
  const parsed = parse(stored);
  return (
    parsed === null ||
    parsed.N !== COST.N ||
    parsed.r !== COST.r ||
    parsed.p !== COST.p ||
    parsed.hash.length !== HASH_BYTES
  );
}

function parse(stored: string | null | undefined): Parsed | null {
  if (typeof stored !== 'string') return null;
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return null;
  const [N, r, p] = parts.slice(1, 4).map((s) => (/^\d{1,8}$/.test(s) ? Number(s) : NaN));
  if (
    !(N >= 2 && N <= LIMITS.N && (N & (N - 1)) === 0) ||
    !(r >= 1 && r <= LIMITS.r) ||
    !(p >= 1 && p <= LIMITS.p)
  )
    return null;
  const salt = Buffer.from(parts[4], 'base64');
  const hash = Buffer.from(parts[5], 'base64');
  if (salt.length < 8 || hash.length < 16 || hash.length > 64) return null;
  return { N, r, p, salt, hash };
}

function derive(
  password: string,
  salt: Buffer,
  N: number,
  r: number,
  p: number,
  length: number,
): Promise<Buffer> {
  // NFC: the same password typed on two systems may arrive composed or decomposed.
  const secret = password.normalize('NFC');
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, length, { N, r, p, maxmem: 256 * N * r * p + 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}
