// Launches Debian's Chromium through playwright-core and opens pages already logged in (the
// session cookie from an API login), at desktop or phone width. Screenshots go to
// $ROLLOUT_BROWSER_ARTIFACTS (default: <build dir>/browser-artifacts).
import { chromium } from 'playwright-core';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BUILD_DIR } from './server.mjs';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = process.env.ROLLOUT_BROWSER_ARTIFACTS || join(BUILD_DIR, 'browser-artifacts');
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 375, height: 740 };

export async function launch() {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: install the Debian package 'chromium'`);
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], timeout: 30000 });
}

// A fresh context logged in as `session` (or anonymous), with the given viewport.
export async function open(browser, server, session, { viewport = DESKTOP, touch = false } = {}) {
  const context = await browser.newContext({ viewport, hasTouch: touch, isMobile: touch, baseURL: server.url });
  if (session) {
    await context.addCookies([{ name: 'rollout_session', value: session.cookie, url: server.url, httpOnly: true, sameSite: 'Strict' }]);
  }
  const page = await context.newPage();
  page.setDefaultTimeout(10000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(m.text()); });
  page.jsErrors = errors;
  return { context, page };
}

export async function shot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, name + '.png'), fullPage: true });
}

// The table row of a release.
export function row(page, version, os = 'linux', arch = 'x86_64') {
  return page.locator(`tr[id="release-${version}-${os}-${arch}"]`);
}
