import { SECURITY_HEADERS_OPTION_KEYS } from '../decorators/security-headers';
import { RococoError } from '../core/errors';
import {
  checkPolicyOptions,
  compilePolicy,
  mergeDirectives,
  type CompiledPolicy,
  type ContentSecurityPolicyOptions,
} from './csp';

/** What `strictTransportSecurity` takes. */
export interface StrictTransportSecurityOptions {
  /** Seconds the browser keeps to HTTPS: 31536000 (365 days). */
  maxAge?: number;
  /** For the subdomains too: true. */
  includeSubDomains?: boolean;
  /** Asks for the browsers' preload list: false. */
  preload?: boolean;
}

/** The `Referrer-Policy` tokens. */
export type ReferrerPolicyToken =
  | 'no-referrer'
  | 'no-referrer-when-downgrade'
  | 'same-origin'
  | 'origin'
  | 'strict-origin'
  | 'origin-when-cross-origin'
  | 'strict-origin-when-cross-origin'
  | 'unsafe-url';

/**
 * Options of {@link securityHeaders} and `@SecurityHeaders`: each header is `true` (its default),
 * `false` (not sent) or its value. Unknown keys and bad values stop startup (`ROCOCO_OPTIONS`).
 */
export interface SecurityHeadersOptions {
  /** helmet's default policy, merged with `directives`. */
  contentSecurityPolicy?: boolean | ContentSecurityPolicyOptions;
  /** `Cross-Origin-Embedder-Policy`: not sent unless given (as in helmet); over HTTPS only. */
  crossOriginEmbedderPolicy?: boolean | 'require-corp' | 'credentialless' | 'unsafe-none';
  /** `same-origin`, over HTTPS only (browsers ignore it elsewhere). */
  crossOriginOpenerPolicy?:
    boolean | 'same-origin' | 'same-origin-allow-popups' | 'noopener-allow-popups' | 'unsafe-none';
  /** `same-origin`. */
  crossOriginResourcePolicy?: boolean | 'same-origin' | 'same-site' | 'cross-origin';
  /** `?1`. */
  originAgentCluster?: boolean;
  /** `no-referrer`; a list is sent as fallbacks, the last the browser knows wins. */
  referrerPolicy?: boolean | ReferrerPolicyToken | readonly ReferrerPolicyToken[];
  /** `max-age=31536000; includeSubDomains`, on HTTPS responses only (`req.protocol`). */
  strictTransportSecurity?: boolean | StrictTransportSecurityOptions;
  /** `nosniff`. */
  xContentTypeOptions?: boolean;
  /** `off`. */
  xDnsPrefetchControl?: boolean | 'on' | 'off';
  /** `noopen`. */
  xDownloadOptions?: boolean;
  /** `SAMEORIGIN`. */
  xFrameOptions?: boolean | 'DENY' | 'SAMEORIGIN';
  /** `none`. */
  xPermittedCrossDomainPolicies?: boolean | 'none' | 'master-only' | 'by-content-type' | 'all';
  /** `0`: the old XSS auditors did more harm than good. */
  xXssProtection?: boolean;
  /** Removes an `X-Powered-By` header a handler or middleware set: true. */
  hidePoweredBy?: boolean;
}

/** The headers of one route (or of the app), ready to be added to responses. */
export interface CompiledHeaders {
  /** Every header sent over plain HTTP, names in lower case: the CSP without a nonce. */
  readonly http: Readonly<Record<string, string>>;
  /** Over HTTPS: HSTS, COOP and COEP too, and `upgrade-insecure-requests` in the CSP. */
  readonly https: Readonly<Record<string, string>>;
  /** The policy, apart: a page that asked for a nonce gets it in. */
  readonly csp: CompiledPolicy | null;
  readonly hidePoweredBy: boolean;
  /** Whether `http` and `https` differ: only then is `req.protocol` read. */
  readonly protocolMatters: boolean;
}

/** A header that is off, or on with one value among `allowed` (the first is its default). */
interface Choice {
  key: keyof SecurityHeadersOptions;
  header: string;
  allowed: readonly string[];
  /** Off unless given. */
  optIn?: boolean;
  /** Only over HTTPS: browsers ignore it elsewhere. */
  httpsOnly?: boolean;
}

const CHOICES: readonly Choice[] = [
  {
    key: 'crossOriginEmbedderPolicy',
    header: 'cross-origin-embedder-policy',
    allowed: ['require-corp', 'credentialless', 'unsafe-none'],
    optIn: true,
    httpsOnly: true,
  },
  {
    key: 'crossOriginOpenerPolicy',
    header: 'cross-origin-opener-policy',
    allowed: ['same-origin', 'same-origin-allow-popups', 'noopener-allow-popups', 'unsafe-none'],
    httpsOnly: true,
  },
  {
    key: 'crossOriginResourcePolicy',
    header: 'cross-origin-resource-policy',
    allowed: ['same-origin', 'same-site', 'cross-origin'],
  },
  { key: 'originAgentCluster', header: 'origin-agent-cluster', allowed: ['?1'] },
  { key: 'xContentTypeOptions', header: 'x-content-type-options', allowed: ['nosniff'] },
  { key: 'xDnsPrefetchControl', header: 'x-dns-prefetch-control', allowed: ['off', 'on'] },
  { key: 'xDownloadOptions', header: 'x-download-options', allowed: ['noopen'] },
  { key: 'xFrameOptions', header: 'x-frame-options', allowed: ['SAMEORIGIN', 'DENY'] },
  {
    key: 'xPermittedCrossDomainPolicies',
    header: 'x-permitted-cross-domain-policies',
    allowed: ['none', 'master-only', 'by-content-type', 'all'],
  },
  { key: 'xXssProtection', header: 'x-xss-protection', allowed: ['0'] },
];

const REFERRER_TOKENS = [
  'no-referrer',
  'no-referrer-when-downgrade',
  'same-origin',
  'origin',
  'strict-origin',
  'origin-when-cross-origin',
  'strict-origin-when-cross-origin',
  'unsafe-url',
];

const HSTS_KEYS = ['maxAge', 'includeSubDomains', 'preload'];

/** Checks the keys of one layer of options (the app's, a controller's or a route's). */
export function checkHeadersOptions(where: string, options: unknown): SecurityHeadersOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw new RococoError('ROCOCO_OPTIONS', `${where} must be an object (or false)`);
  for (const key of Object.keys(options))
    if (!SECURITY_HEADERS_OPTION_KEYS.includes(key))
      throw new RococoError(
        'ROCOCO_OPTIONS',
        `${where}: unknown option '${key}' (known: ${SECURITY_HEADERS_OPTION_KEYS.join(', ')})`,
      );
  return options as SecurityHeadersOptions;
}

/**
 * Compiles layers of options, the app's first, each over the one before (a route's over its
 * controller's over the app's): a header given in a later layer replaces it, CSP directives are
 * merged directive by directive. Every value is checked here, at startup.
 */
export function compileHeaders(
  where: string,
  layers: readonly SecurityHeadersOptions[],
): CompiledHeaders {
  const pick = <K extends keyof SecurityHeadersOptions>(key: K): SecurityHeadersOptions[K] => {
    let v: SecurityHeadersOptions[K] = undefined;
    for (const layer of layers) if (layer[key] !== undefined) v = layer[key];
    return v;
  };
  const names: string[] = [];
  const values: string[] = [];
  const httpsNames: string[] = [];
  const httpsValues: string[] = [];
  for (const choice of CHOICES) {
    const value = choiceValue(where, choice, pick(choice.key));
    if (value === null) continue;
    (choice.httpsOnly ? httpsNames : names).push(choice.header);
    (choice.httpsOnly ? httpsValues : values).push(value);
  }
  const referrer = referrerPolicy(where, pick('referrerPolicy'));
  if (referrer !== null) {
    names.push('referrer-policy');
    values.push(referrer);
  }
  const hide = pick('hidePoweredBy');
  if (hide !== undefined && typeof hide !== 'boolean')
    throw new RococoError('ROCOCO_OPTIONS', `${where}: hidePoweredBy is a boolean`);
  const csp = policy(where, layers);
  const strict = hsts(where, pick('strictTransportSecurity'));
  if (strict !== null) {
    httpsNames.unshift('strict-transport-security');
    httpsValues.unshift(strict);
  }
  const http: Record<string, string> = {};
  names.forEach((name, i) => (http[name] = values[i]));
  if (csp !== null) http[csp.name] = csp.http.value;
  const https: Record<string, string> = { ...http };
  httpsNames.forEach((name, i) => (https[name] = httpsValues[i]));
  if (csp !== null) https[csp.name] = csp.https.value;
  return {
    http,
    https,
    csp,
    hidePoweredBy: hide ?? true,
    protocolMatters: httpsNames.length > 0 || (csp !== null && csp.http !== csp.https),
  };
}

function choiceValue(where: string, choice: Choice, value: unknown): string | null {
  if (value === undefined) return choice.optIn ? null : choice.allowed[0];
  if (value === false) return null;
  if (value === true) return choice.allowed[0];
  const given =
    typeof value === 'string' && choice.key === 'xFrameOptions' ? value.toUpperCase() : value;
  if (typeof given === 'string' && choice.allowed.includes(given) && choice.allowed.length > 1)
    return given;
  throw new RococoError(
    'ROCOCO_OPTIONS',
    `${where}: ${choice.key} is ${choice.allowed.length > 1 ? `true, false or one of ${choice.allowed.map((a) => `'${a}'`).join(', ')}` : 'true or false'}, got ${JSON.stringify(value)}`,
  );
}

function referrerPolicy(where: string, value: unknown): string | null {
  if (value === false) return null;
  if (value === undefined || value === true) return 'no-referrer';
  const tokens = typeof value === 'string' ? [value] : value;
  if (
    !Array.isArray(tokens) ||
    tokens.length === 0 ||
    new Set(tokens).size !== tokens.length ||
    !tokens.every((t) => REFERRER_TOKENS.includes(t as string))
  )
    throw new RococoError(
      'ROCOCO_OPTIONS',
      `${where}: referrerPolicy is true, false, or one or more (different) of ${REFERRER_TOKENS.join(', ')}; got ${JSON.stringify(value)}`,
    );
  return tokens.join(',');
}

function hsts(where: string, value: unknown): string | null {
  if (value === false) return null;
  const o = (value === undefined || value === true ? {} : value) as StrictTransportSecurityOptions;
  if (o === null || typeof o !== 'object' || Array.isArray(o))
    throw new RococoError(
      'ROCOCO_OPTIONS',
      `${where}: strictTransportSecurity is true, false or { maxAge, includeSubDomains, preload }`,
    );
  for (const key of Object.keys(o))
    if (!HSTS_KEYS.includes(key))
      throw new RococoError(
        'ROCOCO_OPTIONS',
        `${where}: strictTransportSecurity: unknown option '${key}' (known: ${HSTS_KEYS.join(', ')})`,
      );
  const maxAge = o.maxAge ?? 365 * 24 * 60 * 60;
  if (!Number.isInteger(maxAge) || maxAge < 0)
    throw new RococoError(
      'ROCOCO_OPTIONS',
      `${where}: strictTransportSecurity.maxAge is a whole number of seconds, got ${JSON.stringify(o.maxAge)}`,
    );
  for (const key of ['includeSubDomains', 'preload'] as const)
    if (o[key] !== undefined && typeof o[key] !== 'boolean')
      throw new RococoError(
        'ROCOCO_OPTIONS',
        `${where}: strictTransportSecurity.${key} is a boolean`,
      );
  if (o.preload === true && (maxAge < 31536000 || o.includeSubDomains === false))
    throw new RococoError(
      'ROCOCO_OPTIONS',
      `${where}: strictTransportSecurity.preload needs a maxAge of a year or more and includeSubDomains (the preload list refuses less)`,
    );
  let line = `max-age=${maxAge}`;
  if (o.includeSubDomains !== false) line += '; includeSubDomains';
  if (o.preload === true) line += '; preload';
  return line;
}

function policy(where: string, layers: readonly SecurityHeadersOptions[]): CompiledPolicy | null {
  let last: unknown;
  const policies: ContentSecurityPolicyOptions[] = [];
  for (const layer of layers) {
    const v = layer.contentSecurityPolicy;
    if (v === undefined) continue;
    last = v;
    if (v === false) {
      policies.length = 0; // a later layer that turns it on again starts from the defaults
      continue;
    }
    policies.push(v === true ? {} : checkPolicyOptions(where, v));
  }
  if (last === false) return null;
  if (policies.length === 0) policies.push({});
  const reportOnly = policies.reduce<boolean>((r, p) => p.reportOnly ?? r, false);
  return compilePolicy(mergeDirectives(where, policies), reportOnly);
}
