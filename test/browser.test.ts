import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import type { TestClient } from '../src/testing';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { DEMO, sampleClient } from './helpers/sample';

/**
 * The sample in a real browser: Debian's Chromium driven by playwright-core. Without
 * /usr/bin/chromium the test is skipped on a laptop, and fails in CI (`.ci/run` installs it).
 */

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(__dirname, 'artifacts');
const SCREENSHOT = join(ARTIFACTS, 'sample-projects.png');
const ADDED_SCREENSHOT = join(ARTIFACTS, 'sample-project-added.png');
const hasChromium = existsSync(CHROMIUM);

if (!hasChromium && !process.env.CI) {
  console.warn(`browser.test.ts: skipped, ${CHROMIUM} does not exist (apt-get install chromium to run it)`);
}
const browserTest = hasChromium || process.env.CI ? test : test.skip;

let db: TestDatabase | undefined;
let client: TestClient | undefined;
let browser: Browser | undefined;

afterAll(async () => {
  await browser?.close();
  await client?.close();
  await db?.drop();
});

browserTest(
  'log in as the demo user, add a project through the form in Chromium, see the message and the project listed, save a screenshot',
  async () => {
    if (!hasChromium) {
      throw new Error(`CI is set but ${CHROMIUM} does not exist: install Debian's chromium (.ci/run does) to run the browser test`);
    }
    db = await createTestDatabase();
    client = await sampleClient(db.url);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
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
    expect(await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor)).toBe('rgb(251, 248, 243)');
    expect(await page.evaluate(() => getComputedStyle(document.querySelector('.masthead')!).backgroundColor)).toBe('rgb(35, 49, 63)');

    // A visitor: the header offers to log in.
    expect(await page.locator('.account').getByRole('link', { name: 'Log in' }).isVisible()).toBe(true);

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
    expect(await page.locator('.account').getByRole('button', { name: 'Log out' }).isVisible()).toBe(true);

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
    expect(await page.getByRole('status').textContent()).toBe('Project “Made in Chromium” was added.');
    expect(await page.locator('h1').textContent()).toBe('Made in Chromium from-the-browser');
    expect(await page.locator('p.lead').textContent()).toBe('Added through the form by the browser test.');
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
    expect(await page.locator('#projects .card-title').last().getAttribute('href')).toBe(`/projects/${id}`);
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
