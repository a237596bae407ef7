import fc from 'fast-check';
import { parse as secureParse } from 'secure-json-parse';
import { parseJson } from '../src/core/body';

/** What parseJson gave before its shortcut: secure-json-parse on every text. */
function reference(text: string): { value?: unknown; error?: string } {
  try {
    return {
      value: secureParse(text, undefined, { protoAction: 'error', constructorAction: 'error' }),
    };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

function actual(text: string): { value?: unknown; error?: string } {
  try {
    return { value: parseJson(text) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

// Keys and strings near the two names secure-json-parse looks for, plain and \u-escaped.
const word = fc.constantFrom(
  '__proto__',
  'constructor',
  'prototype',
  '\\u005f_proto__',
  'constructo\\u0072',
  '__proto',
  'construct',
  'a\\\\b',
  'x',
  '\\"',
  '',
);
const json: fc.Arbitrary<string> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.integer().map(String),
    word.map((w) => `"${w}"`),
    fc.constantFrom('true', 'null', '[]', '{}'),
    fc.array(tie('value') as fc.Arbitrary<string>, { maxLength: 3 }).map((a) => `[${a.join(',')}]`),
    fc
      .array(fc.tuple(word, tie('value') as fc.Arbitrary<string>, fc.constantFrom('', ' ', '\n')), {
        maxLength: 3,
      })
      .map((kv) => `{${kv.map(([k, v, s]) => `"${k}"${s}:${s}${v}`).join(',')}}`),
  ),
})).value;

describe('parseJson', () => {
  it("gives secure-json-parse's value, or its error, for every text", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          json,
          fc.string(),
          json.map((t) => '\uFEFF' + t),
          json.map((t) => t.slice(1)),
        ),
        (text) => {
          const want = reference(text);
          const got = actual(text);
          if (!/\S/.test(text)) return;
          if (want.error !== undefined)
            expect(got.error).toBe(`The request body is not valid JSON: ${want.error}`);
          else expect(got).toEqual(want);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
