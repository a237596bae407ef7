import { createHash } from 'node:crypto';
import { readFileSync, realpathSync, statSync, type Stats } from 'node:fs';
import { realpath } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, resolve, sep } from 'node:path';
import type MimeTypes from 'mime-types';
import type SendFile from 'send';
import type { Application } from '../core/application';
import { HTTPError, RococoError } from '../core/errors';
import type { Request } from '../core/request';
import { Response } from '../core/response';
import { appendVary } from '../core/vary';
import { precompressed } from './precompressed';

/** One folder served under a prefix: `staticFiles([{ prefix: '/static', dir }])`. */
export interface StaticOptions {
  /** URL prefix, e.g. `/static`. */
  prefix: string;
  /** The folder; nothing outside it is ever served (`..`, encoded dots, symlinks out). */
  dir: string;
  /** Route name for `app.url(name, { filename })` and `static(path, name)`: `static` by default. */
  name?: string;
}

/** The keys {@link StaticOptions} accepts. */
export const STATIC_OPTION_KEYS = ['prefix', 'dir', 'name'];

const YEAR = 365 * 24 * 3600 * 1000;

let sendFile: typeof SendFile | undefined;
let mime: typeof MimeTypes | undefined;

/** Options of a {@link FileResponse}. */
export interface FileResponseOptions {
  /** Cached for a year (`immutable`): the URL carries the file's hash. */
  immutable?: boolean;
  /**
   * The file is another one compressed (`site.css.br`): sent with this `Content-Encoding`, with
   * `type` as its `Content-Type`, and an ETag of its own (`-br` added to send's).
   */
  encoding?: string;
  /** The `Content-Type` to send, rather than the one of the file's extension. */
  type?: string;
  /** What is sent depends on `Accept-Encoding` (the file has precompressed siblings): `Vary` says so. */
  varies?: boolean;
}

/**
 * A response that streams a file with `send`: content type, ETag and Last-Modified with 304,
 * Range (206/416) and HEAD. Headers set on it are added to what `send` writes.
 */
export class FileResponse extends Response {
  /**
   * @param root the folder the file must stay in
   * @param path the path below `root`, percent-encoded as in the URL (send decodes it once)
   */
  constructor(
    readonly root: string,
    readonly path: string,
    readonly options: FileResponseOptions = {},
  ) {
    super(null);
  }

  /** Streams the file, or a problem document when it cannot. */
  override writeTo(res: ServerResponse): void {
    sendFile ??= require('send') as typeof SendFile; // on first use: its MIME table is ~10 MB
    const stream = sendFile(res.req, this.path, {
      root: this.root,
      dotfiles: 'ignore',
      index: false,
      etag: true,
      lastModified: true,
      ...(this.options.immutable ? { maxAge: YEAR, immutable: true } : { maxAge: 0 }),
    });
    const { encoding, type, varies } = this.options;
    stream.on('headers', (r: ServerResponse, _path: string, stat: Stats) => {
      for (const [k, v] of Object.entries(this.headers)) {
        if (k === 'vary') addVary(r, Array.isArray(v) ? v.join(', ') : v);
        else r.setHeader(k, v);
      }
      if (varies) addVary(r, 'Accept-Encoding');
      if (type !== undefined) r.setHeader('content-type', type);
      if (encoding === undefined) return;
      r.setHeader('content-encoding', encoding);
      // send's ETag (size and mtime) with the coding: never the one of the file as it is.
      r.setHeader(
        'etag',
        `W/"${stat.size.toString(16)}-${stat.mtime.getTime().toString(16)}-${encoding}"`,
      );
    });
    stream.on('directory', () => writeProblem(res, new HTTPError(404)));
    stream.on('error', (err: { status?: number }) =>
      writeProblem(res, new HTTPError(err.status && err.status >= 400 ? err.status : 500)),
    );
    stream.pipe(res);
  }
}

/** Adds names to the `Vary` already set (the router's, for routes with header conditions). */
function addVary(res: ServerResponse, names: string): void {
  const current = res.getHeader('vary');
  res.setHeader('vary', appendVary(typeof current === 'number' ? String(current) : current, names));
}

function writeProblem(res: ServerResponse, err: HTTPError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(err.problem());
  // send may have set file headers before failing (a 416 keeps its Content-Range).
  for (const h of [
    'content-type',
    'content-length',
    'etag',
    'last-modified',
    'cache-control',
    'accept-ranges',
  ])
    res.removeHeader(h);
  res.writeHead(err.status, {
    'content-type': 'application/problem+json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** The static mounts of an app: their routes' handlers and their cache-busted URLs. */
export class StaticFiles {
  private readonly mounts = new Map<string, { root: string; realRoot: string; prefix: string }>();
  private readonly hashes = new Map<string, { mtimeMs: number; hash: string }>();

  /** @internal Checks each folder once, at startup. In DEBUG, hashes follow file changes. */
  constructor(
    options: readonly StaticOptions[],
    private readonly debug: boolean,
  ) {
    for (const o of options) {
      const name = o.name ?? 'static';
      if (typeof o.prefix !== 'string' || !o.prefix.startsWith('/')) {
        throw new RococoError('ROCOCO_STATIC', `static '${name}': the prefix must start with '/'`);
      }
      const root = resolve(o.dir);
      let realRoot: string;
      try {
        realRoot = realpathSync(root);
        if (!statSync(realRoot).isDirectory()) throw new Error('not a directory');
      } catch (e) {
        throw new RococoError(
          'ROCOCO_STATIC',
          `static '${name}': ${o.dir} is not a readable directory (${(e as Error).message})`,
        );
      }
      this.mounts.set(name, { root, realRoot, prefix: o.prefix });
    }
  }

  /** Adds a route per mount: `<prefix>/<filename:.+>`, named after the mount. */
  addRoutes(app: Application): void {
    for (const [name, m] of this.mounts) {
      app.addRoute({
        methods: ['GET'],
        pattern: m.prefix.replace(/\/$/, '') + '/<filename:.+>',
        name,
        origin: `static '${name}'`,
        handler: this.handler(name),
      });
    }
  }

  /**
   * The handler of a mount: refuses a path that leaves the folder through a symlink (404),
   * then lets `send` refuse `..`, NUL bytes and dotfiles and serve the rest.
   */
  handler(name: string): (req: Request) => Promise<Response> {
    const mount = this.mounts.get(name) as { root: string; realRoot: string; prefix: string };
    const cut = mount.prefix.endsWith('/') ? mount.prefix.length - 1 : mount.prefix.length;
    return async (req) => {
      const encoded = req.path.slice(cut);
      const filename = req.params.filename;
      if (filename.includes('\0')) throw new HTTPError(400, 'A file name cannot contain NUL');
      if (filename.split(/[\\/]/).includes('..')) throw new HTTPError(403);
      let real: string;
      try {
        real = await realpath(resolve(mount.root, filename));
      } catch {
        throw new HTTPError(404);
      }
      if (real !== mount.realRoot && !real.startsWith(mount.realRoot + sep))
        throw new HTTPError(404);
      const immutable = req.query.has('v');
      const { chosen, any } = await precompressed(
        req,
        resolve(mount.root, filename),
        real,
        mount.realRoot,
      );
      if (chosen === null) return new FileResponse(mount.root, encoded, { immutable, varies: any });
      mime ??= require('mime-types') as typeof MimeTypes; // send's own table, loaded with it
      return new FileResponse(mount.root, encoded + chosen.suffix, {
        immutable,
        varies: true,
        encoding: chosen.encoding,
        type: mime.contentType(extname(filename)) || 'application/octet-stream', // as send would
      });
    };
  }

  /**
   * The URL of a file with a content hash (`?v=`) for cache busting; files served with a `v`
   * are cached for a year. The hash is computed once per file change.
   */
  url(prefix: string, path: string, name: string): string {
    const mount = this.mounts.get(name);
    if (mount === undefined)
      throw new RococoError(
        'ROCOCO_STATIC',
        `static('${path}'): no static mount is named '${name}'`,
      );
    const file = resolve(mount.root, path);
    let entry = this.hashes.get(file);
    if (entry !== undefined && !this.debug) return `${prefix}?v=${entry.hash}`;
    try {
      const mtimeMs = statSync(file).mtimeMs;
      if (entry === undefined || entry.mtimeMs !== mtimeMs) {
        entry = {
          mtimeMs,
          hash: createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 12),
        };
        this.hashes.set(file, entry);
      }
      return `${prefix}?v=${entry.hash}`;
    } catch {
      return prefix; // a file that does not exist yet: a plain URL, which will 404
    }
  }
}
