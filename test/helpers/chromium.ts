import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/**
 * Debian's Chromium, driven by playwright-core, for the browser suites. Without it a suite is
 * skipped on a laptop, and fails in CI (`.ci/run` installs it).
 */
export const CHROMIUM = '/usr/bin/chromium';

const hasChromium = existsSync(CHROMIUM);

/** `test` where Chromium is (or in CI, where its absence must fail); else `test.skip`, said once. */
export function browserTest(file: string): jest.It {
  if (hasChromium || process.env.CI) return test;
  console.warn(`${file}: skipped, ${CHROMIUM} does not exist (apt-get install chromium to run it)`);
  return test.skip;
}

/**
 * Headless Chromium without its background traffic; `hosts` resolve to 127.0.0.1 (a test server
 * seen under a public name: no localhost exemption of any kind).
 */
export function launchChromium(hosts: readonly string[] = []): Promise<Browser> {
  if (!hasChromium)
    throw new Error(
      `CI is set but ${CHROMIUM} does not exist: install Debian's chromium (.ci/run does) to run the browser tests`,
    );
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...hosts.map((host) => `--host-resolver-rules=MAP ${host} 127.0.0.1`),
    ],
  });
}
