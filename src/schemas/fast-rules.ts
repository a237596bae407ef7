/**
 * Faster equivalents of the class-validator rules a request body meets most (lengths, emails,
 * bounds): each gives class-validator's verdict, and is checked against the real rule at
 * startup on edge values; where they disagree (another validator.js version) the real rule is
 * kept.
 */

type Check = (value: unknown) => boolean;

/**
 * validator.js's isLength length: code units, less one per surrogate pair, less one per
 * variation selector (U+FE0E, U+FE0F) that follows a character other than one.
 */
export function validatorLength(s: string): number {
  let n = s.length;
  let previousSelector = true; // nothing precedes the first character
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800) {
      previousSelector = false;
      continue;
    }
    const selector = c === 0xfe0e || c === 0xfe0f;
    if (selector && !previousSelector) n--;
    previousSelector = selector;
    if (c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

// Addresses validator.js's isEmail (default options) accepts, whatever its other branches: ASCII
// local parts of atoms joined by single dots, host labels of letters, digits and inner hyphens
// (63 at most), a TLD of 2 to 63 letters; the lengths (254 in all, 64 before the @) checked
// beside. Anything else asks isEmail itself. The set of
// /^[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/
// read in one pass: that regular expression backtracks on every host label (~540 instructions
// for dev@example.com).

/** A string the scan above says validator.js's isEmail accepts without asking it. */
export function plainEmail(s: string): boolean {
  const n = s.length;
  if (n > 254) return false;
  let i = 0;
  let atom = 0;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    const l = c | 32;
    if ((l >= 97 && l <= 122) || (c >= 48 && c <= 57) || c === 95 || c === 43 || c === 45) atom++;
    else if (c === 46 && atom > 0) atom = 0;
    else break;
  }
  if (i > 64 || atom === 0 || i === n || s.charCodeAt(i) !== 64) return false;
  let labels = 0;
  for (let a = i + 1; ;) {
    let b = a;
    let letters = true;
    for (; b < n; b++) {
      const c = s.charCodeAt(b);
      const l = c | 32;
      if (l >= 97 && l <= 122) continue;
      if (c === 46) break;
      if ((c < 48 || c > 57) && c !== 45) return false;
      letters = false;
    }
    const length = b - a;
    if (b === n) return labels > 0 && letters && length >= 2 && length <= 63;
    if (length === 0 || length > 63 || s.charCodeAt(a) === 45 || s.charCodeAt(b - 1) === 45)
      return false;
    labels++;
    a = b + 1;
  }
}

const EMAIL_PROBES = [
  'dev@example.com',
  'Ada.Lovelace+tag_1-x@sub-domain.example.io',
  `${'a'.repeat(64)}@example.com`,
  `a@${'b'.repeat(63)}.com`,
  `${'a'.repeat(60)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(60)}.com`,
];

const noOptions = (o: unknown) =>
  o === undefined || (typeof o === 'object' && o !== null && Object.keys(o).length === 0);

const isBound = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n);

function lengthRule(min: number, max: number | undefined): { check: Check; probes: unknown[] } {
  const check: Check = (v) => {
    if (typeof v !== 'string') return false;
    // validatorLength(v) is at most v.length and at least a third of it (each unit it does not
    // count follows, by one or two, one it counts: a pair's high half, then a selector): most
    // strings are decided without reading them.
    const units = v.length;
    if (units < min) return false;
    if ((max === undefined || units <= max) && units >= 3 * min - 2) return true;
    const n = validatorLength(v);
    return n >= min && (max === undefined || n <= max);
  };
  const probes: unknown[] = [undefined, null, 3, ['a']];
  const units = ['a', '😀', 'a\uFE0F', '\uFE0F', 'a\uFE0F\uFE0F', '😀\uFE0F', '\uD800', '\uDC00'];
  for (const k of [
    0,
    1,
    2,
    min - 1,
    min,
    min + 1,
    ...(max === undefined ? [] : [max - 1, max, max + 1]),
  ])
    if (k >= 0 && k < 10_000)
      for (const u of units) probes.push(u.repeat(k), 'x' + u.repeat(k), u.repeat(k) + '\uFE0F');
  return { check, probes };
}

function rule(
  name: string,
  constraints: unknown[],
): { check: Check; probes: unknown[] } | undefined {
  const [a, b] = constraints;
  const numbers = [undefined, null, '1', NaN, Infinity, -Infinity, 0, -0];
  switch (name) {
    case 'isLength':
      // validator.js reads `min || 0`
      return (a === undefined || isBound(a)) && (b === undefined || isBound(b))
        ? lengthRule(a || 0, b)
        : undefined;
    case 'maxLength':
      return isBound(a) ? lengthRule(0, a) : undefined;
    case 'minLength':
      return a === undefined || isBound(a) ? lengthRule(a || 0, undefined) : undefined;
    case 'min':
      return isBound(a)
        ? { check: (v) => typeof v === 'number' && v >= a, probes: [...numbers, a - 1, a, a + 0.5] }
        : undefined;
    case 'max':
      return isBound(a)
        ? { check: (v) => typeof v === 'number' && v <= a, probes: [...numbers, a - 0.5, a, a + 1] }
        : undefined;
    default:
      return undefined;
  }
}

/**
 * A faster check with the verdicts of `real` (the rule class-validator runs), or undefined
 * where there is none or it disagrees with `real` on one of its probes.
 */
export function fastRule(name: string, constraints: unknown[], real: Check): Check | undefined {
  if (name === 'isEmail') {
    if (!noOptions(constraints[0]) || !EMAIL_PROBES.every((p) => plainEmail(p) && real(p)))
      return undefined;
    return (v) => typeof v === 'string' && (plainEmail(v) || real(v));
  }
  const found = rule(name, constraints);
  if (found === undefined) return undefined;
  return found.probes.every((p) => found.check(p) === real(p)) ? found.check : undefined;
}
