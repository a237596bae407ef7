'use strict';
import {
  immutableSettings,
  settingsFromEnv,
  toBool,
  RococoError,
  createApp,
  Controller,
  Get,
  type Request,
} from '../src';
import { testClient } from '../src/testing';

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('did not throw');
}

describe('immutableSettings', () => {
  const defaults = () => ({
    DEBUG: false,
    LOCALE: 'uk_UA',
    PORT: 8080,
    DB: { host: 'localhost', pool: { min: 1, max: 5 } },
    HOSTS: ['a', 'b'],
    MATRIX: [[1, 2], [3]],
    NOTHING: null as string | null,
  });

  test('returns a deep copy with the overrides applied', () => {
    const s = immutableSettings(defaults(), { DEBUG: true, PORT: 9000 });
    expect(s).toEqual({
      DEBUG: true,
      LOCALE: 'uk_UA',
      PORT: 9000,
      DB: { host: 'localhost', pool: { min: 1, max: 5 } },
      HOSTS: ['a', 'b'],
      MATRIX: [[1, 2], [3]],
      NOTHING: null,
    });
  });

  test('no overrides: an equal copy', () => {
    const d = defaults();
    const s = immutableSettings(d);
    expect(s).toEqual(d);
    expect(s).not.toBe(d);
  });

  test('is frozen all the way down', () => {
    const s = immutableSettings(defaults());
    expect(Object.isFrozen(s)).toBe(true);
    expect(Object.isFrozen(s.DB)).toBe(true);
    expect(Object.isFrozen(s.DB.pool)).toBe(true);
    expect(Object.isFrozen(s.HOSTS)).toBe(true);
    expect(Object.isFrozen(s.MATRIX)).toBe(true);
    expect(Object.isFrozen(s.MATRIX[0])).toBe(true);
  });

  test('assignment throws in strict mode, at every depth', () => {
    const s = immutableSettings(defaults()) as any;
    expect(() => {
      s.DEBUG = true;
    }).toThrow(TypeError);
    expect(() => {
      s.NEW_KEY = 1;
    }).toThrow(TypeError);
    expect(() => {
      delete s.LOCALE;
    }).toThrow(TypeError);
    expect(() => {
      s.DB.host = 'evil';
    }).toThrow(TypeError);
    expect(() => {
      s.DB.pool.max = 100;
    }).toThrow(TypeError);
    expect(() => {
      s.HOSTS.push('c');
    }).toThrow(TypeError);
    expect(() => {
      s.HOSTS[0] = 'z';
    }).toThrow(TypeError);
    expect(() => {
      s.MATRIX[0][0] = 9;
    }).toThrow(TypeError);
    expect(s.DEBUG).toBe(false);
    expect(s.DB).toEqual({ host: 'localhost', pool: { min: 1, max: 5 } });
    expect(s.HOSTS).toEqual(['a', 'b']);
  });

  test("the caller's defaults and overrides are neither frozen nor shared", () => {
    const d = defaults();
    const overrides = { DB: { host: 'db', pool: { min: 2, max: 3 } }, HOSTS: ['x'] };
    const s = immutableSettings(d, overrides);
    expect(Object.isFrozen(d)).toBe(false);
    expect(Object.isFrozen(d.DB)).toBe(false);
    expect(Object.isFrozen(d.DB.pool)).toBe(false);
    expect(Object.isFrozen(d.HOSTS)).toBe(false);
    expect(Object.isFrozen(overrides.DB)).toBe(false);
    expect(Object.isFrozen(overrides.HOSTS)).toBe(false);
    expect(s.DB).not.toBe(overrides.DB);
    d.DB.pool.max = 50;
    d.HOSTS.push('c');
    overrides.HOSTS.push('y');
    expect(s.DB).toEqual({ host: 'db', pool: { min: 2, max: 3 } });
    expect(s.HOSTS).toEqual(['x']);
    const again = immutableSettings(d);
    expect(again.DB.pool.max).toBe(50);
  });

  test('an override of an unknown key throws a RococoError naming it', () => {
    const err = thrown(() => immutableSettings(defaults(), { DEUBG: true } as never));
    expect(err).toBeInstanceOf(RococoError);
    expect((err as RococoError).code).toBe('ROCOCO_SETTINGS');
    expect(err.message).toContain("'DEUBG'");
  });

  test('the app and its requests see the same frozen settings', async () => {
    @Controller()
    class C {
      @Get('/')
      index(req: Request) {
        return {
          locale: req.settings.LOCALE,
          frozen: Object.isFrozen(req.settings),
          same: req.settings === req.app.settings,
        };
      }
    }
    const client = await testClient(
      createApp({ controllers: [C], settings: immutableSettings({ LOCALE: 'uk_UA' }) }),
    );
    try {
      expect(await (await client.get('/')).json()).toEqual({
        locale: 'uk_UA',
        frozen: true,
        same: true,
      });
    } finally {
      await client.close();
    }
  });
});

describe('toBool', () => {
  const TRUE = ['1', 'true', 'yes', 'on', 'y', 't'];
  const FALSE = ['0', 'false', 'no', 'off', 'n', 'f', ''];
  const cases = (words: string[]) =>
    words.flatMap((w) => [w, w.toUpperCase(), w.charAt(0).toUpperCase() + w.slice(1)]);

  test.each(cases(TRUE))('%p is true', (v) => {
    expect(toBool(v)).toBe(true);
  });

  test.each(cases(FALSE))('%p is false', (v) => {
    expect(toBool(v)).toBe(false);
  });

  test('mixed case', () => {
    expect(toBool('TrUe')).toBe(true);
    expect(toBool('oFf')).toBe(false);
    expect(toBool('yEs')).toBe(true);
  });

  test.each(['2', 'maybe', 'tru', 'yess', 'nope', '-1', 'null', 'undefined', 'enabled'])(
    '%p throws',
    (v) => {
      expect(() => toBool(v)).toThrow(v);
    },
  );
});

describe('settingsFromEnv', () => {
  const defaults = () => ({
    DEBUG: false,
    VERBOSE: true,
    PORT: 8080,
    RATIO: 0.5,
    NAME: 'rococo',
    DB: { host: 'localhost', port: 5432 },
    HOSTS: ['a'],
  });

  test('without variables: the defaults, deep-frozen', () => {
    const s = settingsFromEnv(defaults(), {});
    expect(s).toEqual(defaults());
    expect(Object.isFrozen(s)).toBe(true);
    expect(Object.isFrozen(s.DB)).toBe(true);
    expect(Object.isFrozen(s.HOSTS)).toBe(true);
  });

  test("each variable is coerced to its default's type", () => {
    const s = settingsFromEnv(defaults(), {
      DEBUG: 'Yes',
      VERBOSE: 'off',
      PORT: '9000',
      RATIO: '0.25',
      NAME: ' spaced 42 ',
      DB: '{"host":"db","port":6543}',
      HOSTS: '["x","y"]',
      UNRELATED: 'ignored',
    });
    expect(s).toEqual({
      DEBUG: true,
      VERBOSE: false,
      PORT: 9000,
      RATIO: 0.25,
      NAME: ' spaced 42 ',
      DB: { host: 'db', port: 6543 },
      HOSTS: ['x', 'y'],
    });
    expect(Object.isFrozen(s.DB)).toBe(true);
    expect(Object.isFrozen(s.HOSTS)).toBe(true);
    expect(s).not.toHaveProperty('UNRELATED');
  });

  test('an empty boolean variable is false; a string is kept as is, even empty', () => {
    const s = settingsFromEnv({ DEBUG: true, NAME: 'x' }, { DEBUG: '', NAME: '' });
    expect(s).toEqual({ DEBUG: false, NAME: '' });
  });

  test.each(['1', 'true', 'YES', 'On', 'y', 'T'])('boolean %p is true', (v) => {
    expect(settingsFromEnv({ DEBUG: false }, { DEBUG: v }).DEBUG).toBe(true);
  });

  test.each(['0', 'FALSE', 'no', 'Off', 'N', 'f', ''])('boolean %p is false', (v) => {
    expect(settingsFromEnv({ DEBUG: true }, { DEBUG: v }).DEBUG).toBe(false);
  });

  test('a boolean that is not one throws, naming the variable', () => {
    const err = thrown(() => settingsFromEnv(defaults(), { DEBUG: 'maybe' }));
    expect(err).toBeInstanceOf(RococoError);
    expect((err as RococoError).code).toBe('ROCOCO_SETTINGS');
    expect(err.message).toContain('DEBUG');
    expect(err.message).toContain('maybe');
  });

  test.each(['abc', '', '12abc', 'NaN'])(
    'a number %p that is not one throws, naming the variable',
    (v) => {
      const err = thrown(() => settingsFromEnv(defaults(), { PORT: v }));
      expect(err).toBeInstanceOf(RococoError);
      expect(err.message).toContain('PORT');
    },
  );

  test.each([
    ['DB', '{host: db}'],
    ['DB', '{"host":'],
    ['HOSTS', '[a, b]'],
    ['HOSTS', ''],
  ])('bad JSON for %s (%p) throws, naming the variable', (key, v) => {
    const err = thrown(() => settingsFromEnv(defaults(), { [key]: v }));
    expect(err).toBeInstanceOf(RococoError);
    expect(err.message).toContain(key);
  });

  test('JSON of the wrong shape (an array for an object, an object for an array) throws', () => {
    expect(() => settingsFromEnv(defaults(), { DB: '["x"]' })).toThrow(/DB/);
    expect(() => settingsFromEnv(defaults(), { HOSTS: '{"a":1}' })).toThrow(/HOSTS/);
    expect(() => settingsFromEnv(defaults(), { DB: '42' })).toThrow(/DB/);
  });

  test('the prefix is honored: only prefixed variables are read', () => {
    const s = settingsFromEnv(
      defaults(),
      { DEBUG: 'true', PORT: '1', APP_PORT: '9999', APP_NAME: 'prefixed', APP_DEBUG: 'no' },
      { prefix: 'APP_' },
    );
    expect(s.PORT).toBe(9999);
    expect(s.NAME).toBe('prefixed');
    expect(s.DEBUG).toBe(false);
    expect(s.HOSTS).toEqual(['a']);
  });

  test('with a prefix the error names the prefixed variable', () => {
    const err = thrown(() =>
      settingsFromEnv(defaults(), { APP_PORT: 'eighty' }, { prefix: 'APP_' }),
    );
    expect(err.message).toContain('APP_PORT');
  });

  test('reads process.env by default', () => {
    const key = 'ROCOCO_TEST_SETTING_' + process.pid;
    process.env[key] = '77';
    try {
      expect(settingsFromEnv({ [key]: 1 })[key]).toBe(77);
    } finally {
      delete process.env[key];
    }
  });

  test("the caller's defaults are not frozen", () => {
    const d = defaults();
    settingsFromEnv(d, { PORT: '1' });
    expect(Object.isFrozen(d)).toBe(false);
    expect(Object.isFrozen(d.DB)).toBe(false);
    expect(d.PORT).toBe(8080);
  });
});
