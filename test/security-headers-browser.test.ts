import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { browserTest as browserTestFor, launchChromium } from './helpers/chromium';
import { Controller, createApp, Get, securityHeaders, Template, templates } from '../src';
import { testClient, type TestClient } from '../src/testing';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { DEMO, sampleClient } from './helpers/sample';

/**
 * The sample's pages and its /docs under the sample's Content-Security-Policy (no
 * 'unsafe-inline') in Debian's Chromium: home, login, a project's live page (its WebSocket
 * connects) and Swagger UI load with no console error and no `securitypolicyviolation` event.
 * And the policy is enforced: an inline script without the page's nonce does not run, one with
 * it does. Skipped without /usr/bin/chromium on a laptop, failing in CI.
 */

/** A host name Chromium resolves to the test server: no localhost exemption of any kind. */
const PUBLIC_HOST = 'rococo-csp.test';
const browserTest = browserTestFor('security-headers-browser.test.ts');

let db: TestDatabase | undefined;
let client: TestClient | undefined;
let browser: Browser | undefined;

afterAll(async () => {
  await browser?.close();
  await client?.close();
  await db?.drop();
});

async function launch(): Promise<Browser> {
  return (browser ??= await launchChromium([PUBLIC_HOST]));
}

/** The test server's URL under the public host name. */
function publicBase(c: TestClient): string {
  return c.url('').replace('127.0.0.1', PUBLIC_HOST).replace(/\/$/, '');
}

interface Problems {
  violations: string[];
  console: string[];
  pageErrors: string[];
  failed: string[];
}

/** A context whose pages report CSP violations (the DOM event), console errors and failed requests. */
async function watchedContext(
  b: Browser,
): Promise<{ context: BrowserContext; problems: Problems }> {
  const context = await b.newContext({ viewport: { width: 1100, height: 800 } });
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      const w = window as unknown as { __violations?: string[] };
      (w.__violations ??= []).push(
        `${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`,
      );
    });
  });
  return { context, problems: { violations: [], console: [], pageErrors: [], failed: [] } };
}

function watch(page: Page, problems: Problems): void {
  page.on('console', (m) => {
    if (m.type() === 'error' || /Content Security Policy/i.test(m.text()))
      problems.console.push(`${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => problems.pageErrors.push(e.message));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.failed.push(`${r.status()} ${r.url()}`);
  });
  page.on('requestfailed', (r) => problems.failed.push(`${r.failure()?.errorText} ${r.url()}`));
}

/** The violations the page saw since it loaded. */
async function violations(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __violations?: string[] }).__violations ?? []);
}

/** The violations, once there is one (the event is dispatched after the refusal). */
async function violationsOnceSome(page: Page): Promise<string[]> {
  await page.waitForFunction(
    () => ((window as unknown as { __violations?: string[] }).__violations ?? []).length > 0,
    undefined,
    { timeout: 5000 },
  );
  return violations(page);
}

browserTest(
  "the sample's pages and /docs run under its CSP with no violation and no console error",
  async () => {
    const b = await launch();
    db ??= await createTestDatabase();
    client ??= await sampleClient(db.url, {
      REDIS_PREFIX: `test-csp-browser-${randomBytes(6).toString('hex')}:`,
    });
    const base = publicBase(client);
    const { context, problems } = await watchedContext(b);
    const page = await context.newPage();
    watch(page, problems);
    const seen: string[] = [];
    const visit = async (path: string) => {
      const res = await page.goto(base + path, { waitUntil: 'networkidle' });
      expect(res?.status()).toBe(200);
      const csp = (await res?.headerValue('content-security-policy')) ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      return csp;
    };

    // Home, styled by its stylesheet (a style the CSP refused would leave the default white).
    await visit('/');
    expect(
      await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor),
    ).toBe('rgb(251, 248, 243)');
    seen.push(...(await violations(page)));

    // Log in through the form; the redirect lands on the projects.
    await visit('/login');
    seen.push(...(await violations(page)));
    await page.getByLabel('Email').fill(DEMO.email);
    await page.getByLabel('Password').fill(DEMO.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForLoadState('networkidle');
    expect(await page.locator('.account .whoami').textContent()).toBe(DEMO.name);
    seen.push(...(await violations(page)));

    // A project's live page: live.js runs and its WebSocket connects (connect-src 'self').
    await visit('/projects/2');
    await page
      .locator('[data-viewers]')
      .filter({ hasText: /^1 viewing$/ })
      .waitFor({ timeout: 5000 });
    seen.push(...(await violations(page)));

    // The new-project form: app.js suggests a slug (a script of the page that runs).
    await visit('/projects/new');
    await page.locator('#name').pressSequentially('Under a policy');
    expect(await page.locator('#slug').inputValue()).toBe('under-a-policy');
    seen.push(...(await violations(page)));

    // Swagger UI: its bundle, its stylesheet, the starter script and the document.
    await visit('/docs');
    await page.locator('.opblock-summary-description', { hasText: 'Delete a project' }).waitFor();
    await page.waitForLoadState('networkidle');
    expect(await page.locator('.opblock').count()).toBeGreaterThan(5);
    seen.push(...(await violations(page)));

    // The policy is enforced, and a violation would be seen: an inline script does not run.
    const ran = await page.evaluate(() => {
      const s = document.createElement('script');
      s.textContent = 'window.__inlineRan = true';
      document.body.append(s);
      return (window as unknown as { __inlineRan?: boolean }).__inlineRan === true;
    });
    expect(ran).toBe(false);
    expect(await violationsOnceSome(page)).toEqual([
      expect.stringMatching(/^script-src-elem inline/),
    ]);
    await context.close();

    expect({
      violations: seen,
      console: problems.console.filter((t) => !/inline script/i.test(t)),
      pageErrors: problems.pageErrors,
      failed: problems.failed,
    }).toEqual({ violations: [], console: [], pageErrors: [], failed: [] });
  },
  60_000,
);

@Controller('')
class NonceController {
  @Get('/')
  @Template('nonced.html')
  page() {
    return {};
  }
}

browserTest(
  "a page's inline script and style with {{ csp_nonce() }} run; without it they do not",
  async () => {
    const b = await launch();
    const dir = mkdtempSync(join(tmpdir(), 'rococo-csp-browser-'));
    writeFileSync(
      join(dir, 'nonced.html'),
      `<!doctype html><html><head><style nonce="{{ csp_nonce() }}">body { background: rgb(1, 2, 3) }</style></head><body>
<p id="a">no</p><p id="b">no</p>
<script nonce="{{ csp_nonce() }}">document.getElementById('a').textContent = 'yes';</script>
<script>document.getElementById('b').textContent = 'yes';</script>
</body></html>`,
    );
    const app = createApp({
      controllers: [NonceController],
      plugins: [
        securityHeaders({ contentSecurityPolicy: { directives: { styleSrc: ["'self'"] } } }),
        templates({ dir }),
      ],
    });
    const c = await testClient(app);
    const { context, problems } = await watchedContext(b);
    try {
      const page = await context.newPage();
      watch(page, problems);
      await page.goto(publicBase(c) + '/', { waitUntil: 'load' });
      expect(await page.locator('#a').textContent()).toBe('yes');
      expect(await page.locator('#b').textContent()).toBe('no');
      expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe(
        'rgb(1, 2, 3)',
      );
      expect(await violationsOnceSome(page)).toEqual([
        expect.stringMatching(/^script-src-elem inline/),
      ]);
    } finally {
      await context.close();
      await c.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
  30_000,
);
