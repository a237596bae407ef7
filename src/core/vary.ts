/**
 * `value` (a `Vary` header, or none) with the field names of `add` appended, each once
 * whatever its case; `*` absorbs everything. For responses that depend on one more request
 * header (CORS on `Origin`, compression on `Accept-Encoding`), without dropping what an earlier
 * step said (the `vary` package's rule).
 *
 * @example
 * appendVary('Accept-Encoding', 'Origin') // 'Accept-Encoding, Origin'
 * appendVary(undefined, 'Origin')         // 'Origin'
 */
export function appendVary(value: string | string[] | undefined, add: string): string {
  if (value === undefined || value === '') return add;
  const current = Array.isArray(value) ? value.join(', ') : value;
  if (current.trim() === '*') return '*';
  const names = fieldNames(current);
  const seen = new Set(names.map((n) => n.toLowerCase()));
  for (const name of fieldNames(add)) {
    if (name === '*') return '*';
    if (seen.has(name.toLowerCase())) continue;
    seen.add(name.toLowerCase());
    names.push(name);
  }
  return names.join(', ');
}

function fieldNames(list: string): string[] {
  const out: string[] = [];
  for (const part of list.split(',')) {
    const name = part.trim();
    if (name !== '') out.push(name);
  }
  return out;
}
