/**
 * A query built with the {@link sql} tag: text with `$n` placeholders and the values that go
 * with them. Values are never spliced into the text; fragments (another `sql`, `sql.ident`,
 * `sql.join`) are, with their own values renumbered.
 */
export class SqlQuery {
  /** @internal Text runs around the values: `chunks.length === values.length + 1`. */
  readonly chunks: readonly string[];
  readonly values: readonly unknown[];
  private _text: string | undefined = undefined;

  /** @internal Use the {@link sql} tag. */
  constructor(chunks: readonly string[], values: readonly unknown[]) {
    this.chunks = chunks;
    this.values = values;
  }

  /** The text sent to PostgreSQL, with `$1`, `$2`... */
  get text(): string {
    if (this._text === undefined) {
      let t = this.chunks[0];
      for (let i = 1; i < this.chunks.length; i++) t += '$' + i + this.chunks[i];
      this._text = t;
    }
    return this._text;
  }
}

/**
 * Builds a {@link SqlQuery} from a template literal: each `${value}` becomes a parameter,
 * each `${sql`...`}` fragment is inlined.
 *
 * @example
 * const project = await db.one<Project>(sql`SELECT * FROM projects WHERE id = ${id}`);
 * const cols = sql.join([sql.ident('name'), sql.ident('slug')]);
 * await db.query(sql`SELECT ${cols} FROM ${sql.ident('public', 'projects')} WHERE slug = ANY(${slugs})`);
 */
export function sql(strings: TemplateStringsArray, ...values: unknown[]): SqlQuery {
  const chunks: string[] = [strings[0]];
  const params: unknown[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v instanceof SqlQuery) {
      chunks[chunks.length - 1] += v.chunks[0];
      for (let k = 0; k < v.values.length; k++) {
        params.push(v.values[k]);
        chunks.push(v.chunks[k + 1]);
      }
      chunks[chunks.length - 1] += strings[i + 1];
    } else {
      if (v === undefined) {
        throw new TypeError(`sql: value ${i + 1} is undefined (use null for SQL NULL)`);
      }
      params.push(v);
      chunks.push(strings[i + 1]);
    }
  }
  return new SqlQuery(chunks, params);
}

/** A quoted identifier: `sql.ident('projects')`, `sql.ident('public', 'projects')`. */
sql.ident = (...names: string[]): SqlQuery => {
  if (names.length === 0) throw new TypeError('sql.ident needs a name');
  // As pg's escapeIdentifier: double the quotes inside, quote the whole.
  return new SqlQuery([names.map((n) => '"' + n.replace(/"/g, '""') + '"').join('.')], []);
};

/**
 * Joins values or fragments with a separator (`, ` by default): values become parameters.
 *
 * @example
 * sql`INSERT INTO t (a, b) VALUES (${sql.join([1, 'x'])})`
 */
sql.join = (items: readonly unknown[], separator: SqlQuery = sql`, `): SqlQuery => {
  if (items.length === 0) throw new TypeError('sql.join needs at least one item');
  const strings: string[] = [''];
  const values: unknown[] = [];
  items.forEach((item, i) => {
    if (i > 0) {
      values.push(separator);
      strings.push('');
    }
    values.push(item);
    strings.push('');
  });
  return sql(Object.assign(strings, { raw: strings }) as TemplateStringsArray, ...values);
};

/**
 * Text spliced as is: only for SQL you wrote yourself, never for input.
 *
 * @example
 * sql`SELECT * FROM projects ORDER BY ${sql.unsafe(descending ? 'id DESC' : 'id')}`
 */
sql.unsafe = (text: string): SqlQuery => new SqlQuery([text], []);
