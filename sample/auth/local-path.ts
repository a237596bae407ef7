/** An address on this site and nothing else: the origin the checks below resolve against. */
const HERE = 'http://here.invalid';

/**
 * `next` if it is a path on this site (`/projects/new?x=1`), else null: where to go after
 * logging in, without an open redirect. Refused: anything that does not start with a single
 * `/` (`https://evil.com`, `javascript:alert(1)`, `evil.com`), a second `/` or a `\` anywhere
 * (`//evil.com` and `/\evil.com` are other hosts to a browser), control characters and spaces
 * (browsers drop tabs and newlines, so `/\t/evil.com` is `//evil.com`), the same once
 * %-decoded at the start (`/%2F%2Fevil.com`, for a proxy that decodes), and anything a URL
 * parser would put on another origin.
 */
export function localPath(next: string | null | undefined): string | null {
  if (typeof next !== 'string' || next.length === 0 || next.length > 2000) return null;
  let decoded: string;
  try {
    decoded = decodeURIComponent(next);
  } catch {
    return null; // a malformed %-escape
  }
  if (!next.startsWith('/') || next.startsWith('//') || /[\\\s\x00-\x1f\x7f]/.test(next))
    return null;
  if (/^\/[/\\]/.test(decoded) || /[\x00-\x1f\x7f]/.test(decoded)) return null;
  const url = new URL(next, HERE);
  if (url.origin !== HERE) return null;
  return next;
}
