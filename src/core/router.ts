import { METHODS } from 'node:http';
import { HTTPBadRequest, RococoError } from './errors';
import type { IncomingMessage } from 'node:http';
import { compileConditions, type CompiledConditions, type RouteConditions } from './conditions';
import { accepts, BUILTIN_CONVERTERS, type Converter } from './converters';
import {
  compilePattern,
  converted,
  PatternError,
  type CaptureChecks,
  type CompiledPattern,
  type Segment,
} from './route-pattern';

/** What the router is told about a route. */
export interface RouteSpec<H> {
  methods: readonly string[];
  pattern: string;
  name?: string;
  handler: H;
  /** Where it was declared, for error messages (`ProjectsController.show`). */
  origin: string;
  /** What else a request must have for this route (host, headers, your own test). */
  conditions?: RouteConditions;
}

/** A route in the table. */
export interface Route<H> {
  readonly name: string | undefined;
  readonly methods: readonly string[];
  readonly pattern: CompiledPattern;
  readonly handler: H;
  readonly origin: string;
  readonly conditions: CompiledConditions | null;
}

/** The route a request path resolved to, with its percent-decoded parameters. */
export interface RouteMatch<H> {
  route: Route<H>;
  params: Record<string, string>;
  /** Headers the choice between this path's routes depended on (`Vary`), or null. */
  vary: string | null;
}

/** Values accepted for a query string built by {@link Router.url}. */
export type QueryInit =
  | URLSearchParams
  | Record<
      string,
      string | number | boolean | readonly (string | number | boolean)[] | null | undefined
    >;

/**
 * What one method and path lead to: routes with conditions, tried in order, then the route
 * without (which may be missing). A path without conditioned routes has `conditioned` null and
 * costs one comparison more.
 */
interface Entry<H> {
  route: Route<H> | null;
  implicit: boolean;
  conditioned: { route: Route<H>; implicit: boolean }[] | null;
  vary: string | null;
}

class Node<H> {
  statics: Map<string, Node<H>> | null = null;
  patterns: {
    regex: RegExp;
    whole: boolean;
    key: string;
    converters: CaptureChecks;
    node: Node<H>;
  }[] = [];
  param: Node<H> | null = null;
  tails: { regex: RegExp; key: string; converters: CaptureChecks; entry: Entry<H> }[] = [];
  entry: Entry<H> | null = null;
}

/** One method's routes: fully static paths in a map, the others in a segment tree. */
class Tree<H> {
  statics = new Map<string, Entry<H>>();
  root = new Node<H>();
  dynamic = false;
}

const NO_PARAMS: Record<string, string> = Object.freeze({}) as Record<string, string>;
const KNOWN_METHODS = new Set(METHODS);

/**
 * Maps (method, path) to a handler and names back to URLs. It knows nothing of controllers:
 * the application gives it compiled handlers. Static segments win over regex parameters,
 * which win over plain parameters, which win over parameters spanning `/`; within one kind,
 * declaration order decides. GET routes also answer HEAD unless a HEAD route is declared.
 */
export class Router<H> {
  private readonly trees = new Map<string, Tree<H>>();
  /** The GET tree, looked up without the Map: most requests are GETs (~90 instructions a request, callgrind). */
  private getTree: Tree<H> | undefined = undefined;
  private readonly names = new Map<string, Route<H>>();
  private readonly list: Route<H>[] = [];

  /** @param converters what `<name:converter>` may name; the built-in ones by default. */
  constructor(
    private readonly converters: ReadonlyMap<string, Converter> = new Map(
      Object.entries(BUILTIN_CONVERTERS),
    ),
  ) {}

  /**
   * The parameters of a pattern and their converters (null: a plain or regex parameter); an
   * empty map for a pattern that does not compile (`add()` says why).
   */
  parameters(pattern: string): Map<string, Converter | null> {
    const out = new Map<string, Converter | null>();
    try {
      for (const p of compilePattern(pattern, this.converters).parts)
        if (p.kind === 'param') out.set(p.name, p.converter);
    } catch (e) {
      if (!(e instanceof PatternError)) throw e;
    }
    return out;
  }

  /** Adds a route; throws a {@link RococoError} naming `spec.origin` for any mistake. */
  add(spec: RouteSpec<H>): Route<H> {
    let pattern: CompiledPattern;
    try {
      pattern = compilePattern(spec.pattern, this.converters);
    } catch (e) {
      if (e instanceof PatternError) throw new RococoError(e.code, `${spec.origin}: ${e.message}`);
      throw e;
    }
    const methods = spec.methods.map((m) => m.toUpperCase());
    for (const m of methods) {
      if (!KNOWN_METHODS.has(m))
        throw new RococoError(
          'ROCOCO_ROUTE_METHOD',
          `${spec.origin}: '${m}' is not an HTTP method node can serve`,
        );
    }
    if (methods.length === 0)
      throw new RococoError(
        'ROCOCO_ROUTE_METHOD',
        `${spec.origin}: a route needs at least one method`,
      );
    const conditions =
      spec.conditions === undefined ? null : compileConditions(spec.conditions, spec.origin);
    const route: Route<H> = {
      name: spec.name,
      methods,
      pattern,
      handler: spec.handler,
      origin: spec.origin,
      conditions,
    };
    if (route.name !== undefined) {
      const other = this.names.get(route.name);
      if (other) {
        throw new RococoError(
          'ROCOCO_ROUTE_NAME',
          `${spec.origin}: the route name '${route.name}' is already used by ${other.origin}`,
        );
      }
      this.names.set(route.name, route);
    }
    for (const m of methods) this.insert(m, route, false);
    if (methods.includes('GET') && !methods.includes('HEAD')) this.insert('HEAD', route, true);
    this.list.push(route);
    return route;
  }

  /** Every route, in declaration order. */
  get routes(): readonly Route<H>[] {
    return this.list;
  }

  /** The route for a method and a raw (percent-encoded, query-less) path, or null. */
  match(method: string, path: string, req?: IncomingMessage): RouteMatch<H> | null {
    const tree = method === 'GET' ? this.getTree : this.trees.get(method);
    if (tree === undefined) return null;
    const pct = path.includes('%');
    let key = path;
    if (pct) {
      try {
        key = decodeURI(path);
      } catch {
        throw new HTTPBadRequest('The path has a malformed percent-encoding');
      }
    }
    const hit = tree.statics.get(key);
    if (hit !== undefined) {
      const route = hit.conditioned === null ? hit.route : choose(hit, req);
      return route === null ? null : { route, params: NO_PARAMS, vary: hit.vary };
    }
    if (!tree.dynamic) return null;
    const values: string[] = [];
    let entry: Entry<H> | null;
    try {
      entry = walk(tree.root, path, 1, values, pct);
    } catch {
      throw new HTTPBadRequest('The path has a malformed percent-encoding');
    }
    if (entry === null) return null;
    const route = entry.conditioned === null ? entry.route : choose(entry, req);
    if (route === null) return null;
    const names = route.pattern.paramNames;
    const params: Record<string, string> = {};
    for (let i = 0; i < names.length; i++) params[names[i]] = values[i];
    return { route, params, vary: entry.vary };
  }

  /** The methods some route answers for this path (for a 405's `Allow`). */
  allowed(path: string): string[] {
    const out: string[] = [];
    for (const method of this.trees.keys())
      if (this.match(method, path, ANY) !== null) out.push(method);
    return out;
  }

  /** What is wrong with a route name nothing has (with the names it may be a typo of); undefined for a known one. */
  unknownName(name: string): string | undefined {
    if (this.names.has(name)) return undefined;
    return `no route is named '${name}'${suggest(name, [...this.names.keys()])}`;
  }

  /**
   * The path of a named route, parameters percent-encoded, query appended.
   *
   * @example
   * router.url('api.project', { id: 42 }, { tab: 'issues' }) // '/api/projects/42?tab=issues'
   */
  url(name: string, params: Record<string, string | number> = {}, query?: QueryInit): string {
    const route = this.names.get(name);
    if (route === undefined) throw new RococoError('ROCOCO_URL', this.unknownName(name) as string);
    const { parts, paramNames, checks } = route.pattern;
    for (const key of Object.keys(params)) {
      if (!paramNames.includes(key)) {
        throw new RococoError(
          'ROCOCO_URL',
          `route '${name}' (${route.pattern.source}) has no parameter '${key}'`,
        );
      }
    }
    let out = '';
    for (const part of parts) {
      if (part.kind === 'static') {
        out += encodeURI(part.text);
        continue;
      }
      const raw = params[part.name];
      if (raw === undefined || raw === null) {
        throw new RococoError(
          'ROCOCO_URL',
          `route '${name}' (${route.pattern.source}) needs the parameter '${part.name}'`,
        );
      }
      let value: string;
      try {
        value = part.converter === null ? String(raw) : part.converter.format(raw);
      } catch (e) {
        throw new RococoError(
          'ROCOCO_URL',
          `route '${name}': ${JSON.stringify(raw)} is not a value of <${part.name}:${part.converterName}> (${(e as Error).message})`,
        );
      }
      const check = checks.get(part.name);
      if (
        value === '' ||
        (check !== undefined && !check.test(value)) ||
        (part.converter !== null && !accepts(part.converter, value))
      ) {
        const spec = part.converterName ?? part.regex;
        throw new RococoError(
          'ROCOCO_URL',
          `route '${name}': '${value}' does not match <${part.name}${spec === null ? '' : ':' + spec}>`,
        );
      }
      out += part.spans
        ? value.split('/').map(encodeURIComponent).join('/')
        : encodeURIComponent(value);
    }
    return query === undefined ? out : out + queryString(query);
  }

  private insert(method: string, route: Route<H>, implicit: boolean): void {
    let tree = this.trees.get(method);
    if (tree === undefined) this.trees.set(method, (tree = new Tree()));
    if (method === 'GET') this.getTree = tree;
    const { segments, tail } = route.pattern;
    const entry: Entry<H> =
      route.conditions === null
        ? { route, implicit, conditioned: null, vary: null }
        : { route: null, implicit, conditioned: [{ route, implicit }], vary: null };
    if (tail === null && segments.every((s) => s.kind === 'static')) {
      const key = '/' + segments.map((s) => (s as { text: string }).text).join('/');
      const kept = keep(tree.statics.get(key), entry, method);
      if (kept !== null) tree.statics.set(key, kept);
      return;
    }
    tree.dynamic = true;
    let node = tree.root;
    for (const seg of segments) node = child(node, seg);
    if (tail === null) {
      node.entry = keep(node.entry ?? undefined, entry, method) ?? node.entry;
      return;
    }
    const i = node.tails.findIndex((t) => t.key === tail.key);
    const kept = keep(i === -1 ? undefined : node.tails[i].entry, entry, method);
    if (kept === null) return;
    if (i === -1) node.tails.push({ ...tail, entry: kept });
    else node.tails[i] = { ...tail, entry: kept };
  }
}

/**
 * Merges a new entry into what a method and path already lead to. An explicit route beats a
 * GET's implicit HEAD; conditioned routes are added in order (the same conditions twice is a
 * duplicate); two routes without conditions are a duplicate.
 */
function keep<H>(existing: Entry<H> | undefined, entry: Entry<H>, method: string): Entry<H> | null {
  if (existing === undefined) return withVary(entry);
  if (entry.conditioned !== null) {
    const added = entry.conditioned[0];
    const list = existing.conditioned ?? [];
    const same = list.findIndex(
      (c) =>
        c.route.conditions?.key != null && c.route.conditions.key === added.route.conditions?.key,
    );
    if (same !== -1) {
      if (list[same].implicit && !added.implicit) list[same] = added;
      else if (!added.implicit) duplicate(added.route, list[same].route, method);
      return existing;
    }
    existing.conditioned = [...list, added];
    return withVary(existing);
  }
  if (existing.route === null) {
    existing.route = entry.route;
    existing.implicit = entry.implicit;
    return existing;
  }
  if (existing.implicit && !entry.implicit) {
    existing.route = entry.route;
    existing.implicit = false;
    return existing;
  }
  if (entry.implicit) return null;
  return duplicate(entry.route as Route<H>, existing.route, method);
}

function duplicate<H>(route: Route<H>, other: Route<H>, method: string): never {
  throw new RococoError(
    'ROCOCO_ROUTE_DUPLICATE',
    `${route.origin}: ${method} ${route.pattern.source} is already declared by ${other.origin}`,
  );
}

function withVary<H>(entry: Entry<H>): Entry<H> {
  const names = new Set<string>();
  for (const c of entry.conditioned ?? [])
    for (const n of c.route.conditions?.vary ?? []) names.add(n);
  entry.vary = names.size === 0 ? null : [...names].join(', ');
  return entry;
}

/** Asked by allowed(): any route of the path counts, whatever its conditions. */
const ANY = Symbol('any') as unknown as IncomingMessage;

/** The first conditioned route whose conditions hold, else the route without conditions. */
function choose<H>(entry: Entry<H>, req: IncomingMessage | undefined): Route<H> | null {
  for (const c of entry.conditioned as { route: Route<H> }[]) {
    if (req === ANY || (req !== undefined && (c.route.conditions as CompiledConditions).test(req)))
      return c.route;
  }
  return entry.route;
}

function child<H>(node: Node<H>, seg: Segment): Node<H> {
  if (seg.kind === 'static') {
    if (node.statics === null) node.statics = new Map();
    let next = node.statics.get(seg.text);
    if (next === undefined) node.statics.set(seg.text, (next = new Node()));
    return next;
  }
  if (seg.kind === 'param') return (node.param ??= new Node());
  let edge = node.patterns.find((p) => p.key === seg.key);
  if (edge === undefined)
    node.patterns.push(
      (edge = {
        regex: seg.regex,
        whole: seg.whole,
        key: seg.key,
        converters: seg.converters,
        node: new Node(),
      }),
    );
  return edge.node;
}

/**
 * Matches the segment starting at `i` and, depth first, the rest; backtracks to the next kind
 * of edge when a subtree fails. `values` collects parameter values in capture order.
 */
function walk<H>(
  node: Node<H>,
  path: string,
  i: number,
  values: string[],
  pct: boolean,
): Entry<H> | null {
  let j = path.indexOf('/', i);
  const last = j === -1;
  if (last) j = path.length;
  const raw = path.slice(i, j);
  const seg = pct ? decodeURIComponent(raw) : raw;
  const mark = values.length;

  if (node.statics !== null) {
    const next = node.statics.get(seg);
    if (next !== undefined) {
      const found = last ? next.entry : walk(next, path, j + 1, values, pct);
      if (found !== null) return found;
    }
  }
  for (const edge of node.patterns) {
    if (edge.whole) {
      if (!edge.regex.test(seg)) continue;
      values.push(seg);
    } else {
      const m = edge.regex.exec(seg);
      if (m === null) continue;
      for (let k = 1; k < m.length; k++) values.push(m[k]);
    }
    if (!converted(edge.converters, values, mark)) {
      values.length = mark;
      continue;
    }
    const found = last ? edge.node.entry : walk(edge.node, path, j + 1, values, pct);
    if (found !== null) return found;
    values.length = mark;
  }
  if (node.param !== null && seg !== '') {
    values.push(seg);
    const found = last ? node.param.entry : walk(node.param, path, j + 1, values, pct);
    if (found !== null) return found;
    values.length = mark;
  }
  if (node.tails.length > 0) {
    const rest = pct ? decodeURIComponent(path.slice(i)) : path.slice(i);
    for (const tail of node.tails) {
      const m = tail.regex.exec(rest);
      if (m === null) continue;
      for (let k = 1; k < m.length; k++) values.push(m[k]);
      if (converted(tail.converters, values, mark)) return tail.entry;
      values.length = mark;
    }
  }
  return null;
}

function queryString(query: QueryInit): string {
  let qs: string;
  if (query instanceof URLSearchParams) {
    qs = query.toString();
  } else {
    const sp = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined || v === null) continue;
      if (Array.isArray(v)) for (const item of v) sp.append(k, String(item));
      else sp.append(k, String(v));
    }
    qs = sp.toString();
  }
  return qs === '' ? '' : '?' + qs;
}

function suggest(name: string, known: string[]): string {
  const close = known.filter(
    (k) => k.endsWith('.' + name) || k.split('.').pop() === name.split('.').pop(),
  );
  return close.length ? ` (did you mean ${close.map((k) => `'${k}'`).join(' or ')}?)` : '';
}
