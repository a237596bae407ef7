import { accepts, type Converter } from './converters';

/**
 * Route patterns in aiohttp's syntax: `<name>` is one non-empty path segment, `<name:regex>`
 * is what the regex matches (across `/` only if the regex can match a `/`), and
 * `<name:converter>` what a converter's regex matches and its `parse` accepts (`<id:int>`).
 * Parsed and compiled once, at startup.
 */

/** A literal run of a pattern, or one of its parameters. */
export type PatternPart =
  | { kind: 'static'; text: string }
  | {
      kind: 'param';
      name: string;
      regex: string | null;
      spans: boolean;
      converter: Converter | null;
      converterName: string | null;
    };

/** The converters of a segment's captures, in capture order (null: a regex, checked by the regex alone). */
export type CaptureChecks = readonly (Converter | null)[] | null;

/** One `/`-separated segment of a pattern, as the router's tree stores it. */
export type Segment =
  | { kind: 'static'; text: string }
  | { kind: 'param' }
  | { kind: 'pattern'; regex: RegExp; whole: boolean; key: string; converters: CaptureChecks };

/** A parsed pattern: its parts, its segments up to the first spanning parameter, and the rest. */
export interface CompiledPattern {
  source: string;
  parts: PatternPart[];
  /** Parameter names in the order the matcher captures them. */
  paramNames: string[];
  /** Segments matched one by one. */
  segments: Segment[];
  /** When a parameter may span `/`: the regex over the rest of the path, from its segment on. */
  tail: { regex: RegExp; key: string; converters: CaptureChecks } | null;
  /** The pattern with parameter names erased: two routes with the same key collide. */
  key: string;
  /** Full-value regexes of the regex parameters, for checking `url()` arguments. */
  checks: Map<string, RegExp>;
}

/** Raised for a pattern that cannot be compiled; the caller adds where it was declared. */
export class PatternError extends Error {
  constructor(
    readonly code: 'ROCOCO_ROUTE_PATTERN' | 'ROCOCO_ROUTE_REGEX',
    message: string,
  ) {
    super(message);
  }
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parses and compiles a route pattern; throws {@link PatternError} with what is wrong. */
export function compilePattern(
  source: string,
  converters: ReadonlyMap<string, Converter> = new Map(),
): CompiledPattern {
  if (!source.startsWith('/'))
    throw new PatternError('ROCOCO_ROUTE_PATTERN', `'${source}' must start with '/'`);
  const parts = parse(source, converters);
  const paramNames: string[] = [];
  const checks = new Map<string, RegExp>();
  for (const p of parts) {
    if (p.kind !== 'param') continue;
    if (paramNames.includes(p.name)) {
      throw new PatternError(
        'ROCOCO_ROUTE_PATTERN',
        `'${source}' uses the parameter '${p.name}' twice`,
      );
    }
    paramNames.push(p.name);
    if (p.regex !== null) checks.set(p.name, new RegExp(`^(?:${p.regex})$`));
  }

  // Split into segments: each segment is the list of parts between two slashes.
  const segs: PatternPart[][] = [[]];
  for (const p of parts) {
    if (p.kind === 'param') {
      segs[segs.length - 1].push(p);
      continue;
    }
    const pieces = p.text.split('/');
    pieces.forEach((piece, i) => {
      if (i > 0) segs.push([]);
      if (piece !== '') segs[segs.length - 1].push({ kind: 'static', text: piece });
    });
  }
  segs.shift(); // the empty run before the leading '/'

  const segments: Segment[] = [];
  let tail: CompiledPattern['tail'] = null;
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i];
    if (seg.some((p) => p.kind === 'param' && p.spans)) {
      const rest = segs
        .slice(i)
        .map((s) => s.map((p) => partSource(p, true)).join(''))
        .join('/');
      tail = {
        regex: new RegExp(`^${rest}$`),
        key: segs.slice(i).map(segmentKey).join('/'),
        converters: captureChecks(segs.slice(i).flat()),
      };
      break;
    }
    segments.push(toSegment(seg));
  }
  const key = '/' + segs.map(segmentKey).join('/');
  return { source, parts, paramNames, segments, tail, key, checks };
}

function toSegment(seg: PatternPart[]): Segment {
  if (seg.length === 0) return { kind: 'static', text: '' };
  if (seg.length === 1 && seg[0].kind === 'static') return { kind: 'static', text: seg[0].text };
  if (seg.length === 1 && seg[0].kind === 'param' && seg[0].regex === null)
    return { kind: 'param' };
  const whole = seg.length === 1;
  // A lone regex parameter is tested, not executed: the segment itself is the value.
  const body = whole
    ? `(?:${(seg[0] as { regex: string }).regex})`
    : seg.map((p) => partSource(p, false)).join('');
  return {
    kind: 'pattern',
    regex: new RegExp(`^${body}$`),
    whole,
    key: segmentKey(seg),
    converters: captureChecks(seg),
  };
}

function captureChecks(parts: PatternPart[]): CaptureChecks {
  const params = parts.filter((p) => p.kind === 'param');
  return params.some((p) => p.converter !== null) ? params.map((p) => p.converter) : null;
}

/** Whether every capture from `from` on is accepted by its converter. */
export function converted(checks: CaptureChecks, values: readonly string[], from: number): boolean {
  if (checks === null) return true;
  for (let k = 0; k < checks.length; k++) {
    const c = checks[k];
    if (c !== null && !accepts(c, values[from + k])) return false;
  }
  return true;
}

function segmentKey(seg: PatternPart[]): string {
  return seg
    .map((p) =>
      p.kind === 'static'
        ? p.text
        : p.converterName !== null
          ? `<=${p.converterName}>`
          : `<${p.regex === null ? '' : ':' + p.regex}>`,
    )
    .join('');
}

function partSource(p: PatternPart, inTail: boolean): string {
  if (p.kind === 'static') return escapeRegex(p.text);
  if (p.regex !== null) return `(${p.regex})`;
  return inTail ? '([^/]+)' : '(.+?)';
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function parse(source: string, converters: ReadonlyMap<string, Converter>): PatternPart[] {
  const parts: PatternPart[] = [];
  let text = '';
  let i = 0;
  while (i < source.length) {
    const ch = source[i];
    if (ch === '>')
      throw new PatternError('ROCOCO_ROUTE_PATTERN', `'${source}' has a '>' without its '<'`);
    if (ch !== '<') {
      text += ch;
      i++;
      continue;
    }
    if (text) parts.push({ kind: 'static', text });
    text = '';
    const nameEnd = indexOfAny(source, ':>', i + 1);
    if (nameEnd === -1)
      throw new PatternError('ROCOCO_ROUTE_PATTERN', `'${source}' has a '<' that is never closed`);
    const name = source.slice(i + 1, nameEnd);
    if (!NAME.test(name) || name === '__proto__') {
      throw new PatternError(
        'ROCOCO_ROUTE_PATTERN',
        `'${source}': '${name}' is not a valid parameter name (letters, digits, _)`,
      );
    }
    if (parts.length > 0 && parts[parts.length - 1].kind === 'param') {
      throw new PatternError(
        'ROCOCO_ROUTE_PATTERN',
        `'${source}': parameter '${name}' follows another parameter with nothing between them`,
      );
    }
    if (source[nameEnd] === '>') {
      parts.push({
        kind: 'param',
        name,
        regex: null,
        spans: false,
        converter: null,
        converterName: null,
      });
      i = nameEnd + 1;
      continue;
    }
    const end = regexEnd(source, nameEnd + 1);
    if (end === -1)
      throw new PatternError(
        'ROCOCO_ROUTE_PATTERN',
        `'${source}': the regex of '${name}' is never closed with '>'`,
      );
    const spec = source.slice(nameEnd + 1, end);
    // A bare word names a converter: as a regex it could only match itself, so a misspelt
    // converter (`<id:integer>`) is an error rather than a route that never matches.
    if (NAME.test(spec)) {
      const converter = converters.get(spec);
      if (converter === undefined) {
        throw new PatternError(
          'ROCOCO_ROUTE_PATTERN',
          `'${source}': '${spec}' of parameter '${name}' is not a converter (known: ${[...converters.keys()].join(', ')}); write a literal word as a regex, '(?:${spec})'`,
        );
      }
      parts.push({
        kind: 'param',
        name,
        regex: checkRegex(source, name, converter.regex),
        spans: mayMatchSlash(converter.regex),
        converter,
        converterName: spec,
      });
    } else {
      parts.push({
        kind: 'param',
        name,
        regex: checkRegex(source, name, spec),
        spans: mayMatchSlash(spec),
        converter: null,
        converterName: null,
      });
    }
    i = end + 1;
  }
  if (text) parts.push({ kind: 'static', text });
  for (const p of parts) {
    if (p.kind === 'static' && /[?#\s]/.test(p.text)) {
      throw new PatternError(
        'ROCOCO_ROUTE_PATTERN',
        `'${source}': a path cannot contain '?', '#' or whitespace`,
      );
    }
  }
  return parts;
}

function indexOfAny(s: string, chars: string, from: number): number {
  for (let i = from; i < s.length; i++) if (chars.includes(s[i])) return i;
  return -1;
}

/** The index of the `>` that ends a regex starting at `from`: outside classes and groups. */
function regexEnd(s: string, from: number): number {
  let depth = 0;
  let inClass = false;
  for (let i = from; i < s.length; i++) {
    const ch = s[i];
    if (ch === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (ch === ']') inClass = false;
      continue;
    }
    if (ch === '[') inClass = true;
    else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === '>' && depth === 0) return i;
  }
  return -1;
}

/**
 * Compiles the regex to report a bad one, and rewrites its groups as non-capturing so that
 * only parameters capture. Backreferences would then point nowhere, so they are refused.
 */
function checkRegex(source: string, name: string, regex: string): string {
  if (regex === '')
    throw new PatternError(
      'ROCOCO_ROUTE_REGEX',
      `'${source}': parameter '${name}' has an empty regex`,
    );
  try {
    new RegExp(regex);
  } catch (e) {
    throw new PatternError(
      'ROCOCO_ROUTE_REGEX',
      `'${source}': '${regex}' of parameter '${name}' is not a valid regex (${(e as Error).message})`,
    );
  }
  let out = '';
  let inClass = false;
  for (let i = 0; i < regex.length; i++) {
    const ch = regex[i];
    if (ch === '\\') {
      const next = regex[i + 1];
      if (/[1-9k]/.test(next)) {
        throw new PatternError(
          'ROCOCO_ROUTE_REGEX',
          `'${source}': parameter '${name}' uses a backreference, which route patterns do not support`,
        );
      }
      out += ch + next;
      i++;
      continue;
    }
    if (inClass) {
      if (ch === ']') inClass = false;
      out += ch;
      continue;
    }
    if (ch === '[') inClass = true;
    if (ch === '(' && regex[i + 1] !== '?') {
      out += '(?:';
      continue;
    }
    if (
      ch === '(' &&
      regex[i + 1] === '?' &&
      regex[i + 2] === '<' &&
      regex[i + 3] !== '=' &&
      regex[i + 3] !== '!'
    ) {
      out += '(?:';
      i = regex.indexOf('>', i);
      continue;
    }
    out += ch;
  }
  return out;
}

/**
 * Whether a regex could match a string containing `/`. It errs on the side of yes (a negated
 * class that does not list `/`, `.`, `\S`, `\D`, `\W`, a range over `/`): a yes only moves the
 * route to the slower whole-rest matcher, a wrong no would cut a match at a slash.
 */
export function mayMatchSlash(regex: string): boolean {
  for (let i = 0; i < regex.length; i++) {
    const ch = regex[i];
    if (ch === '\\') {
      const next = regex[i + 1];
      if (
        next === '/' ||
        next === 'S' ||
        next === 'D' ||
        next === 'W' ||
        next === 'x' ||
        next === 'u'
      )
        return true;
      i++;
      continue;
    }
    if (ch === '/' || ch === '.') return true;
    if (ch === '[') {
      const end = classEnd(regex, i + 1);
      const body = regex.slice(i + 1, end);
      if (classMayMatchSlash(body)) return true;
      i = end;
    }
  }
  return false;
}

function classEnd(regex: string, from: number): number {
  for (let i = from; i < regex.length; i++) {
    if (regex[i] === '\\') {
      i++;
      continue;
    }
    if (regex[i] === ']' && i > from) return i;
  }
  return regex.length;
}

function classMayMatchSlash(body: string): boolean {
  const negated = body.startsWith('^');
  const items = negated ? body.slice(1) : body;
  const listsSlash = items.includes('/');
  if (negated) return !listsSlash;
  if (listsSlash || /\\[SDWxu]/.test(items)) return true;
  // A range such as `!-~` covers '/' (0x2f).
  for (let i = 0; i + 2 < items.length; i++) {
    if (items[i + 1] === '-' && items.charCodeAt(i) <= 0x2f && items.charCodeAt(i + 2) >= 0x2f)
      return true;
  }
  return false;
}
