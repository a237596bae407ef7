/** What a query's span is named and tagged with, read from its text once. */
export interface Statement {
  /** `db.operation.name`: the first keyword, upper case (`SELECT`, `INSERT`, `BEGIN`). */
  readonly operation: string | undefined;
  /** `db.query.summary` and the span's name: `SELECT projects`, `BEGIN`, `postgresql`. */
  readonly summary: string;
}

/** Blanks and comments before the statement. */
const LEAD = /^\s*(?:(?:--[^\n]*\n|\/\*[\s\S]*?\*\/)\s*)*/;
const FIRST_WORD = /^[A-Za-z]+/;
const IDENT = String.raw`("(?:[^"]|"")+"|[A-Za-z_][\w$]*)(?:\.("(?:[^"]|"")+"|[A-Za-z_][\w$]*))?`;
// The table a plain statement works on; anything fancier (a subquery, a CTE) is named by its operation.
const TARGET: Record<string, RegExp> = {
  // The first FROM only: a later one is a subquery's.
  SELECT: new RegExp(String.raw`^(?:(?!\bFROM\b)[\s\S])*\bFROM\s+(?:ONLY\s+)?${IDENT}`, 'i'),
  DELETE: new RegExp(String.raw`^DELETE\s+FROM\s+(?:ONLY\s+)?${IDENT}`, 'i'),
  INSERT: new RegExp(String.raw`^INSERT\s+INTO\s+${IDENT}`, 'i'),
  UPDATE: new RegExp(String.raw`^UPDATE\s+(?:ONLY\s+)?${IDENT}`, 'i'),
};

// An app's statements are a few hundred texts with `$n` placeholders: read each once. A bound
// keeps an app that builds texts with values in them (it should not) from growing the cache.
const cache = new Map<string, Statement>();
const CACHE_LIMIT = 2000;

/**
 * A statement's operation and low-cardinality summary, as the database semantic conventions
 * name query spans (`{operation} {table}`); from a regex, not a parser: a statement it cannot
 * read is named by its operation, or `postgresql`.
 *
 * @example
 * statementOf('SELECT id, name FROM projects WHERE id = $1'); // { operation: 'SELECT', summary: 'SELECT projects' }
 */
export function statementOf(text: string): Statement {
  let s = cache.get(text);
  if (s !== undefined) return s;
  s = read(text);
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(text, s);
  return s;
}

function read(text: string): Statement {
  const body = text.slice((LEAD.exec(text) as RegExpExecArray)[0].length);
  const word = FIRST_WORD.exec(body)?.[0];
  if (word === undefined) return { operation: undefined, summary: 'postgresql' };
  const operation = word.toUpperCase();
  const target = TARGET[operation]?.exec(body);
  if (target == null) return { operation, summary: operation };
  const table =
    target[2] === undefined ? unquote(target[1]) : `${unquote(target[1])}.${unquote(target[2])}`;
  return { operation, summary: `${operation} ${table}` };
}

function unquote(name: string): string {
  return name.startsWith('"') ? name.slice(1, -1).replace(/""/g, '"') : name;
}
