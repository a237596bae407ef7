import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import { browserTest as browserTestFor, launchChromium } from './helpers/chromium';
import { createSampleApp } from '../sample/app';
import { sampleSettings } from './helpers/sample';
import { testClient, type TestClient } from '../src/testing';
import { createTestDatabase, type TestDatabase } from './helpers/database';

/**
 * The sample's `/docs` page (Swagger UI from swagger-ui-dist, served by the app) in Debian's
 * Chromium driven by playwright-core: it loads without a failed request, asks no other host for
 * anything, and shows the API. Skipped without /usr/bin/chromium on a laptop, failing in CI.
 */

const ARTIFACTS = join(__dirname, 'artifacts');
const SCREENSHOT = join(ARTIFACTS, 'docs.png');
/** A host name Chromium resolves to the test server: the page as a deployed site would see it. */
const PUBLIC_HOST = 'rococo-docs.test';
const browserTest = browserTestFor('docs-browser.test.ts');

const SUMMARIES = [
  'Where everything is',
  'All projects',
  'Add a project',
  'One project',
  'Change a project',
  'Delete a project',
];

let db: TestDatabase | undefined;
let client: TestClient | undefined;
let browser: Browser | undefined;

async function start(): Promise<{ client: TestClient; browser: Browser }> {
  if (client === undefined) {
    db = await createTestDatabase();
    client = await testClient(createSampleApp(sampleSettings(db.url)));
  }
  browser ??= await launchChromium([PUBLIC_HOST]);
  return { client, browser };
}

afterAll(async () => {
  await browser?.close();
  await client?.close();
  await db?.drop();
});

/** Records what a page asks for and what goes wrong; requests to any other host are cut off. */
async function watch(page: Page, base: string) {
  const requested: string[] = [];
  const elsewhere: string[] = [];
  const failed: string[] = [];
  const pageErrors: string[] = [];
  const consoleErrors: string[] = [];
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(base + '/')) return route.continue();
    elsewhere.push(url);
    return route.abort('blockedbyclient');
  });
  page.on('request', (r) => requested.push(r.url()));
  page.on('response', (r) => {
    if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
  });
  page.on('requestfailed', (r) => {
    if (r.url().startsWith(base + '/')) failed.push(`${r.failure()?.errorText} ${r.url()}`);
  });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  return { requested, elsewhere, failed, pageErrors, consoleErrors };
}

/** Opens /docs and waits for Swagger UI to have rendered every operation. */
async function openDocs(page: Page, base: string) {
  const res = await page.goto(`${base}/docs`, { waitUntil: 'networkidle' });
  expect(res?.status()).toBe(200);
  await page
    .locator('.opblock-summary-description', { hasText: SUMMARIES[SUMMARIES.length - 1] })
    .waitFor();
  await page.waitForLoadState('networkidle');
}

browserTest(
  'the /docs page loads from the app alone and shows the API; a screenshot is saved',
  async () => {
    const { client, browser } = await start();
    const base = client.url('');
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    try {
      const page = await context.newPage();
      const seen = await watch(page, base);
      await openDocs(page, base);

      expect(await page.title()).toBe('Rococo Tracker API · API');
      const title = page.locator('.info .title');
      expect(await title.evaluate((el) => el.firstChild?.textContent)).toBe('Rococo Tracker API');
      expect((await title.locator('.version').allTextContents()).map((t) => t.trim())).toEqual([
        '1.0.0',
        'OAS 3.1',
      ]);
      expect(await page.locator('.info .description').textContent()).toBe(
        'Projects of the rococo sample, as JSON.',
      );
      const api = page
        .locator('.opblock-tag-section')
        .filter({ has: page.locator('h3.opblock-tag[data-tag="api"]') });
      expect(await api.locator('.opblock-summary-description').allTextContents()).toEqual(
        SUMMARIES,
      );
      expect(await api.locator('.opblock-summary-method').allTextContents()).toEqual([
        'GET',
        'GET',
        'POST',
        'GET',
        'PUT',
        'DELETE',
      ]);
      expect(
        await api
          .locator('.opblock-summary-path')
          .evaluateAll((els) => els.map((e) => e.getAttribute('data-path'))),
      ).toEqual([
        '/api/',
        '/api/projects',
        '/api/projects',
        '/api/projects/{project_id}',
        '/api/projects/{project_id}',
        '/api/projects/{project_id}',
      ]);
      await expect(page.getByText('Add a project', { exact: true }).isVisible()).resolves.toBe(
        true,
      );

      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect(statSync(SCREENSHOT).size).toBeGreaterThan(10_000);

      expect(seen.pageErrors).toEqual([]);
      expect(seen.consoleErrors).toEqual([]);
      expect(seen.failed).toEqual([]);
      expect(seen.elsewhere).toEqual([]);
      expect(seen.requested.filter((u) => !u.startsWith(base + '/'))).toEqual([]);
      // It did load the viewer and the document from the app.
      const paths = new Set(seen.requested.map((u) => new URL(u).pathname));
      for (const p of [
        '/docs',
        '/docs/assets/swagger-ui.css',
        '/docs/assets/swagger-ui-bundle.js',
        '/openapi.json',
      ])
        expect([p, paths.has(p)]).toEqual([p, true]);
      // Last, as it is the sample's OpenAPI document that decides it: the page shows the JSON API
      // only, not the HTML pages' routes.
      expect(
        await page
          .locator('h3.opblock-tag')
          .evaluateAll((els) => els.map((e) => e.getAttribute('data-tag'))),
      ).toEqual(['api']);
    } finally {
      await context.close();
    }
  },
  60_000,
);

browserTest(
  'served under a public host name, the /docs page still asks no other host for anything',
  async () => {
    const { client, browser } = await start();
    const base = client.url('').replace('127.0.0.1', PUBLIC_HOST);
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    try {
      const page = await context.newPage();
      const seen = await watch(page, base);
      await openDocs(page, base);
      expect(await page.locator('.info .title').evaluate((el) => el.firstChild?.textContent)).toBe(
        'Rococo Tracker API',
      );
      await expect(page.getByText('Add a project', { exact: true }).isVisible()).resolves.toBe(
        true,
      );
      expect(seen.pageErrors).toEqual([]);
      expect(seen.failed).toEqual([]);
      expect(seen.elsewhere).toEqual([]);
      expect(seen.requested.filter((u) => !u.startsWith(base + '/'))).toEqual([]);
    } finally {
      await context.close();
    }
  },
  60_000,
);
