import type { IncomingMessage } from 'node:http';
import type { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import Busboy from 'busboy';
import { parse as secureParse } from 'secure-json-parse';
import { HTTPBadRequest, HTTPRequestEntityTooLarge, HTTPUnsupportedMediaType } from './errors';

const CLOSE = { headers: { connection: 'close' } };
const NON_SPACE = /\S/;
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)/i;

/**
 * How each content coding a request body may carry (RFC 9110 8.4.1) is undone: null for none.
 * `x-gzip` is gzip's old name, which RFC 9110 says to accept as gzip.
 */
const DECODERS = new Map<string, (() => Transform) | null>([
  ['identity', null],
  ['', null],
  ['gzip', createGunzip],
  ['x-gzip', createGunzip],
  ['deflate', createInflate],
  ['br', createBrotliDecompress],
]);

/**
 * Reads a request body into memory, refusing more than `limit` bytes with a 413: from the
 * `Content-Length` before reading anything, else as soon as the stream goes over it. The
 * connection is then closed rather than drained, so an oversized upload is not read at all.
 *
 * A body sent with `Content-Encoding: gzip`, `deflate` or `br` is decoded, and the limit
 * applies to the decoded bytes as well as to those received: inflating stops as soon as its
 * output passes the limit, so a small bomb (10 MB of zeros in 10 KB) costs at most the limit's
 * worth of memory. Another coding is a 415 naming those supported (with `Accept-Encoding`, as
 * RFC 7694 asks); data that does not decode is a 400.
 */
export function readBody(raw: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = raw.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    return Promise.reject(tooLarge(limit));
  }
  const coding = raw.headers['content-encoding'];
  let decoder: Transform | null = null;
  if (coding !== undefined) {
    const make = DECODERS.get(coding.trim().toLowerCase());
    if (make === undefined) return Promise.reject(unsupportedCoding(coding));
    if (make !== null) decoder = make();
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let size = 0;
    let done = false;
    const finish = (err: Error | null) => {
      if (done) return;
      done = true;
      if (err === null) {
        // The listeners stay: the body has ended, so no data comes, and an error or the
        // 'close' every request emits finds `done` set. Removing four listeners was ~2.6k
        // instructions a request (megamorphic loads in the stream's removeListener).
        resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
        return;
      }
      raw.off('data', onData);
      raw.off('end', onEnd);
      raw.off('error', onError);
      raw.off('close', onClose);
      raw.pause();
      decoder?.destroy();
      reject(err);
    };
    /** A chunk of the body as the handler will see it (decoded). */
    const keep = (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) finish(tooLarge(limit));
      else chunks.push(chunk);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) finish(tooLarge(limit));
      else if (decoder === null) keep(chunk);
      else if (!decoder.write(chunk)) {
        raw.pause();
        decoder.once('drain', () => done || raw.resume());
      }
    };
    const onEnd = () => {
      // No bytes at all is an empty body whatever its coding (zlib would call it truncated).
      if (decoder !== null && received !== 0) {
        decoder.end();
        return;
      }
      decoder?.destroy();
      finish(null);
    };
    const onError = (err: Error) => {
      finish(new HTTPBadRequest(`The request body could not be read: ${err.message}`, CLOSE));
    };
    // 'close' before 'end': the client went away mid-body. Nobody will read the answer.
    const onClose = () => {
      if (raw.complete) return;
      finish(
        new HTTPBadRequest('The client closed the connection before the body was complete', CLOSE),
      );
    };
    if (decoder !== null) {
      decoder.on('data', keep);
      decoder.on('end', () => finish(null));
      decoder.on('error', (e: Error) =>
        finish(
          new HTTPBadRequest(
            `The request body is not valid ${(coding as string).trim()} data: ${e.message}`,
          ),
        ),
      );
    }
    raw.on('data', onData);
    raw.on('end', onEnd);
    raw.on('error', onError);
    raw.on('close', onClose);
  });
}

function unsupportedCoding(coding: string): HTTPUnsupportedMediaType {
  return new HTTPUnsupportedMediaType(
    `The request body's Content-Encoding '${coding}' is not supported; send gzip, deflate, br or identity`,
    { headers: { 'accept-encoding': 'gzip, deflate, br', connection: 'close' } },
  );
}

function tooLarge(limit: number): HTTPRequestEntityTooLarge {
  return new HTTPRequestEntityTooLarge(`The request body is larger than ${limit} bytes`, CLOSE);
}

/**
 * Parses JSON text. `__proto__` and `constructor.prototype` keys are refused with a 400 (as
 * Fastify does) so that no later merge of the data can reach a prototype.
 */
export function parseJson(text: string): unknown {
  if (!NON_SPACE.test(text))
    throw new HTTPBadRequest('The request body is empty; JSON was expected');
  try {
    // secure-json-parse tests the text with two regular expressions for a "__proto__" or
    // "constructor" key, plain or \u-escaped: a text with no backslash and neither name
    // matches neither, and JSON.parse alone gives what it gives (~2k instructions less on a
    // 1 KB body). A BOM, which it drops, goes to it too.
    if (
      text.indexOf('\\') === -1 &&
      text.indexOf('__proto__') === -1 &&
      text.indexOf('constructor') === -1 &&
      text.charCodeAt(0) !== 0xfeff
    )
      return JSON.parse(text);
    return secureParse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (e) {
    throw new HTTPBadRequest(`The request body is not valid JSON: ${(e as Error).message}`);
  }
}

/** The media type of a `Content-Type` header, lower case, without parameters. */
export function mediaType(contentType: string | undefined): string {
  if (contentType === undefined) return '';
  if (contentType === 'application/json') return contentType; // most bodies: no lower-casing
  const semi = contentType.indexOf(';');
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

/** Decodes a body with the charset of its `Content-Type` (UTF-8 when none is given). */
export function decodeText(body: Buffer, contentType: string | undefined): string {
  // A charset parameter follows a ';': without one, no regular expression to run.
  const m =
    contentType === undefined || contentType.indexOf(';') === -1 ? null : CHARSET.exec(contentType);
  if (m === null || /^utf-?8$/i.test(m[1])) return body.toString('utf8');
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(m[1]);
  } catch {
    throw new HTTPUnsupportedMediaType(`The charset '${m[1]}' is not supported`);
  }
  return decoder.decode(body);
}

/** Parses an urlencoded or multipart body into a web `FormData`; files become `File`s. */
export function parseForm(body: Buffer, contentType: string | undefined): Promise<FormData> {
  const type = mediaType(contentType);
  if (type === 'application/x-www-form-urlencoded') {
    const form = new FormData();
    for (const [k, v] of new URLSearchParams(decodeText(body, contentType))) form.append(k, v);
    return Promise.resolve(form);
  }
  if (type === 'multipart/form-data') return parseMultipart(body, contentType as string);
  return Promise.reject(
    new HTTPUnsupportedMediaType(
      `A form must be application/x-www-form-urlencoded or multipart/form-data, not '${type || 'none'}'`,
    ),
  );
}

function malformed(e: Error): HTTPBadRequest {
  return new HTTPBadRequest(`The multipart body is malformed: ${e.message}`);
}

function parseMultipart(body: Buffer, contentType: string): Promise<FormData> {
  return new Promise((resolve, reject) => {
    let parser: Busboy.Busboy;
    try {
      parser = Busboy({ headers: { 'content-type': contentType }, defParamCharset: 'utf8' });
    } catch (e) {
      reject(new HTTPBadRequest(`The multipart body cannot be parsed: ${(e as Error).message}`));
      return;
    }
    const form = new FormData();
    const pending: Promise<void>[] = [];
    parser.on('field', (name, value) => form.append(name, value));
    parser.on('file', (name, stream, info) => {
      pending.push(
        new Promise((done, fail) => {
          const parts: Buffer[] = [];
          stream.on('data', (d: Buffer) => parts.push(d));
          stream.on('end', () => {
            form.append(
              name,
              new File([Buffer.concat(parts) as Uint8Array<ArrayBuffer>], info.filename ?? 'blob', {
                type: info.mimeType,
              }),
            );
            done();
          });
          // A body cut off inside a file errors this stream: without a listener it would
          // be an uncaught exception that ends the process.
          stream.on('error', (e: Error) => fail(malformed(e)));
        }),
      );
    });
    parser.on('error', (e: Error) => reject(malformed(e)));
    parser.on('close', () => void Promise.all(pending).then(() => resolve(form), reject));
    parser.end(body);
  });
}
