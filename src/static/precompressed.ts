import { lstat, stat } from 'node:fs/promises';
import Negotiator from 'negotiator';
import type { Request } from '../core/request';

/** The precompressed siblings looked for, as `Accept-Encoding` names and file suffixes. */
const SIBLINGS = [
  { encoding: 'br', suffix: '.br' },
  { encoding: 'gzip', suffix: '.gz' },
] as const;

/** br first where the client's q-values tie: it is the smaller. */
const PREFERRED = ['br', 'gzip'];

type EncodingOf = (
  available: readonly string[],
  options: { preferred: readonly string[] },
) => string | undefined;

/** What {@link precompressed} found beside a file. */
export interface Precompressed {
  /** The sibling to send: its coding and the suffix of its file; null for the file itself. */
  chosen: { encoding: string; suffix: string } | null;
  /** Whether the file has any sibling: then what is sent depends on `Accept-Encoding` (Vary). */
  any: boolean;
}

const NONE: Precompressed = { chosen: null, any: false };

/**
 * The precompressed copy of a file to send, if any: `file.css.br` or `file.css.gz` beside
 * `file.css` (as a build writes them, at brotli's best quality), chosen by the request's
 * `Accept-Encoding` with its q-values, as nginx's `gzip_static`/`brotli_static` and
 * `@fastify/static`'s `preCompressed` do. `real` is the file's real path, already checked to be
 * inside the folder; a sibling that is a symlink or not a regular file is ignored, so no sibling
 * leads out of it. A sibling is trusted to be the file compressed: rebuild it with the file.
 *
 * @example
 * const { chosen } = await precompressed(req, '/srv/static/css/site.css'); // { encoding: 'br', suffix: '.br' }
 */
export async function precompressed(req: Request, real: string): Promise<Precompressed> {
  const [original, ...found] = await Promise.all([
    stat(real).catch(() => null),
    ...SIBLINGS.map((s) => lstat(real + s.suffix).catch(() => null)),
  ]);
  if (original === null || !original.isFile()) return NONE;
  // Not compared with the file's mtime (nginx and @fastify/static do not either): a checkout
  // or an image build writes files in any order, and a sibling silently ignored is worse.
  const available = SIBLINGS.filter((_, i) => found[i]?.isFile() === true);
  if (available.length === 0) return NONE;
  // negotiator 1.x takes the server's preference; @types/negotiator (0.6) does not know it.
  const negotiator = new Negotiator(req.raw) as unknown as { encoding: EncodingOf };
  const choice = negotiator.encoding([...available.map((s) => s.encoding), 'identity'], {
    preferred: PREFERRED,
  });
  return { chosen: available.find((s) => s.encoding === choice) ?? null, any: true };
}
