import { RococoError } from '../core/errors';

/**
 * A directive's sources: a list (`["'self'", 'https://cdn.example.com']`), one string, `[]` for
 * a directive without sources (`upgrade-insecure-requests`), or `null`/`false` to drop a
 * directive the defaults have.
 */
export type DirectiveValue = string | readonly string[] | null | false;

/** What `contentSecurityPolicy` takes. */
export interface ContentSecurityPolicyOptions {
  /**
   * Directives by name, `'script-src'` or `scriptSrc`: merged over helmet's defaults (a name
   * given replaces that directive, `null` drops it) unless `useDefaults` is false.
   */
  directives?: Readonly<Record<string, DirectiveValue>>;
  /** Starts from helmet's default directives (true) or from none. */
  useDefaults?: boolean;
  /** Sends `Content-Security-Policy-Report-Only` instead: violations are reported, not blocked. */
  reportOnly?: boolean;
}

const CSP_OPTION_KEYS = ['directives', 'useDefaults', 'reportOnly'];

/**
 * helmet 8's default policy, directive by directive: what `directives` are merged over.
 *
 * @example
 * securityHeaders({ contentSecurityPolicy: { useDefaults: false, directives: { ...DEFAULT_CSP_DIRECTIVES, 'style-src': ["'self'"] } } })
 */
export const DEFAULT_DIRECTIVES: Readonly<Record<string, readonly string[]>> = {
  'default-src': ["'self'"],
  'base-uri': ["'self'"],
  'font-src': ["'self'", 'https:', 'data:'],
  'form-action': ["'self'"],
  'frame-ancestors': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'object-src': ["'none'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'", 'https:', "'unsafe-inline'"],
  'upgrade-insecure-requests': [],
};

/** The directives of CSP level 3 and those browsers still read: a typo stops startup. */
const KNOWN = new Set([
  'default-src',
  'script-src',
  'script-src-elem',
  'script-src-attr',
  'style-src',
  'style-src-elem',
  'style-src-attr',
  'img-src',
  'font-src',
  'connect-src',
  'media-src',
  'object-src',
  'frame-src',
  'child-src',
  'worker-src',
  'manifest-src',
  'prefetch-src',
  'fenced-frame-src',
  'base-uri',
  'sandbox',
  'form-action',
  'frame-ancestors',
  'report-uri',
  'report-to',
  'require-trusted-types-for',
  'trusted-types',
  'upgrade-insecure-requests',
  'block-all-mixed-content',
  'webrtc',
]);

/** Directives that take no sources. */
const BARE = new Set(['upgrade-insecure-requests', 'block-all-mixed-content']);

/** Keywords a browser reads only quoted: unquoted, they are a host named `self`. */
const KEYWORDS =
  /^(none|self|strict-dynamic|report-sample|unsafe-inline|unsafe-eval|unsafe-hashes|wasm-unsafe-eval|inline-speculation-rules|nonce-.*|sha(256|384|512)-.*)$/;
/** One source: visible ASCII without the separators of the header (`;` and `,`). */
const SOURCE = /^[\x21-\x2b\x2d-\x3a\x3c-\x7e]+$/;

/** The directives where a request's nonce goes, when the policy has them. */
const NONCE_DIRECTIVES = ['script-src', 'style-src'];

/** A policy's header value, and the same cut where a nonce goes. */
export interface PolicyValue {
  readonly value: string;
  /** `value` cut at the nonce's places: joined with `'nonce-…'` for a page that asked for one. */
  readonly parts: readonly string[] | null;
}

/** A policy compiled once: its header name, its value over HTTPS and over plain HTTP. */
export interface CompiledPolicy {
  /** `content-security-policy`, or its `-report-only` twin. */
  readonly name: string;
  readonly https: PolicyValue;
  /**
   * Without `upgrade-insecure-requests` and `block-all-mixed-content`: over plain HTTP they only
   * break the page (its own scripts and styles asked for over HTTPS, which the server may not
   * speak), as HSTS would; over HTTPS they keep its old http:// links working.
   */
  readonly http: PolicyValue;
}

/** The directives as one map: defaults (unless told otherwise), then each layer's, checked. */
export function mergeDirectives(
  where: string,
  layers: readonly ContentSecurityPolicyOptions[],
): Map<string, readonly string[]> {
  const out = new Map<string, readonly string[]>();
  for (const layer of layers) {
    if (layer.useDefaults === false) out.clear();
    else if (out.size === 0 && layer === layers[0])
      for (const [k, v] of Object.entries(DEFAULT_DIRECTIVES)) out.set(k, v);
    const seen = new Set<string>();
    for (const [raw, value] of Object.entries(layer.directives ?? {})) {
      const name = directiveName(where, raw);
      if (seen.has(name))
        throw new RococoError('ROCOCO_OPTIONS', `${where}: the directive '${name}' is given twice`);
      seen.add(name);
      if (value === null || value === false) {
        out.delete(name);
        continue;
      }
      out.set(name, sources(where, name, value));
    }
  }
  if (out.size === 0)
    throw new RococoError(
      'ROCOCO_OPTIONS',
      `${where}: the Content-Security-Policy has no directive: give some, or contentSecurityPolicy: false`,
    );
  return out;
}

/** Checks the options of `contentSecurityPolicy` (true and false are taken before). */
export function checkPolicyOptions(where: string, value: unknown): ContentSecurityPolicyOptions {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new RococoError(
      'ROCOCO_OPTIONS',
      `${where}: contentSecurityPolicy is true, false or { directives, useDefaults, reportOnly }`,
    );
  for (const key of Object.keys(value))
    if (!CSP_OPTION_KEYS.includes(key))
      throw new RococoError(
        'ROCOCO_OPTIONS',
        `${where}: contentSecurityPolicy: unknown option '${key}' (known: ${CSP_OPTION_KEYS.join(', ')})`,
      );
  const o = value as ContentSecurityPolicyOptions;
  for (const key of ['useDefaults', 'reportOnly'] as const)
    if (o[key] !== undefined && typeof o[key] !== 'boolean')
      throw new RococoError(
        'ROCOCO_OPTIONS',
        `${where}: contentSecurityPolicy.${key} is a boolean, got ${JSON.stringify(o[key])}`,
      );
  if (
    o.directives !== undefined &&
    (o.directives === null || typeof o.directives !== 'object' || Array.isArray(o.directives))
  )
    throw new RococoError(
      'ROCOCO_OPTIONS',
      `${where}: contentSecurityPolicy.directives is an object of directives`,
    );
  return o;
}

/**
 * The header of a policy. A request's nonce goes in `script-src` and `style-src` (in
 * `default-src` for whichever of them the policy lacks), except in a directive that allows
 * `'unsafe-inline'`: it lets inline code run already, and a nonce next to it would make browsers
 * ignore it.
 */
export function compilePolicy(
  directives: ReadonlyMap<string, readonly string[]>,
  reportOnly: boolean,
): CompiledPolicy {
  const https = policyValue(directives);
  const plain = new Map([...directives].filter(([name]) => !BARE.has(name)));
  return {
    name: reportOnly ? 'content-security-policy-report-only' : 'content-security-policy',
    https,
    http: plain.size === directives.size ? https : policyValue(plain),
  };
}

function policyValue(directives: ReadonlyMap<string, readonly string[]>): PolicyValue {
  const MARK = '\u0000';
  const noncedIn = new Set<string>();
  for (const name of NONCE_DIRECTIVES) {
    const target = directives.has(name) ? name : directives.has('default-src') ? 'default-src' : '';
    if (target !== '' && !directives.get(target)?.includes("'unsafe-inline'")) noncedIn.add(target);
  }
  const text = [...directives]
    .map(([name, list]) => {
      const all = noncedIn.has(name) ? [...list, MARK] : list;
      return all.length === 0 ? name : `${name} ${all.join(' ')}`;
    })
    .join(';');
  return {
    value: text.replaceAll(` ${MARK}`, ''),
    parts: noncedIn.size === 0 ? null : text.split(MARK),
  };
}

function directiveName(where: string, raw: string): string {
  const name = raw.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  if (!KNOWN.has(name))
    throw new RococoError(
      'ROCOCO_OPTIONS',
      `${where}: '${raw}' is not a Content-Security-Policy directive (such as 'script-src' or scriptSrc)`,
    );
  return name;
}

function sources(where: string, name: string, value: unknown): readonly string[] {
  const list = typeof value === 'string' ? value.split(/\s+/).filter(Boolean) : value;
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string'))
    throw new RococoError(
      'ROCOCO_OPTIONS',
      `${where}: the directive '${name}' takes a list of sources, got ${JSON.stringify(value)}`,
    );
  if (BARE.has(name) && list.length > 0)
    throw new RococoError(
      'ROCOCO_OPTIONS',
      `${where}: the directive '${name}' takes no sources: give it []`,
    );
  for (const source of list as string[]) {
    if (!SOURCE.test(source))
      throw new RococoError(
        'ROCOCO_OPTIONS',
        `${where}: ${JSON.stringify(source)} in '${name}' is not a source: one word of visible ASCII, no ';' or ','`,
      );
    if (KEYWORDS.test(source))
      throw new RococoError(
        'ROCOCO_OPTIONS',
        `${where}: ${JSON.stringify(source)} in '${name}' must be quoted: "'${source}'"`,
      );
  }
  return [...(list as string[])];
}
