import { randomBytes } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { browserTest as browserTestFor, launchChromium } from './helpers/chromium';
import type { TestClient } from '../src/testing';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { BROWSER, DEMO, logIn, sampleClient } from './helpers/sample';
import { TcpProxy } from './helpers/tcp-proxy';

/**
 * The sample in a real browser: Debian's Chromium driven by playwright-core. Without
 * /usr/bin/chromium the test is skipped on a laptop, and fails in CI (`.ci/run` installs it).
 */

const ARTIFACTS = join(__dirname, 'artifacts');
const SCREENSHOT = join(ARTIFACTS, 'sample-projects.png');
const ADDED_SCREENSHOT = join(ARTIFACTS, 'sample-project-added.png');
const LIVE_SCREENSHOT = join(ARTIFACTS, 'sample-live.png');
const browserTest = browserTestFor('browser.test.ts');

let db: TestDatabase | undefined;
let client: TestClient | undefined;
let browser: Browser | undefined;

afterAll(async () => {
  await browser?.close();
  await client?.close();
  await db?.drop();
});

/**
 * The sample on a database of the file's own, and Chromium; once for all tests. Its own Redis
 * prefix: other suites on the same Redis have projects with the same ids, whose events and
 * viewers this file's pages must not see.
 */
async function start(): Promise<{ client: TestClient; browser: Browser }> {
  db ??= await createTestDatabase();
  client ??= await sampleClient(db.url, {
    REDIS_PREFIX: `test-browser-${randomBytes(6).toString('hex')}:`,
  });
  browser ??= await launchChromium();
  return { client, browser };
}

browserTest(
  'log in as the demo user, add a project through the form in Chromium, see the message and the project listed, save a screenshot',
  async () => {
    const { client, browser } = await start();
    const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    // Every request of the pages must succeed, the favicon's too (base.html links one).
    const failed: string[] = [];
    const icons: number[] = [];
    page.on('response', (r) => {
      if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
      if (new URL(r.url()).pathname === '/static/favicon.svg') icons.push(r.status());
    });
    page.on('requestfailed', (r) => failed.push(`${r.failure()?.errorText} ${r.url()}`));

    // The index, styled by the site's stylesheet.
    const index = await page.goto(client.url('/'));
    expect(index?.status()).toBe(200);
    expect(await page.title()).toBe('Home · Rococo Tracker');
    expect(await page.locator('h1').textContent()).toBe('Keep track of your projects');
    // The stylesheet puts the paper colour on the root element (the canvas), the ink on the masthead.
    expect(
      await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor),
    ).toBe('rgb(251, 248, 243)');
    expect(
      await page.evaluate(
        () => getComputedStyle(document.querySelector('.masthead')!).backgroundColor,
      ),
    ).toBe('rgb(35, 49, 63)');

    // A visitor: the header offers to log in.
    expect(await page.locator('.account').getByRole('link', { name: 'Log in' }).isVisible()).toBe(
      true,
    );

    // "New project" needs a login: the login page, which comes back to the form.
    await page.getByRole('link', { name: 'New project' }).click();
    await page.waitForURL(client.url('/login?next=%2Fprojects%2Fnew'));
    expect(await page.locator('h1').textContent()).toBe('Log in');
    expect(await page.locator('form.form').textContent()).toContain('demo@example.com / demo');
    await page.getByLabel('Email').fill(DEMO.email);
    await page.getByLabel('Password').fill(DEMO.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(client.url('/projects/new'));
    expect(await page.locator('h1').textContent()).toBe('New project');
    expect(await page.getByRole('status').textContent()).toBe('Welcome back, Demo User.');
    expect(await page.locator('.account .whoami').textContent()).toBe('Demo User');
    expect(
      await page.locator('.account').getByRole('button', { name: 'Log out' }).isVisible(),
    ).toBe(true);

    // app.js suggests a slug from the name while the slug is empty.
    await page.locator('#name').pressSequentially('Rococo in Chromium!');
    expect(await page.locator('#slug').inputValue()).toBe('rococo-in-chromium');
    // A slug typed by hand is kept.
    await page.locator('#slug').fill('from-the-browser');
    await page.locator('#name').fill('Made in Chromium');
    await page.locator('#name').dispatchEvent('input');
    expect(await page.locator('#slug').inputValue()).toBe('from-the-browser');
    await page.locator('#description').fill('Added through the form by the browser test.');

    await page.getByRole('button', { name: 'Add project' }).click();
    await page.waitForURL(/\/projects\/\d+$/);
    const id = Number(/\/projects\/(\d+)$/.exec(page.url())![1]);
    expect(await page.getByRole('status').textContent()).toBe(
      'Project “Made in Chromium” was added.',
    );
    expect(await page.locator('h1').textContent()).toBe('Made in Chromium from-the-browser');
    expect(await page.locator('p.lead').textContent()).toBe(
      'Added through the form by the browser test.',
    );
    expect(await page.locator('.facts dd').first().textContent()).toBe('Demo User');
    expect(await page.getByRole('link', { name: 'Edit' }).isVisible()).toBe(true);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: ADDED_SCREENSHOT, fullPage: true });
    expect(statSync(ADDED_SCREENSHOT).size).toBeGreaterThan(10_000);

    // The list has it, last.
    await page.getByRole('navigation').getByRole('link', { name: 'Projects' }).click();
    await page.waitForURL(client.url('/projects'));
    const titles = await page.locator('#projects .card-title').allTextContents();
    expect(titles).toEqual(['aiohttp.web', 'aiopg', 'rororo', 'Made in Chromium']);
    expect(await page.locator('#projects .card-title').last().getAttribute('href')).toBe(
      `/projects/${id}`,
    );
    // The message was shown once.
    expect(await page.getByRole('status').count()).toBe(0);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(statSync(SCREENSHOT).size).toBeGreaterThan(10_000);

    expect(pageErrors).toEqual([]);
    expect(failed).toEqual([]);
    // The browser did load the linked icon (so the check above covers it), not /favicon.ico.
    expect(icons.length).toBeGreaterThan(0);
    expect(icons.every((s) => s === 200 || s === 304)).toBe(true);
    await context.close();
  },
  60_000,
);

/** A page that records its script errors and failed requests. */
async function watchedPage(context: BrowserContext, problems: string[]): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`);
  });
  page.on('requestfailed', (r) => problems.push(`${r.failure()?.errorText} ${r.url()}`));
  return page;
}

/** Waits until the page says how many are viewing it. */
async function viewing(page: Page, count: number): Promise<void> {
  await page
    .locator('[data-viewers]')
    .filter({ hasText: new RegExp(`^${count} viewing$`) })
    .waitFor({ timeout: 5000 });
}

browserTest(
  'two pages of one project: a comment posted in one appears in the other without a reload, edits too, and both say how many are viewing; save a screenshot',
  async () => {
    const { client, browser } = await start();
    const problems: string[] = [];
    // The demo user (owner of aiopg, project 2) in one browser, a visitor in another.
    const demoContext = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    const visitorContext = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    const demo = await watchedPage(demoContext, problems);
    const visitor = await watchedPage(visitorContext, problems);

    await demo.goto(client.url('/login?next=%2Fprojects%2F2'));
    await demo.getByLabel('Email').fill(DEMO.email);
    await demo.getByLabel('Password').fill(DEMO.password);
    await demo.getByRole('button', { name: 'Log in' }).click();
    await demo.waitForURL(client.url('/projects/2'));

    await visitor.goto(client.url('/projects/2'));
    expect(await visitor.locator('h1').textContent()).toBe('aiopg aiopg');
    expect(
      await visitor.getByRole('link', { name: 'Log in to comment' }).getAttribute('href'),
    ).toBe('/login?next=%2Fprojects%2F2');
    expect(await visitor.locator('[data-no-comments]').isVisible()).toBe(true);
    // Both pages are open: both say so.
    await viewing(visitor, 2);
    await viewing(demo, 2);
    // A mark that a reload would wipe out.
    await visitor.evaluate(
      () => ((window as unknown as { notReloaded: boolean }).notReloaded = true),
    );

    // The demo user comments; the visitor's page shows it, and nothing of it runs as HTML.
    const text = 'Looks good <img src=x onerror="window.pwned=1">\nsecond line';
    await demo.getByLabel('Add a comment').fill(text);
    await demo.getByRole('button', { name: 'Comment' }).click();
    const arrived = visitor.locator('.comment-list .comment');
    await arrived.first().waitFor({ timeout: 5000 });
    expect(await arrived.count()).toBe(1);
    expect(await arrived.locator('.comment-body').textContent()).toBe(text);
    expect(await arrived.locator('.comment-body img').count()).toBe(0);
    expect(await arrived.locator('.comment-meta a').textContent()).toBe('Demo User');
    expect(await arrived.locator('.comment-meta a').getAttribute('href')).toBe('/users/3');
    expect(await arrived.locator('.comment-meta time').textContent()).toMatch(
      /^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/,
    );
    expect(await visitor.locator('[data-no-comments]').isVisible()).toBe(false);
    expect(
      await visitor.evaluate(() => (window as unknown as { pwned?: number }).pwned),
    ).toBeUndefined();
    expect(
      await visitor.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded),
    ).toBe(true);
    // The author's page shows it once (the answer of the post and the socket's event), the form emptied, still 2 viewing.
    await demo.locator('.comment-list .comment').first().waitFor();
    expect(await demo.locator('.comment-list .comment').count()).toBe(1);
    expect(await demo.getByLabel('Add a comment').inputValue()).toBe('');
    expect(await demo.locator('[data-viewers]').textContent()).toBe('2 viewing');
    expect(await visitor.locator('[data-viewers]').textContent()).toBe('2 viewing');

    // An empty comment is refused on the page, without leaving it.
    await demo.getByRole('button', { name: 'Comment' }).click();
    await demo.locator('#comment-error').waitFor();
    expect(await demo.locator('#comment-error').textContent()).toBe(
      'Write something first: the comment is empty.',
    );
    expect(demo.url()).toBe(client.url('/projects/2'));

    // The owner edits the project: while on the form, the visitor's page counts one viewer; after saving, it shows the change.
    await demo.getByRole('link', { name: 'Edit' }).click();
    await demo.waitForURL(client.url('/projects/2/edit'));
    await viewing(visitor, 1);
    await demo.locator('#name').fill('aiopg, live');
    await demo.locator('#description').fill('Edited in one browser, seen in the other.');
    await demo.getByRole('button', { name: 'Save' }).click();
    await demo.waitForURL(client.url('/projects/2'));
    await visitor.locator('h1').filter({ hasText: 'aiopg, live' }).waitFor({ timeout: 5000 });
    expect(await visitor.locator('h1').textContent()).toBe('aiopg, live aiopg');
    expect(await visitor.locator('p.lead').textContent()).toBe(
      'Edited in one browser, seen in the other.',
    );
    expect(await visitor.title()).toBe('aiopg, live · Rococo Tracker');
    await viewing(visitor, 2);
    await viewing(demo, 2);
    expect(
      await visitor.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded),
    ).toBe(true);

    // The author's new page (after saving) has its own socket: its next comment arrives too.
    await demo.getByLabel('Add a comment').fill('One more, from the same browser.');
    await demo.getByRole('button', { name: 'Comment' }).click();
    await arrived.nth(1).waitFor({ timeout: 5000 });
    expect(await arrived.locator('.comment-body').allTextContents()).toEqual([
      text,
      'One more, from the same browser.',
    ]);

    mkdirSync(ARTIFACTS, { recursive: true });
    await visitor.screenshot({ path: LIVE_SCREENSHOT, fullPage: true });
    expect(statSync(LIVE_SCREENSHOT).size).toBeGreaterThan(10_000);

    // The visitor leaves: the demo user's page counts one again.
    await visitor.close();
    await viewing(demo, 1);
    // Nothing failed but the empty comment, refused on purpose.
    expect(problems).toEqual([`422 ${client.url('/projects/2/comments')}`]);
    await demoContext.close();
    await visitorContext.close();
  },
  60_000,
);

browserTest(
  'a page whose connection drops says so, reconnects by itself, and catches up on the comment it missed',
  async () => {
    const { client, browser } = await start();
    // The page reaches the app through a proxy that can cut its connections (a network that fails).
    const proxy = new TcpProxy('127.0.0.1', Number(new URL(client.url('/')).port));
    await proxy.start();
    const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    const problems: string[] = [];
    try {
      const page = await watchedPage(context, problems);
      // Loaded, favicon included, before the network is cut.
      await page.goto(`http://127.0.0.1:${proxy.port}/projects/3`, { waitUntil: 'networkidle' });
      await viewing(page, 1);
      await page.evaluate(
        () => ((window as unknown as { notReloaded: boolean }).notReloaded = true),
      );
      const token = await logIn(client);

      // The network goes: the page says it is reconnecting.
      await proxy.stop();
      await page
        .locator('[data-viewers]')
        .filter({ hasText: 'Reconnecting…' })
        .waitFor({ timeout: 5000 });
      expect(await page.locator('[data-viewers]').getAttribute('data-state')).toBe('offline');
      // Meanwhile someone comments: the page cannot hear of it.
      const posted = await client.post('/projects/3/comments', {
        headers: BROWSER,
        form: { csrf_token: token, body: 'Said while you were away' },
      });
      expect(posted.status).toBe(302);

      // The network is back: the page reconnects within its backoff and gets the comment it missed.
      await proxy.start();
      await page
        .locator('.comment-list .comment-body')
        .filter({ hasText: 'Said while you were away' })
        .waitFor({ timeout: 10_000 });
      await viewing(page, 1);
      expect(await page.locator('.comment-list .comment').count()).toBe(1);
      expect(
        await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded),
      ).toBe(true);
      // Attempts to reconnect while the network was down may have failed (that is the point); nothing else did.
      expect(
        problems.filter(
          (p) =>
            !/^net::ERR_CONNECTION_REFUSED ws:\/\/127\.0\.0\.1:\d+\/projects\/3\/live\?since=0$/.test(
              p,
            ),
        ),
      ).toEqual([]);
    } finally {
      await context.close();
      await proxy.stop();
    }
  },
  60_000,
);
