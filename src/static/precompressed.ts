import { realpath, stat } from 'node:fs/promises';
import { sep } from 'node:path';
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
 * `@fastify/static`'s `preCompressed` do. `path` is the file as asked for (below the folder,
 * where `send` will look for `path.br`), `real` its real path, `realRoot` the folder's: a
 * directory has no siblings (send answers it with a 404), and a sibling whose real path leaves
 * the folder, or that is not a regular file, is ignored. A sibling is trusted to be its file
 * compressed: rebuild it with the file.
 *
 * @example
 * const { chosen } = await precompressed(req, '/srv/static/css/site.css', '/srv/static/css/site.css', '/srv/static');
 * // chosen: { encoding: 'br', suffix: '.br' }
 */
export async function precompressed(
  req: Request,
  path: string,
  real: string,
  realRoot: string,
): Promise<Precompressed> {
  const [file, ...found] = await Promise.all([
    stat(real).then((s) => s.isFile()),
    ...SIBLINGS.map((s) => sibling(path + s.suffix, realRoot)),
  ]).catch(() => [false]);
  if (!file) return NONE;
  // Not compared with the file's mtime (nginx and @fastify/static do not either): a checkout
  // or an image build writes files in any order, and a sibling silently ignored is worse.
  const available = SIBLINGS.filter((_, i) => found[i]);
  if (available.length === 0) return NONE;
  // negotiator 1.x takes the server's preference; @types/negotiator (0.6) does not know it.
  const negotiator = new Negotiator(req.raw) as unknown as { encoding: EncodingOf };
  const choice = negotiator.encoding([...available.map((s) => s.encoding), 'identity'], {
    preferred: PREFERRED,
  });
  return { chosen: available.find((s) => s.encoding === choice) ?? null, any: true };
}

/** Whether `file` is a regular file inside the folder, symlinks resolved. */
async function sibling(file: string, realRoot: string): Promise<boolean> {
  try {
    const real = await realpath(file);
    if (!real.startsWith(realRoot + sep)) return false;
    return (await stat(real)).isFile();
  } catch {
    return false;
  }
}
