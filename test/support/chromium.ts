// Headless Chromium for tests that look at pages as a person would: the Debian package's binary driven by
// playwright-core (which downloads no browser of its own). Tests skip, saying why, where it is not installed.
import { access } from 'node:fs/promises';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.PIPE_CHROMIUM ?? '/usr/bin/chromium';

// Nothing in the browser may reach the network on its own (updates, sync, QUIC probes), so a test that counts
// network requests counts only the page's.
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The browser, or the reason there is none (to pass to t.skip). */
export async function launchChromium(): Promise<{ browser: Browser } | { skip: string }> {
  try {
    await access(CHROMIUM_PATH);
  } catch {
    return { skip: `no Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set PIPE_CHROMIUM)` };
  }
  const { chromium } = await import('playwright-core');
  return { browser: await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS }) };
}

/** The browser, for tests that must run where Chromium is installed (CI installs it): an error, not a skip, without it. */
export async function requireChromium(): Promise<Browser> {
  const launched = await launchChromium();
  assert.ok(!('skip' in launched), 'skip' in launched ? launched.skip : '');
  return launched.browser;
}

/** A browser with one page whose script errors and console errors are collected in `errors` (a test expects none). */
export async function pageWithErrors(viewport = { width: 1400, height: 900 }): Promise<{ browser: Browser; page: Page; errors: string[] }> {
  const browser = await requireChromium();
  const page = await browser.newPage({ viewport });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  return { browser, page, errors };
}
