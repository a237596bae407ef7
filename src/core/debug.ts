import type { Request } from './request';
import { html, type Response } from './response';

/** Keys whose values a debug page or a log never shows. */
const SECRET_KEY = /key|secret|password|passwd|token|credential|auth/i;
const MASK = '••••••';
const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * A value fit to show: secrets under secret-looking keys masked, and the password of any URL
 * (`postgres://user:pw@host/db`) masked wherever it appears.
 */
export function maskSecrets(value: unknown, key = ''): unknown {
  if (
    SECRET_KEY.test(key) &&
    value !== undefined &&
    value !== null &&
    value !== '' &&
    value !== false
  )
    return MASK;
  // The password runs to the last '@' of the authority, as URL parsers read it: 'p@ss' in
  // 'postgres://u:p@ss@db/x' is one password (pg connects with it); a user may hold an '@' too.
  if (typeof value === 'string') return value.replace(/(\/\/[^/:\s]*:)[^\s/]*@/g, `$1${MASK}@`);
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = maskSecrets(v, k);
    return out;
  }
  return value;
}

/** The route table as text, one route a line: what DEBUG prints at startup. */
export function routeTable(
  routes: readonly {
    methods: readonly string[];
    pattern: { source: string };
    name: string | undefined;
    origin: string;
    handler?: { middlewares?: readonly { name: string }[]; plugins?: readonly string[] };
  }[],
): string {
  const rows = [
    ['METHOD', 'PATTERN', 'NAME', 'HANDLER', 'MIDDLEWARES', 'PLUGINS'],
    ...routes.map((r) => [
      r.methods.join(','),
      r.pattern.source,
      r.name ?? '-',
      r.origin,
      (r.handler?.middlewares ?? []).map((m) => m.name || '(anonymous)').join(',') || '-',
      (r.handler?.plugins ?? []).join(',') || '-',
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i < r.length - 1 ? c.padEnd(widths[i]) : c))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/**
 * DEBUG's page for an unhandled error in a request that accepts HTML: the stack, the matched
 * route, the request and the settings, secrets masked. Never built when DEBUG is off.
 */
export function debugPage(req: Request, err: unknown): Response {
  const e = err instanceof Error ? err : new Error(String(err));
  const headers: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(req.headers))
    headers[k] = k === 'cookie' || k === 'authorization' ? MASK : maskSecrets(v, k);
  const route =
    req.route === null
      ? 'none'
      : `${req.route.origin} (${req.route.methods.join(', ')}${req.route.name ? `, name '${req.route.name}'` : ''})`;
  const section = (title: string, body: string) => `<h2>${esc(title)}</h2>${body}`;
  const table = (o: Record<string, unknown>) =>
    `<table>${Object.entries(o)
      .map(
        ([k, v]) =>
          `<tr><th>${esc(k)}</th><td>${esc(typeof v === 'string' ? v : JSON.stringify(v))}</td></tr>`,
      )
      .join('')}</table>`;
  const body = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(e.name)}: ${esc(e.message)}</title>
<style>body{font:14px/1.5 system-ui,sans-serif;margin:2rem;color:#222}h1{color:#a33;font-size:1.4rem}pre{background:#f6f3ee;padding:1rem;overflow:auto}
th{text-align:left;padding-right:1rem;vertical-align:top;font-weight:600}td{font-family:monospace;word-break:break-all}.note{color:#777}</style></head>
<body><h1>${esc(e.name)}: ${esc(e.message)}</h1>
<p class="note">500 Internal Server Error, shown because settings.DEBUG is on. With DEBUG off, this page is never shown.</p>
${section('Stack', `<pre>${esc(e.stack ?? String(e))}</pre>`)}
${section('Route', `<p>${esc(route)}</p>${Object.keys(req.params).length ? table(req.params) : ''}`)}
${section('Request', table({ method: req.method, url: req.url, id: req.id, ip: req.ip }) + table(headers))}
${section('Settings', table(maskSecrets(req.settings) as Record<string, unknown>))}
</body></html>
`;
  // A policy of its own, which a security-headers hook keeps: nothing but its inline style runs,
  // whatever policy the app's pages have (one without 'unsafe-inline' would leave it unstyled).
  return html(body, {
    status: 500,
    headers: { 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'" },
  });
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}
