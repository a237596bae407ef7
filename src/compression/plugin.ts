import { checkOptions } from '../core/options';
import type { Plugin } from '../core/plugin';
import { Response } from '../core/response';
import { COMPRESSION_OPTION_KEYS, Compressor, type CompressionOptions } from './compressor';
import { CompressedWrites } from './self-written';

/** How a response with its body in memory or a stream is written; others (files) write themselves. */
const PLAIN_WRITE = Response.prototype.writeTo;

/**
 * Compresses responses with brotli or gzip (deflate if listed), as the client's
 * `Accept-Encoding` and its q-values choose: pages, JSON, streams and files, when their type is
 * compressible and a body in memory is at least `threshold` bytes (1 KiB). Adds
 * `Vary: Accept-Encoding` (also to HEAD answers, 304s and 206s, which it does not compress),
 * weakens a strong ETag of what it compresses, and leaves alone 204, `Cache-Control:
 * no-transform` and what already has a `Content-Encoding` (the static plugin's precompressed
 * files). See docs/compression.md.
 *
 * @example
 * createApp({ controllers, plugins: [templates({ dir }), compression()] });
 * createApp({ controllers, plugins: [compression({ threshold: 2048, encodings: ['gzip'] })] });
 */
export function compression(options: CompressionOptions = {}): Plugin {
  checkOptions('compression', options, COMPRESSION_OPTION_KEYS);
  const compressor = new Compressor(options);
  return {
    name: 'compression',
    setup(app) {
      app.onSend((req, response) => {
        if (response.writeTo !== PLAIN_WRITE)
          return new CompressedWrites(response, req, compressor);
        compressor.compress(req, response);
      });
    },
  };
}
