/**
 * Route parameter converters, through real HTTP: `<id:int>` and the other built-ins match only
 * what they accept (anything else is a 404, however long or odd), an app's own converters,
 * `url()` formatting through them, and the mistakes createApp refuses.
 */
import {
  Controller,
  createApp,
  Get,
  intConverter,
  type Application,
  type Converter,
  type Request,
} from '../src';
import { testClient, type TestClient } from '../src/testing';

const clients: TestClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

const day: Converter<string> = {
  regex: '\\d{4}-\\d{2}-\\d{2}',
  parse: (text) => (Number.isNaN(Date.parse(`${text}T00:00:00Z`)) ? undefined : text),
  format: (value) => value,
  schema: { type: 'string', format: 'date' },
};

@Controller('', { name: 'c' })
class Converted {
  @Get('/int/<id:int>', { name: 'int' }) int(req: Request) {
    return { id: req.params.id };
  }
  @Get('/float/<x:float>', { name: 'float' }) float(req: Request) {
    return { x: req.params.x };
  }
  @Get('/uuid/<key:uuid>', { name: 'uuid' }) uuid(req: Request) {
    return { key: req.params.key };
  }
  @Get('/slug/<s:slug>', { name: 'slug' }) slug(req: Request) {
    return { s: req.params.s };
  }
  @Get('/files/<p:path>', { name: 'path' }) path(req: Request) {
    return { p: req.params.p };
  }
  @Get('/id/<id:id>', { name: 'id' }) id(req: Request) {
    return { id: req.params.id };
  }
  @Get('/signed/<n:signed>', { name: 'signed' }) signed(req: Request) {
    return { n: req.params.n };
  }
  @Get('/day/<d:day>', { name: 'day' }) day(req: Request) {
    return { d: req.params.d };
  }
  @Get('/pair/<a:int>-<b:int>', { name: 'pair' }) pair(req: Request) {
    return { a: req.params.a, b: req.params.b };
  }
  // Falls through: an id the converter refuses is tried against the next route.
  @Get('/either/<id:id>', { name: 'either_id' }) eitherId() {
    return { which: 'id' };
  }
  @Get('/either/<name>', { name: 'either_name' }) eitherName() {
    return { which: 'name' };
  }
}

let app: Application;
let client: TestClient;

beforeEach(async () => {
  app = createApp({
    controllers: [Converted],
    converters: {
      id: intConverter({ min: 1, max: 2 ** 31 - 1 }),
      signed: intConverter({ min: -5, max: 5 }),
      day,
    },
  });
  client = await testClient(app);
  clients.push(client);
});

async function status(path: string): Promise<number> {
  const res = await client.get(path);
  await res.arrayBuffer();
  return res.status;
}

describe('built-in converters', () => {
  it('int takes whole numbers up to Number.MAX_SAFE_INTEGER; anything else is a 404', async () => {
    expect(await (await client.get('/int/42')).json()).toEqual({ id: '42' });
    expect(await status('/int/0')).toBe(200);
    expect(await status('/int/9007199254740991')).toBe(200);
    for (const bad of [
      '9007199254740992',
      '123456789012345678901234567890123456789',
      '9'.repeat(5000),
      '-1',
      '1e3',
      '0x10',
      '1.5',
      '%2B1',
      '%201',
      '1%20',
      'abc',
      '',
    ]) {
      expect({ bad: bad.slice(0, 40), status: await status(`/int/${bad}`) }).toEqual({
        bad: bad.slice(0, 40),
        status: 404,
      });
    }
  });

  it('float, uuid, slug and path', async () => {
    expect(await status('/float/1.5')).toBe(200);
    expect(await status('/float/2')).toBe(200);
    expect(await status('/float/' + '9'.repeat(400))).toBe(404); // Infinity
    expect(await status('/float/1.')).toBe(404);
    expect(await status('/float/NaN')).toBe(404);
    expect(await status('/uuid/0f8fad5b-d9cb-469f-a165-70867728950e')).toBe(200);
    expect(await status('/uuid/0F8FAD5B-D9CB-469F-A165-70867728950E')).toBe(200);
    expect(await status('/uuid/0f8fad5b-d9cb-469f-a165-70867728950')).toBe(404);
    expect(await status('/slug/hello-world_2')).toBe(200);
    expect(await status('/slug/hello%20world')).toBe(404);
    expect(await (await client.get('/files/a/b/c.txt')).json()).toEqual({ p: 'a/b/c.txt' });
  });

  it('several converters in one segment are each checked', async () => {
    expect(await (await client.get('/pair/3-4')).json()).toEqual({ a: '3', b: '4' });
    expect(await status('/pair/3-99999999999999999')).toBe(404);
  });
});

describe("an app's own converters", () => {
  it('a bounded int: an id too large for its column is a 404, never reaching the handler', async () => {
    expect(await status('/id/1')).toBe(200);
    expect(await status('/id/2147483647')).toBe(200);
    for (const bad of ['0', '2147483648', '99999999999', '-1', '00000000001234567']) {
      expect({ bad, status: await status(`/id/${bad}`) }).toEqual({ bad, status: 404 });
    }
    expect(await status('/signed/-5')).toBe(200);
    expect(await status('/signed/-6')).toBe(404);
    expect(await status('/signed/5')).toBe(200);
  });

  it('a converter with its own parse', async () => {
    expect(await status('/day/2026-12-06')).toBe(200);
    expect(await status('/day/2026-13-45')).toBe(404);
  });

  it('a value one route refuses is tried against the next', async () => {
    expect(await (await client.get('/either/7')).json()).toEqual({ which: 'id' });
    expect(await (await client.get('/either/99999999999')).json()).toEqual({ which: 'name' });
  });
});

describe('url() formats through the converter', () => {
  it('writes values and refuses those the route could not match', () => {
    expect(app.url('c.int', { id: 42 })).toBe('/int/42');
    expect(app.url('c.float', { x: 1.5 })).toBe('/float/1.5');
    expect(app.url('c.uuid', { key: '0F8FAD5B-D9CB-469F-A165-70867728950E' })).toBe(
      '/uuid/0f8fad5b-d9cb-469f-a165-70867728950e',
    );
    expect(app.url('c.path', { p: 'a/b c' })).toBe('/files/a/b%20c');
    expect(app.url('c.pair', { a: 1, b: 2 })).toBe('/pair/1-2');
    expect(() => app.url('c.int', { id: -1 })).toThrow(/is not a value of <id:int>/);
    expect(() => app.url('c.int', { id: 2 ** 53 })).toThrow(/is not a value of <id:int>/);
    expect(() => app.url('c.int', { id: 'abc' })).toThrow(/is not a value of <id:int>/);
    expect(() => app.url('c.id', { id: 2 ** 31 })).toThrow(/is not a value of <id:id>/);
    expect(() => app.url('c.float', { x: 1e21 })).toThrow(/is not a value of <x:float>/);
    expect(() => app.url('c.day', { d: '2026-13-45' })).toThrow(/does not match <d:day>/);
  });
});

describe('mistakes stop createApp', () => {
  const build = (converters: Record<string, unknown>, path = '/x/<v:int>') => {
    @Controller()
    class C {
      @Get(path) get() {
        return {};
      }
    }
    return () =>
      createApp({ controllers: [C], converters: converters as Record<string, Converter> });
  };

  it('names an unknown converter, suggesting the regex form for a literal word', () => {
    expect(build({}, '/x/<v:integer>')).toThrow(
      /'integer' of parameter 'v' is not a converter \(known: int, float, uuid, slug, path\); write a literal word as a regex, '\(\?:integer\)'/,
    );
  });

  it('refuses a bad converter', () => {
    expect(build({ int: intConverter() })).toThrow(/'int' is a built-in converter/);
    expect(build({ '1x': intConverter() })).toThrow(/'1x' is not a valid name/);
    expect(build({ x: { regex: '[', parse: String, format: String } })).toThrow(
      /'\[' is not a valid regex/,
    );
    expect(build({ x: { regex: 'a', parse: String } })).toThrow(
      /parse and format must be functions/,
    );
    expect(build({ x: { regex: 'a', parse: String, format: String, schmea: {} } })).toThrow(
      /unknown key 'schmea'/,
    );
    expect(() => intConverter({ min: 5, max: 1 })).toThrow(/min \(5\) is larger than max \(1\)/);
    expect(() => intConverter({ max: 2 ** 60 })).toThrow(/max must be a safe integer/);
  });
});
