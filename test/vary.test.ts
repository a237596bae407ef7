import { appendVary } from '../src/core/vary';

/** The cases of fastify-cors's test/vary.test.js and the `vary` package that apply. */
describe('appendVary', () => {
  test.each([
    [undefined, 'Origin', 'Origin'],
    ['', 'Accept-Encoding', 'Accept-Encoding'],
    ['Accept-Encoding', 'Origin', 'Accept-Encoding, Origin'],
    [['Accept-Encoding', 'Accept'], 'Origin', 'Accept-Encoding, Accept, Origin'],
    ['Accept-Encoding,,  Accept', 'Origin', 'Accept-Encoding, Accept, Origin'],
    ['origin', 'Origin', 'origin'],
    [
      'Origin, Accept',
      'Access-Control-Request-Headers',
      'Origin, Accept, Access-Control-Request-Headers',
    ],
    ['*', 'Origin', '*'],
    ['Accept', '*', '*'],
    ['X-Foo-Bar', 'X-Foo', 'X-Foo-Bar, X-Foo'],
    [
      'Accept',
      'Origin, Access-Control-Request-Headers',
      'Accept, Origin, Access-Control-Request-Headers',
    ],
  ])('%j + %j = %j', (value, add, out) => {
    expect(appendVary(value, add)).toBe(out);
  });
});
