import { randomBytes } from 'node:crypto';
import {
  Controller,
  createApp,
  csrf,
  EncryptedCookieStorage,
  Post,
  sessions,
  WebSocket,
  websockets,
  type Plugin,
  type WebSocketConnection,
} from '../src';
import { testClient, WebSocketRefused, type TestClient } from '../src/testing';

const KEY = randomBytes(32).toString('base64');
const PARTNER = 'https://partner.example';

@Controller()
class OriginsController {
  @Post('/items')
  add() {
    return { added: true };
  }

  @WebSocket('/live')
  async live(ws: WebSocketConnection) {
    await ws.sendJson({ hello: true });
  }
}

/** A plugin of the test's own that vouches for one origin, on the routes under /items and /live. */
const vouch: Plugin = {
  name: 'vouch',
  setup(app) {
    app.origins.add((origin, req) => origin === PARTNER && req.route !== null);
  },
};

describe('app.origins: one list of trusted origins for CSRF and WebSockets', () => {
  let client: TestClient;
  beforeAll(async () => {
    client = await testClient(
      createApp({
        controllers: [OriginsController],
        middlewares: [sessions(new EncryptedCookieStorage(KEY)), csrf()],
        plugins: [websockets(), vouch],
      }),
    );
  });
  afterAll(() => client.close());

  const cross = (origin: string) => ({
    json: { name: 'x' },
    headers: { origin, 'sec-fetch-site': 'cross-site' },
  });

  test('CSRF: a JSON POST from an origin a plugin trusts passes; from another, 403', async () => {
    expect((await client.post('/items', cross(PARTNER))).status).toBe(200);
    expect((await client.post('/items', cross('https://evil.example'))).status).toBe(403);
  });

  test('WebSocket: a handshake from a trusted origin opens; from another, 403', async () => {
    const ws = await client.ws('/live', { headers: { origin: PARTNER } });
    expect(await ws.nextJson()).toEqual({ hello: true });
    await ws.closed;
    const refused = await client.ws('/live', { headers: { origin: 'https://evil.example' } }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(WebSocketRefused);
    expect((refused as WebSocketRefused).status).toBe(403);
  });

  test('without a plugin adding to it, nothing foreign is trusted', async () => {
    const plain = await testClient(
      createApp({
        controllers: [OriginsController],
        middlewares: [sessions(new EncryptedCookieStorage(KEY)), csrf()],
        plugins: [websockets()],
      }),
    );
    try {
      expect((await plain.post('/items', cross(PARTNER))).status).toBe(403);
      const e = await plain.ws('/live', { headers: { origin: PARTNER } }).catch((x: unknown) => x);
      expect((e as WebSocketRefused).status).toBe(403);
    } finally {
      await plain.close();
    }
  });

  test('a check that is not a function is refused at once', () => {
    const app = createApp({ controllers: [] });
    expect(() => app.origins.add('https://x.example' as never)).toThrow(TypeError);
  });
});
