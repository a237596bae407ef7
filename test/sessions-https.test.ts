import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request, createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import {
  Controller,
  createApp,
  EncryptedCookieStorage,
  Get,
  getSession,
  sessions,
  type Application,
  type Request,
} from '../src';
import { testClient } from '../src/testing';

/**
 * `secure: 'auto'`: the session cookie is `Secure` when the request came over TLS, and not over
 * plain HTTP (where a browser would drop a Secure cookie). A real TLS server with a certificate
 * made here by openssl.
 */

@Controller('')
class VisitController {
  @Get('/visit')
  async visit(req: Request) {
    const session = await getSession(req);
    session.set('seen', true);
    return { protocol: req.protocol };
  }
}

const KEY = randomBytes(32).toString('base64');
const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!hasOpenssl)
  console.warn('sessions-https: skipped, openssl is not installed (it makes the test certificate)');

function makeApp(secure?: boolean | 'auto'): Application {
  return createApp({
    controllers: [VisitController],
    middlewares: [
      sessions(new EncryptedCookieStorage(KEY, secure === undefined ? {} : { secure })),
    ],
  });
}

(hasOpenssl ? describe : describe.skip)('session cookie over https', () => {
  let dir: string;
  let tls: { key: Buffer; cert: Buffer };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rococo-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    tls = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function overHttps(app: Application): Promise<{ body: string; cookie: string }> {
    const server: Server = createServer(tls, app.handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      return await new Promise((resolve, reject) => {
        request({ host: '127.0.0.1', port, path: '/visit', rejectUnauthorized: false }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () =>
            resolve({ body, cookie: (res.headers['set-cookie'] ?? []).join('\n') }),
          );
        })
          .on('error', reject)
          .end();
      });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  }

  test("'auto' marks the cookie Secure over TLS", async () => {
    const { body, cookie } = await overHttps(makeApp());
    expect(JSON.parse(body)).toEqual({ protocol: 'https' });
    expect(cookie).toMatch(/^rococo_session=[A-Za-z0-9_-]+;/);
    expect(cookie).toMatch(/; Secure/);
    expect(cookie).toMatch(/; HttpOnly/);
  });

  test("'auto' leaves it off over plain HTTP", async () => {
    const client = await testClient(makeApp());
    try {
      const res = await client.get('/visit');
      expect(await res.json()).toEqual({ protocol: 'http' });
      const cookie = res.headers.get('set-cookie') ?? '';
      expect(cookie).toMatch(/^rococo_session=/);
      expect(cookie).not.toMatch(/Secure/);
    } finally {
      await client.close();
    }
  });

  test('secure: true marks it Secure even over plain HTTP (behind a TLS proxy)', async () => {
    const client = await testClient(makeApp(true));
    try {
      const res = await client.get('/visit');
      expect(res.headers.get('set-cookie')).toMatch(/; Secure/);
    } finally {
      await client.close();
    }
  });
});
