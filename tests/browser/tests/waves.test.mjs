// Stable rollouts in waves on the Updates page (issue #13) against a real rollout-server: the
// progress line in the table (wave n of m, share and count on the release, state with its reason,
// time to the next wave), each wave's counts in the row detail, the Pause / Resume / Advance /
// All now buttons (tooltips on disabled ones, confirmation dialogs with a reason, toasts), and
// the same at 375 px, and a policy with its own wave plan (one line and one detail block per
// rollout group; the /policies page keeps and shows it). Screenshots: waves-desktop,
// waves-detail-desktop, waves-375, dialog-waves-all-375, waves-groups-desktop,
// waves-groups-detail-desktop.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../lib/server.mjs';
import { launch, open, shot, row, PHONE } from '../lib/browser.mjs';

let server, browser, operator, viewer;
let first = 0;  // agents in wave 1: under 20 % of the bucket space, at least 2 (their ids decide)

before(async () => {
  server = await startServer({ extra: ['waves:', '  steps: [20%, 60%, 100%]', '  min_first_wave: 2', '  soak: 1h'] });
  const s = server;
  operator = await s.user('olivia', 'operator');
  viewer = await s.user('victor', 'viewer');
  await s.publish('1.0.0');
  await s.promote('1.0.0', 'linux', 'x86_64', true);   // the first stable: no rollout to hold back on
  const stable = await s.fleet('1.0.0', { none: 10 }, { channel: 'stable' });
  await s.publish('1.1.0');
  await s.promote('1.1.0', 'linux', 'x86_64', true);   // a rollout in 3 waves starts
  // The agents of wave 1 are sent 1.1.0; they install it and report success.
  for (const a of stable) {
    const answer = await s.checkin(a);
    if (!answer.directive) continue;
    first += 1;
    a.version = '1.1.0';
    await s.checkin(a);
    await s.report(a, 'success');
  }
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

async function updates(session = operator, opts = {}) {
  const o = await open(browser, server, session, opts);
  await o.page.goto('/updates');
  await row(o.page, '1.1.0').waitFor();
  return o;
}

test('the table shows the rollout progress: wave, share on it, state and the next wave', async () => {
  const { page, context } = await updates();
  const p = row(page, '1.1.0').locator('.waves-progress');
  assert.equal(await p.locator('.wave-n').innerText(), 'Wave 1 of 3');
  assert.ok(first >= 2 && first < 10, `wave 1 holds ${first}`);
  assert.equal(await p.locator('.wave-share').innerText(), `${first}/10 stable agents on it (${first * 10}%)`);
  assert.equal(await p.locator('.wave-state').innerText(), 'Rolling out');
  assert.match(await p.locator('.wave-next').innerText(), /^next wave in (60 min|59 min|1 h)$/);
  assert.equal(await row(page, '1.0.0').locator('.waves-progress').count(), 0, 'no rollout for the first stable');
  await shot(page, 'waves-desktop');
  // The row detail: each wave's own counts.
  await row(page, '1.1.0').locator('button.expand').click();
  const t = page.locator('tr[data-detail="1.1.0|linux|x86_64"] table.waves');
  await t.waitFor();
  const agents = await t.locator('td.wave-agents').allInnerTexts();
  assert.equal(agents.length, 3);
  assert.equal(agents.map(Number).reduce((a, b) => a + b, 0), 10);
  assert.equal(agents[0], String(first));
  assert.equal(await t.locator('tr[data-wave="1"] td.wave-on').innerText(), String(first));
  assert.match(await page.locator('tr[data-detail="1.1.0|linux|x86_64"]').innerText(), /rollout_started by admin/);
  await shot(page, 'waves-detail-desktop');
  assert.deepEqual(page.jsErrors, []);
  await context.close();
});

test('a viewer sees the buttons disabled with a tooltip saying why', async () => {
  const { page, context } = await updates(viewer);
  const b = row(page, '1.1.0').locator('button.wave-pause');
  assert.equal(await b.getAttribute('aria-disabled'), 'true');
  await b.hover();
  const tip = page.locator(`#${await b.getAttribute('aria-describedby')}`);
  assert.match(await tip.innerText(), /Your role \(viewer\) cannot control rollouts/);
  await b.click({ force: true });
  assert.equal(await page.locator('dialog[open]').count(), 0, 'a disabled button opens nothing');
  await context.close();
});

test('pause with a reason, resume, and all now (reason required) through dialogs and toasts', async () => {
  const { page, context } = await updates();
  const r = () => row(page, '1.1.0');
  assert.equal(await r().locator('button.wave-resume').getAttribute('aria-disabled'), 'true');
  await r().locator('button.wave-pause').click();
  let dialog = page.getByRole('dialog', { name: /Pause the rollout of 1\.1\.0/ });
  await dialog.waitFor();
  await dialog.getByLabel('Reason').fill('Waiting for the vendor');
  await dialog.getByRole('button', { name: 'Pause' }).click();
  await page.locator('.toast.success', { hasText: 'Rollout of 1.1.0 paused (wave 1 of 3)' }).waitFor();
  await r().locator('.wave-state', { hasText: 'Paused: Waiting for the vendor' }).waitFor();
  assert.equal(await r().locator('button.wave-pause').getAttribute('aria-disabled'), 'true');
  await r().locator('button.wave-resume').click();
  dialog = page.getByRole('dialog', { name: /Resume the rollout of 1\.1\.0/ });
  await dialog.getByRole('button', { name: 'Resume' }).click();
  await page.locator('.toast.success', { hasText: 'Rollout of 1.1.0 resumed' }).waitFor();
  await r().locator('.wave-state', { hasText: 'Rolling out' }).waitFor();
  await r().locator('button.wave-all').click();
  dialog = page.getByRole('dialog', { name: /Roll out to every stable agent now/ });
  const confirm = dialog.getByRole('button', { name: 'All now' });
  assert.ok(await confirm.isDisabled(), 'all now needs a typed reason');
  await dialog.getByLabel('Reason (required)').fill('Security fix needed today');
  await confirm.click();
  await page.locator('.toast.success', { hasText: 'rolled out to every stable agent (wave 3 of 3)' }).waitFor();
  await r().locator('.wave-n', { hasText: 'Wave 3 of 3' }).waitFor();
  const adv = r().locator('button.wave-advance');
  assert.equal(await adv.getAttribute('aria-disabled'), 'true');
  assert.match(await page.locator(`#${await adv.getAttribute('aria-describedby')}`).textContent(), /last wave/);
  const events = await server.ok('GET', '/api/updates/events', undefined, server.admin);
  const mine = events.events.filter((e) => e.version === '1.1.0' && e.user === 'olivia').map((e) => e.action);
  assert.deepEqual(mine, ['rollout_advanced', 'rollout_resumed', 'rollout_paused']);
  assert.deepEqual(page.jsErrors, []);
  await context.close();
});

test('375 px: the progress and the wave dialog fit the phone', async () => {
  await server.publish('1.2.0');
  await server.promote('1.2.0', 'linux', 'x86_64', true);
  const { page, context } = await updates(operator, { viewport: PHONE, touch: true });
  await row(page, '1.2.0').waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.scrollWidth), 375, 'the page itself does not scroll sideways');
  assert.equal(await row(page, '1.2.0').locator('.wave-n').innerText(), 'Wave 1 of 3');
  assert.equal(await row(page, '1.1.0').locator('.wave-state').innerText(), 'Superseded', 'a newer promotion ends it');
  await shot(page, 'waves-375');
  const b = row(page, '1.2.0').locator('button.wave-all');
  await b.scrollIntoViewIfNeeded();
  await b.tap();
  const dialog = page.locator('dialog[open]');
  await dialog.waitFor();
  const box = await dialog.boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 375 && box.y + box.height <= PHONE.height, JSON.stringify(box));
  await dialog.getByLabel('Reason (required)').fill('Phone test');
  await shot(page, 'dialog-waves-all-375');
  await dialog.getByRole('button', { name: 'Cancel' }).tap();
  await dialog.waitFor({ state: 'detached' });
  await context.close();
});

test('a policy with its own plan: each rollout group shows its wave and state, in the cell and the detail', async () => {
  const s = server;
  await s.fleet('1.0.0', { none: 3 }, { channel: 'stable', site: 'lab' });
  await s.ok('PUT', '/api/policies', { scope: 'site', scope_id: 'lab', waves: { steps: ['100%'], soak: '10m', on_critical: 'pause' } }, s.admin);
  await s.publish('1.3.0');
  await s.promote('1.3.0', 'linux', 'x86_64', true);
  await s.ok('POST', '/api/updates/rollouts/1.3.0/waves/pause', { os: 'linux', arch: 'x86_64', group: 'site:lab', reason: 'lab maintenance' }, s.admin);
  const { page, context } = await updates();
  const r = () => row(page, '1.3.0');
  await r().waitFor();
  const groups = r().locator('.wave-groups li');
  assert.equal(await groups.count(), 2);
  const line = async (g) => {
    const li = r().locator(`li[data-group="${g}"]`);
    return [await li.locator('.wave-group-name').innerText(), await li.locator('.wave-group-n').innerText(),
      await li.locator('.wave-group-state').innerText()];
  };
  assert.deepEqual(await line('default'), ['default:', 'wave 1 of 3', 'Rolling out']);
  assert.deepEqual(await line('site:lab'), ['site lab:', 'wave 1 of 1', 'Paused: lab maintenance']);
  assert.equal(await r().locator('.waves-progress .wave-n').innerText(), 'Wave 1 of 3', 'the line itself is the default group');
  await shot(page, 'waves-groups-desktop');
  await r().locator('button.expand').click();
  const detail = page.locator('tr[data-detail="1.3.0|linux|x86_64"]');
  await detail.locator('section[data-group="site:lab"] table.waves').waitFor();
  assert.equal(await detail.locator('section[data-group="site:lab"] td.wave-agents').allInnerTexts().then((x) => x.join()), '3');
  assert.equal(await detail.locator('section[data-group="default"] td.wave-agents').count(), 3);
  assert.match(await detail.locator('section[data-group="site:lab"] h3').innerText(), /^site lab \(Paused: lab maintenance\)$/);
  await shot(page, 'waves-groups-detail-desktop');
  // Pause from the page: the lab is paused already, so only the default group takes it.
  await r().locator('button.wave-pause').click();
  const dialog = page.getByRole('dialog', { name: /Pause the rollout of 1\.3\.0/ });
  await dialog.getByRole('button', { name: 'Pause' }).click();
  await page.locator('.toast.success', { hasText: 'Rollout of 1.3.0 paused (wave 1 of 3)' }).waitFor();
  await r().locator('li[data-group="default"] .wave-group-state', { hasText: 'Paused' }).waitFor();
  assert.equal(await r().locator('button.wave-pause').getAttribute('aria-disabled'), 'true', 'every group is paused now');
  assert.deepEqual(page.jsErrors, []);
  await context.close();
});

test('/policies shows a policy\'s wave plan, and saving its channel from the page keeps the plan', async () => {
  const { page, context } = await open(browser, server, server.admin);
  await page.goto('/policies');
  const lab = page.locator('#policies tr', { hasText: 'lab' });
  await lab.waitFor();
  assert.equal(await lab.locator('td.rollout').innerText(), 'steps 100% · soak 600s · on_critical pause');
  await page.getByLabel('Scope').selectOption('site');
  await page.getByLabel('Client / site / agent id').fill('lab');
  await page.getByLabel('Channel').selectOption('stable');
  await page.getByRole('button', { name: 'Save policy' }).click();
  await page.locator('.toast.success', { hasText: 'Policy saved' }).waitFor();
  const stored = (await server.ok('GET', '/api/policies', undefined, server.admin)).policies.find((x) => x.scope === 'site' && x.scope_id === 'lab');
  assert.equal(stored.channel, 'stable');
  assert.deepEqual(stored.waves, { steps: ['100%'], soak: '600s', on_critical: 'pause' });
  assert.deepEqual(page.jsErrors, []);
  await context.close();
});
