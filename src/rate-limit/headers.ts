import { HTTPTooManyRequests } from '../core/errors';
import type { Verdict } from './limit';

/** The problem type of draft-ietf-httpapi-ratelimit-headers for a spent quota. */
export const QUOTA_EXCEEDED = 'https://iana.org/assignments/http-problem-types#quota-exceeded';

/**
 * A policy name as a structured-field string (RFC 9651): quoted, `"` and `\` escaped.
 *
 * @example
 * sfString('logins'); // '"logins"'
 */
export function sfString(name: string): string {
  return `"${name.replace(/[\\"]/g, (c) => '\\' + c)}"`;
}

/** Seconds until a window ends, rounded up (a client that waits that long is not refused). */
function seconds(ms: number): number {
  return ms > 0 ? Math.ceil(ms / 1000) : 0;
}

/**
 * The `RateLimit-Policy` and `RateLimit` fields of draft-ietf-httpapi-ratelimit-headers (the
 * structured-field form of drafts 08 and later): each limit's quota and window, and what is left
 * of it and when it resets: `RateLimit-Policy: "5-in-60s";q=5;w=60` and
 * `RateLimit: "5-in-60s";r=2;t=41`.
 *
 * @example
 * Object.assign(response.headers, rateLimitFields(verdicts));
 */
export function rateLimitFields(verdicts: readonly Verdict[]): {
  'ratelimit-policy': string;
  ratelimit: string;
} {
  return { 'ratelimit-policy': policyField(verdicts), ratelimit: limitField(verdicts) };
}

/**
 * The `RateLimit-Policy` field of the limits that counted a request (each limit's member is
 * built once, at startup).
 *
 * @example
 * response.headers['ratelimit-policy'] = policyField(verdicts); // "default";q=300;w=60
 */
export function policyField(verdicts: readonly Verdict[]): string {
  if (verdicts.length === 1) return verdicts[0].limit.policyField;
  let policy = '';
  for (const v of verdicts) policy += (policy === '' ? '' : ', ') + v.limit.policyField;
  return policy;
}

/**
 * The `RateLimit` field: what is left of each limit and when its window resets.
 *
 * @example
 * response.headers.ratelimit = limitField(verdicts); // "default";r=299;t=60
 */
export function limitField(verdicts: readonly Verdict[]): string {
  let limit = '';
  for (let i = 0; i < verdicts.length; i++) {
    const v = verdicts[i];
    const left = v.limit.points - v.consumed;
    if (i > 0) limit += ', ';
    limit += v.limit.remainingField + (left > 0 ? left : 0);
    if (v.msBeforeNext > 0) limit += ';t=' + seconds(v.msBeforeNext);
  }
  return limit;
}

/**
 * The 429 of a request that spent a limit: an RFC 9457 problem of the draft's `quota-exceeded`
 * type naming the spent policies (`violated-policies`), with `Retry-After` (the longest wait of
 * the spent ones) and the `RateLimit` fields.
 *
 * @example
 * if (verdicts.some((v) => v.refused)) throw tooManyRequests(verdicts);
 */
export function tooManyRequests(verdicts: readonly Verdict[]): HTTPTooManyRequests {
  const spent = verdicts.filter((v) => v.refused);
  const wait = Math.max(1, ...spent.map((v) => seconds(v.msBeforeNext)));
  return new HTTPTooManyRequests(`Too many requests: try again in ${humanWait(wait)}.`, {
    type: QUOTA_EXCEEDED,
    headers: { 'retry-after': String(wait), ...rateLimitFields(verdicts) },
    extensions: { 'violated-policies': spent.map((v) => v.limit.name), 'retry-after': wait },
  });
}

function humanWait(s: number): string {
  if (s < 90) return `${s} ${s === 1 ? 'second' : 'seconds'}`;
  const m = Math.ceil(s / 60);
  if (m < 90) return `${m} minutes`;
  return `${Math.ceil(m / 60)} hours`;
}
