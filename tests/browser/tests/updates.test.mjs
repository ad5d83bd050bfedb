// The Updates page against a real rollout-server with seeded releases and agents: every bullet of
// issue #5 and the user guide's four scenarios, driven through the page (clicks, typing, keys).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../lib/server.mjs';
import { launch, open, shot, row, PHONE } from '../lib/browser.mjs';

let server, browser, operator;

before(async () => {
  server = await startServer();
  const s = server;
  operator = await s.user('olivia', 'operator');
  // linux/x86_64: 1.0.0 stable with 5 stable agents; 1.1.0 beta, 48/50 successes -> Healthy 96%.
  await s.publish('1.0.0');
  await s.promote('1.0.0', 'linux', 'x86_64', true);
  await s.fleet('1.0.0', { success: 5 }, { channel: 'stable' });
  await s.publish('1.1.0');
  await s.fleet('1.1.0', { success: 48, failure: 2 });
  // windows/x86_64: 2.1.0 beta at 46/50 (8 % failures) -> Warning (the guide's scenarios 2 and 4).
  await s.publish('2.0.0', 'windows', 'x86_64');
  await s.promote('2.0.0', 'windows', 'x86_64', true);
  await s.publish('2.1.0', 'windows', 'x86_64');
  await s.fleet('2.1.0', { success: 46, failure: 4 }, { os: 'windows' });
  // linux/aarch64: 3.0.0 beta with a single success: too few attempts to judge; nothing stable.
  await s.publish('3.0.0', 'linux', 'aarch64');
  await s.fleet('3.0.0', { success: 1 }, { arch: 'aarch64' });
  // windows/aarch64: 4.0.0 beta with 1 crash in 10 -> Blocked (crash rate >= 5 %).
  await s.publish('4.0.0', 'windows', 'aarch64');
  await s.fleet('4.0.0', { success: 9, crash: 1 }, { os: 'windows', arch: 'aarch64' });
  // linux/aarch64: 5.0.0 beta at 7/10 (30 % failures) -> Critical, success rate red.
  await s.publish('5.0.0', 'linux', 'aarch64');
  await s.fleet('5.0.0', { success: 7, failure: 3 }, { arch: 'aarch64' });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

async function updates(opts = {}, session = operator) {
  const o = await open(browser, server, session, opts);
  if (opts.clock) await o.page.clock.install();
  await o.page.goto('/updates');
  await o.page.locator('#rollouts tbody tr[data-key]').first().waitFor();
  return o;
}

const bg = (loc) => loc.evaluate((e) => getComputedStyle(e).backgroundColor);
const fg = (loc) => loc.evaluate((e) => getComputedStyle(e).color);

test('the table: columns, newest first, monospace versions, badges, rates and agent counts', async () => {
  const { page, context } = await updates();
  const heads = await page.locator('#rollouts thead th').allInnerTexts();
  assert.deepEqual(heads.slice(1).map((h) => h.trim()),
    ['Version', 'OS / Arch', 'Channel', 'Health Status', 'Success Rate', 'Beta Agents', 'Stable Agents', 'Actions']);
  const versions = await page.locator('#rollouts tbody td.version').allInnerTexts();
  assert.deepEqual(versions, ['5.0.0', '4.0.0', '3.0.0', '2.1.0', '2.0.0', '1.1.0', '1.0.0']);
  assert.match(await page.locator('td.version').first().evaluate((e) => getComputedStyle(e).fontFamily), /mono|Consolas|Menlo/i);

  const healthy = row(page, '1.1.0');
  assert.equal(await healthy.locator('td.osarch').innerText(), 'linux / x86_64');
  assert.equal(await healthy.locator('.badge.channel').innerText(), 'Beta');
  assert.equal(await bg(healthy.locator('.badge.channel')), 'rgb(9, 105, 218)');           // blue
  assert.equal(await healthy.locator('.badge.health').innerText(), 'Healthy');
  assert.equal(await bg(healthy.locator('.badge.health')), 'rgb(26, 127, 55)');             // green
  assert.equal(await healthy.locator('td.success').innerText(), '96% (48/50)');
  assert.equal(await fg(healthy.locator('.rate')), 'rgb(26, 127, 55)');                     // >= 95: green
  assert.equal(await healthy.locator('td.beta-agents').innerText(), '50');
  assert.equal(await healthy.locator('td.stable-agents').innerText(), '0');

  const stable = row(page, '1.0.0');
  assert.equal(await stable.locator('.badge.channel').innerText(), 'Stable');
  assert.equal(await bg(stable.locator('.badge.channel')), 'rgb(130, 80, 223)');           // purple
  assert.equal(await stable.locator('td.stable-agents').innerText(), '5');

  // Scenario 2 (Warning status): 92% (46/50), yellow, and the page does not pretend it is fine.
  const warn = row(page, '2.1.0', 'windows');
  assert.equal(await warn.locator('td.osarch').innerText(), 'windows / x86_64');
  assert.equal(await warn.locator('.badge.health').innerText(), 'Warning');
  assert.equal(await bg(warn.locator('.badge.health')), 'rgb(212, 167, 44)');              // yellow
  assert.equal(await warn.locator('td.success').innerText(), '92% (46/50)');
  assert.equal(await fg(warn.locator('.rate')), 'rgb(154, 103, 0)');                        // >= 80: yellow

  const blocked = row(page, '4.0.0', 'windows', 'aarch64');
  assert.equal(await blocked.locator('.badge.health').innerText(), 'Blocked');
  assert.equal(await bg(blocked.locator('.badge.health')), 'rgb(130, 7, 30)');             // dark red
  assert.equal(await blocked.locator('td.success').innerText(), '90% (9/10)');

  const critical = row(page, '5.0.0', 'linux', 'aarch64');
  assert.equal(await critical.locator('.badge.health').innerText(), 'Critical');
  assert.equal(await bg(critical.locator('.badge.health')), 'rgb(207, 34, 46)');           // red
  assert.equal(await critical.locator('td.success').innerText(), '70% (7/10)');
  assert.equal(await fg(critical.locator('.rate')), 'rgb(207, 34, 46)');                    // < 80: red

  const unknown = row(page, '2.0.0', 'windows');
  assert.equal(await unknown.locator('.badge.health').innerText(), 'Unknown');
  assert.equal(await bg(unknown.locator('.badge.health')), 'rgb(110, 119, 129)');          // gray
  await shot(page, 'updates-desktop');
  assert.deepEqual(page.jsErrors, []);
  await context.close();
});

test('a small sample shows its interval in a tooltip', async () => {
  const { page, context } = await updates();
  const r = row(page, '3.0.0', 'linux', 'aarch64');
  assert.equal(await r.locator('td.success .rate').innerText(), '100% (1/1)');
  await r.locator('td.success .rate').hover();
  const tip = r.locator('td.success [role=tooltip]');
  await tip.waitFor({ state: 'visible' });
  assert.match(await tip.innerText(), /^1\/1 — too few attempts to judge \(likely between \d+% and 100%\)$/);
  await context.close();
});

test('disabled buttons explain why on hover and on keyboard focus; Warning rows stay clickable', async () => {
  const { page, context } = await updates();
  const cases = [
    [row(page, '1.0.0'), /Only beta releases can be promoted/],
    [row(page, '4.0.0', 'windows', 'aarch64'), /Blocked releases cannot be promoted/],
  ];
  for (const [r, why] of cases) {
    const b = r.locator('button.promote');
    assert.equal(await b.getAttribute('aria-disabled'), 'true');
    await b.hover();
    const tip = r.locator('button.promote + [role=tooltip]');
    await tip.waitFor({ state: 'visible' });
    assert.match(await tip.innerText(), why);
    await page.mouse.move(0, 0);
    await tip.waitFor({ state: 'hidden' });
    await b.focus();                                   // keyboard focus shows the same tooltip
    await tip.waitFor({ state: 'visible' });
    assert.match(await tip.innerText(), why);
    await b.click({ force: true });                    // and the click does nothing
    assert.equal(await page.locator('dialog').count(), 0);
  }
  for (const [v, os, arch, status] of [['2.1.0', 'windows', 'x86_64', 'Warning'], ['5.0.0', 'linux', 'aarch64', 'Critical'],
    ['3.0.0', 'linux', 'aarch64', 'Healthy']]) {
    const b = row(page, v, os, arch).locator('button.promote');
    assert.equal(await b.getAttribute('aria-disabled'), null);
    await b.focus();
    const tip = row(page, v, os, arch).locator('button.promote + [role=tooltip]');
    await tip.waitFor({ state: 'visible' });
    assert.match(await tip.innerText(), new RegExp(`Health is ${status}: promoting will need a force promotion`));
  }
  // The Unknown row is stable, so it is not promotable at all; rollback is available there.
  assert.equal(await row(page, '2.0.0', 'windows').locator('button.rollback').getAttribute('aria-disabled'), null);
  await context.close();
});

test('expanding a row shows failure patterns (24 h beside all time, crash evidence) and history', async () => {
  const { page, context } = await updates();
  const r = row(page, '4.0.0', 'windows', 'aarch64');
  await r.locator('button.expand').click();
  assert.equal(await r.locator('button.expand').getAttribute('aria-expanded'), 'true');
  const detail = page.locator('tr[data-detail="4.0.0|windows|aarch64"]');
  const crash = detail.locator('table.failures tbody tr', { hasText: 'crash_loop' });
  await crash.waitFor();
  assert.equal(await crash.locator('td.count-24h').innerText(), '1');
  assert.equal(await crash.locator('td.count-all').innerText(), '1');
  assert.match(await crash.locator('pre.stderr').innerText(), /panic: nil map write/);
  assert.ok(await detail.locator('th', { hasText: 'Last 24 h' }).isVisible());
  assert.ok(await detail.locator('th', { hasText: 'All time' }).isVisible());
  const stable = row(page, '1.0.0');
  await stable.locator('button.expand').click();
  const hist = page.locator('tr[data-detail="1.0.0|linux|x86_64"] ul.history');
  await hist.waitFor();
  assert.match(await hist.innerText(), /promote \(forced\) by admin: “seeding”/);
  await context.close();
});

test('auto-refresh every 30 s keeps an open rollback dialog and its half-typed reason intact', async () => {
  const { page, context } = await updates({ clock: true });
  const r = row(page, '1.1.0');
  await r.locator('button.rollback').click();
  const dialog = page.locator('dialog[open]');
  await dialog.waitFor();
  const reason = dialog.getByLabel('Reason (required)');
  await reason.pressSequentially('Crashes on sta');
  // Something changes on the server while the dialog is open: the refresh must show it behind.
  await server.fleet('1.1.0', { success: 1 });
  const refreshed = page.waitForResponse((resp) => resp.url().endsWith('/api/updates/rollouts'));
  await page.clock.runFor(30_000);
  await refreshed;
  await page.waitForFunction(() => document.querySelector('tr[id="release-1.1.0-linux-x86_64"] td.beta-agents')?.textContent === '51');
  assert.ok(await dialog.isVisible());
  assert.equal(await reason.inputValue(), 'Crashes on sta');
  assert.ok(await reason.evaluate((e) => e === document.activeElement), 'the reason keeps the focus');
  await reason.pressSequentially('rtup');              // typing continues where it was
  assert.equal(await reason.inputValue(), 'Crashes on startup');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  await context.close();
});

test('the Refresh button shows a loading indicator; a failed refresh keeps the table and retries', async () => {
  const { page, context } = await updates({ clock: true });
  let release;
  await page.route('**/api/updates/rollouts', async (route) => { await new Promise((r) => { release = r; }); await route.continue(); });
  await page.locator('#refresh').click();
  await page.locator('#loading').waitFor({ state: 'visible' });
  release();
  await page.locator('#loading').waitFor({ state: 'hidden' });
  await page.unroute('**/api/updates/rollouts');

  await page.route('**/api/updates/rollouts', (route) => route.abort());
  await page.clock.runFor(30_000);
  const err = page.locator('#refresh-error');
  await err.waitFor({ state: 'visible' });
  assert.match(await err.innerText(), /Refresh failed .*showing the last data\. Retrying in 30 s/);
  assert.equal(await page.locator('#rollouts tbody tr[data-key]').count(), 7, 'never a blank table');
  await page.unroute('**/api/updates/rollouts');
  await err.getByRole('button', { name: 'Retry' }).click();
  await err.waitFor({ state: 'hidden' });
  assert.equal(await page.locator('#rollouts tbody tr[data-key]').count(), 7);
  await context.close();
});

test('dialogs: labelled, focus stays inside on Tab, Escape closes and focus returns', async () => {
  const { page, context } = await updates();
  const button = row(page, '1.1.0').locator('button.rollback');
  await button.focus();
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog', { name: /Roll back 1\.1\.0/ });
  await dialog.waitFor();
  assert.ok(await dialog.getByLabel('Reason (required)').evaluate((e) => e === document.activeElement));
  for (let i = 0; i < 6; i++) {
    await page.keyboard.press('Tab');
    assert.ok(await page.evaluate(() => !!document.activeElement.closest('dialog')), 'focus left the dialog');
  }
  await page.keyboard.press('Shift+Tab');
  assert.ok(await page.evaluate(() => !!document.activeElement.closest('dialog')));
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  assert.ok(await button.evaluate((e) => e === document.activeElement), 'focus returns to the button');
  await context.close();
});

test('scenario 1: normal promotion through the page', async () => {
  const { page, context } = await updates();
  await row(page, '1.1.0').locator('button.promote').click();
  const dialog = page.getByRole('dialog', { name: 'Promote 1.1.0 to stable?' });
  await dialog.waitFor();
  await shot(page, 'dialog-promote-desktop');
  await dialog.getByRole('button', { name: 'Promote' }).click();
  const t = page.locator('.toast.success');
  await t.waitFor();
  assert.equal(await t.innerText(), 'Version 1.1.0 promoted to stable');
  await page.waitForFunction(() => document.querySelector('tr[id="release-1.1.0-linux-x86_64"] .badge.channel')?.textContent === 'Stable');
  await context.close();
});

test('scenario 3: emergency rollback with a required reason', async () => {
  const { page, context } = await updates();
  const r = row(page, '1.1.0');
  const onIt = Number(await r.locator('td.beta-agents').innerText()) + Number(await r.locator('td.stable-agents').innerText());
  await r.locator('button.rollback').click();
  const dialog = page.getByRole('dialog', { name: /Roll back 1\.1\.0/ });
  await dialog.waitFor();
  assert.equal(await dialog.locator('#rollback-warning').innerText(), 'This will force-downgrade all agents');
  const confirm = dialog.getByRole('button', { name: 'Rollback' });
  assert.ok(await confirm.isDisabled(), 'confirm is disabled while the reason is empty');
  await dialog.getByLabel('Reason (required)').fill('   ');
  assert.ok(await confirm.isDisabled(), 'blank is not a reason');
  await dialog.getByLabel('Reason (required)').fill('Crashes on startup');
  assert.ok(await confirm.isEnabled());
  await shot(page, 'dialog-rollback-desktop');
  await confirm.click();
  const t = page.locator('.toast.success');
  await t.waitFor();
  assert.equal(await t.innerText(), `Version 1.1.0 rolled back. ${onIt} agents downgraded`);
  await page.waitForFunction(() => document.querySelector('tr[id="release-1.1.0-linux-x86_64"] .badge.health')?.textContent === 'Blocked');
  const events = await server.ok('GET', '/api/updates/events', undefined, server.admin);
  assert.ok(events.events.some((e) => e.action === 'rollback' && e.reason === 'Crashes on startup' && e.user === 'olivia'));
  await context.close();
});

test('scenario 4: force promotion after the health check refuses', async () => {
  const { page, context } = await updates();
  await row(page, '2.1.0', 'windows').locator('button.promote').click();
  const dialog = page.locator('dialog[open]');
  await dialog.getByRole('button', { name: 'Promote' }).click();
  const warn = page.getByRole('dialog', { name: 'Health check failed for 2.1.0' });
  await warn.waitFor();
  assert.ok(await warn.locator('ul.reasons li').count() >= 1);
  assert.match(await warn.locator('ul.reasons').innerText(), /\w/);
  const force = warn.getByRole('button', { name: 'Force Promote' });
  assert.ok(await force.isDisabled(), 'force needs a typed reason');
  await warn.getByLabel('Reason for forcing (required)').fill('Known cosmetic issue, tracked');
  await shot(page, 'dialog-force-promote-desktop');
  await force.click();
  const t = page.locator('.toast.success');
  await t.waitFor();
  assert.equal(await t.innerText(), 'Version 2.1.0 promoted to stable');
  const events = await server.ok('GET', '/api/updates/events', undefined, server.admin);
  assert.ok(events.events.some((e) => e.version === '2.1.0' && e.force && e.reason === 'Known cosmetic issue, tracked'));
  await context.close();
});

test('rollback with nothing to fall back to gives a clear error toast', async () => {
  const { page, context } = await updates();
  await row(page, '3.0.0', 'linux', 'aarch64').locator('button.rollback').click();
  const dialog = page.locator('dialog[open]');
  await dialog.getByLabel('Reason (required)').fill('Testing the fallback');
  await dialog.getByRole('button', { name: 'Rollback' }).click();
  const t = page.locator('.toast.error');
  await t.waitFor();
  assert.match(await t.innerText(), /^Cannot roll back 3\.0\.0: there is no earlier stable version to fall back to\./);
  await context.close();
});

test('375 px: the table scrolls sideways, dialogs fit, actions work by touch', async () => {
  const { page, context } = await updates({ viewport: PHONE, touch: true });
  const wrap = page.locator('#table-wrap');
  const [sw, cw] = await wrap.evaluate((e) => [e.scrollWidth, e.clientWidth]);
  assert.ok(sw > cw, 'the table is wider than the screen and scrolls inside its box');
  assert.equal(await page.evaluate(() => document.documentElement.scrollWidth), 375, 'the page itself does not scroll sideways');
  await shot(page, 'updates-375');
  const b = row(page, '2.0.0', 'windows').locator('button.rollback');
  await b.scrollIntoViewIfNeeded();
  await b.tap();
  const dialog = page.locator('dialog[open]');
  await dialog.waitFor();
  const box = await dialog.boundingBox();
  assert.ok(box.x >= 0 && box.y >= 0 && box.x + box.width <= 375 && box.y + box.height <= PHONE.height, JSON.stringify(box));
  await dialog.getByLabel('Reason (required)').fill('Phone test');
  await shot(page, 'dialog-rollback-375');
  await dialog.getByRole('button', { name: 'Cancel' }).tap();
  await dialog.waitFor({ state: 'detached' });
  await row(page, '4.0.0', 'windows', 'aarch64').locator('button.expand').tap();
  await page.locator('tr[data-detail="4.0.0|windows|aarch64"] table.failures').waitFor();
  // Promote by touch: the confirm dialog, then the server's refusal with Force Promote (Critical).
  const promote = row(page, '5.0.0', 'linux', 'aarch64').locator('button.promote');
  await promote.scrollIntoViewIfNeeded();
  await promote.tap();
  const confirm = page.getByRole('dialog', { name: 'Promote 5.0.0 to stable?' });
  await confirm.waitFor();
  await shot(page, 'dialog-promote-375');
  await confirm.getByRole('button', { name: 'Promote' }).tap();
  const warn = page.getByRole('dialog', { name: 'Health check failed for 5.0.0' });
  await warn.waitFor();
  const wbox = await warn.boundingBox();
  assert.ok(wbox.x >= 0 && wbox.x + wbox.width <= 375, JSON.stringify(wbox));
  await warn.getByLabel('Reason for forcing (required)').fill('Phone test');
  await shot(page, 'dialog-force-promote-375');
  await warn.getByRole('button', { name: 'Cancel' }).tap();
  await warn.waitFor({ state: 'detached' });
  assert.equal(await row(page, '5.0.0', 'linux', 'aarch64').locator('.badge.channel').innerText(), 'Beta');
  await context.close();
});
