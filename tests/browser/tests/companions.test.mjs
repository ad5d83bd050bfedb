// Login and logout, the empty state, the stale-stable banner, the viewer role, and the companion
// pages (/agents/{id}, /policies, /logs), against a real rollout-server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, ADMIN_PASSWORD } from '../lib/server.mjs';
import { launch, open, shot, row } from '../lib/browser.mjs';

let server, browser;

before(async () => {
  // stale_stable_after 1s: a beta newer than stable turns the banner on almost at once.
  server = await startServer({ stale: '1s' });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test('empty state: "No rollouts yet" with a hint on how to publish', async () => {
  const { page, context } = await open(browser, server, server.admin);
  await page.goto('/updates');
  const empty = page.locator('#rollouts .empty-title');
  await empty.waitFor();
  assert.equal(await empty.innerText(), 'No rollouts yet');
  assert.match(await page.locator('#rollouts td.empty').innerText(), /rolloutctl publish/);
  assert.ok(await page.locator('#stale-banner').isHidden());
  await context.close();
});

test('login, a reload keeps the right to act (CSRF from /api/auth/me), logout', async () => {
  const { page, context } = await open(browser, server, null);
  await page.goto('/');
  await page.waitForURL(/\/login\?next=%2Fupdates/);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill('wrong password!');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('#login-error').waitFor({ state: 'visible' });
  assert.equal(await page.locator('#login-error').innerText(), 'Wrong username or password.');
  await page.getByLabel('Password').fill(ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(/\/updates$/);
  assert.equal(await page.locator('#who').innerText(), 'admin (admin)');
  await page.reload();
  await page.locator('#who').waitFor();
  // A mutating call from the reloaded page carries the session's CSRF token.
  const status = await page.evaluate(async () => {
    const m = await import('/assets/common.js');
    await m.requireLogin();
    return (await m.api('PUT', '/api/policies', { scope: 'client', scope_id: 'csrf-check', channel: 'stable' })).status;
  });
  assert.equal(status, 200);
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.waitForURL(/\/login$/);
  await page.goto('/updates');
  await page.waitForURL(/\/login\?next=/);
  await context.close();
});

test('stale stable: a banner when beta has waited longer than the configured time', async () => {
  await server.publish('1.0.0');
  await server.promote('1.0.0', 'linux', 'x86_64', true);
  await server.publish('1.1.0');
  await new Promise((r) => setTimeout(r, 2100));
  const { page, context } = await open(browser, server, server.admin);
  await page.goto('/updates');
  const banner = page.locator('#stale-banner');
  await banner.waitFor({ state: 'visible' });
  assert.match(await banner.innerText(), /^Stable has fallen behind beta: 1\.1\.0 \(linux \/ x86_64\) has been on beta for more than/);
  // 1.1.0 has no reports yet: Unknown (gray), and Promote stays clickable with a force warning.
  const r = row(page, '1.1.0');
  assert.equal(await r.locator('.badge.health').innerText(), 'Unknown');
  const promote = r.locator('button.promote');
  assert.equal(await promote.getAttribute('aria-disabled'), null);
  await promote.focus();
  assert.match(await r.locator('button.promote + [role=tooltip]').innerText(), /^Health is Unknown: promoting will need a force promotion/);
  await context.close();
});

test('a viewer sees everything and can act on nothing', async () => {
  const agent = await server.agent({ version: '1.1.0', name: 'viewer-visible' });
  await server.report(agent, 'success');
  const viewer = await server.user('vera', 'viewer');
  const { page, context } = await open(browser, server, viewer);
  await page.goto('/updates');
  await row(page, '1.1.0').waitFor();
  for (const b of await page.locator('button.promote, button.rollback').all()) {
    assert.equal(await b.getAttribute('aria-disabled'), 'true');
  }
  const promote = row(page, '1.1.0').locator('button.promote');
  await promote.hover();
  const tip = row(page, '1.1.0').locator('button.promote + [role=tooltip]');
  await tip.waitFor({ state: 'visible' });
  assert.equal(await tip.innerText(), 'Your role (viewer) cannot promote; an operator or admin can.');
  await row(page, '1.1.0').locator('button.rollback').focus();
  assert.equal(await row(page, '1.1.0').locator('button.rollback + [role=tooltip]').innerText(),
    'Your role (viewer) cannot roll back; an operator or admin can.');
  await promote.click({ force: true });
  await row(page, '1.1.0').locator('button.rollback').click({ force: true });
  assert.equal(await page.locator('dialog').count(), 0);
  await row(page, '1.1.0').locator('button.expand').click();       // reading details is fine
  await page.locator('tr[data-detail="1.1.0|linux|x86_64"] section').first().waitFor();

  await page.goto('/policies');
  await page.locator('#agents').waitFor();
  assert.ok(await page.getByLabel('Channel').isDisabled());
  assert.equal(await page.locator('#pol-save').getAttribute('aria-disabled'), 'true');
  await page.goto(`/agents/${agent.id}`);
  await page.locator('#current-version').waitFor();
  await page.goto('/logs');
  await page.locator('#log-table table, #log-table .empty').first().waitFor();
  await context.close();
});

test('/agents/{id}: version, channel and its source, last check-in, history with crash evidence', async () => {
  await server.publish('1.2.0');
  const a = await server.agent({ version: '1.2.0', name: 'crashy-host', client: 'globex', site: 'lab' });
  await server.report(a, 'crash');
  const { page, context } = await open(browser, server, server.admin);
  await page.goto(`/agents/${a.id}`);
  await page.locator('h1', { hasText: 'Agent crashy-host' }).waitFor();
  assert.equal(await page.locator('#current-version').innerText(), '1.2.0');
  assert.match(await page.locator('#channel').innerText(), /Beta.*\(inherited from its enrollment\)/);
  assert.match(await page.locator('#last-checkin').innerText(), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
  assert.equal(await page.locator('#last-checkin-note').innerText(),
    "recorded every 5 min while the agent's version and state stay the same");
  await shot(page, 'agent-desktop');
  const h = page.locator('#history tbody tr').first();
  assert.match(await h.innerText(), /crash/);
  assert.match(await h.locator('td.evidence').innerText(), /exit code 139.*signal 11[\s\S]*panic: nil map write/);
  await page.locator('#current-version a').click();
  await page.waitForURL(/\/updates#release-1\.2\.0-linux-x86_64$/);
  await page.locator('tr.highlight[id="release-1.2.0-linux-x86_64"]').waitFor();
  await context.close();
});

test('/policies: an admin sets a channel through the API (CSRF) and the inheritance shows', async () => {
  const a = await server.agent({ version: '1.0.0', name: 'policy-host', client: 'initech', site: 'branch', channel: 'stable' });
  const { page, context } = await open(browser, server, server.admin);
  await page.goto('/policies');
  const agentRow = page.locator(`#agents tr[data-agent="${a.id}"]`);
  await agentRow.waitFor();
  assert.equal(await agentRow.locator('td.source').innerText(), 'enrollment hint');
  await page.getByLabel('Scope').selectOption('site');
  await page.getByLabel('Client / site / agent id').fill('branch');
  await page.getByLabel('Channel').selectOption('beta');
  await page.getByLabel('Window start (UTC)').fill('01:00');
  await page.getByLabel('Window end (UTC)').fill('05:00');
  await page.getByRole('button', { name: 'Save policy' }).click();
  assert.equal(await page.locator('.toast.success').innerText(), 'Policy saved');
  await page.locator('#policies tr', { hasText: 'branch' }).waitFor();
  assert.match(await page.locator('#policies tr', { hasText: 'branch' }).innerText(), /site\s+branch\s+beta\s+01:00–05:00/);
  await page.waitForFunction((id) => document.querySelector(`#agents tr[data-agent="${id}"] td.source`)?.textContent === 'site branch', a.id);
  assert.equal(await agentRow.locator('td.channel').innerText(), 'beta');
  await shot(page, 'policies-desktop');
  await context.close();
});

test('/logs: keyword filter ("update", "rollout") and level', async () => {
  const { page, context } = await open(browser, server, server.admin);
  await page.goto('/logs');
  await page.locator('#logs').waitFor();
  await page.getByRole('button', { name: 'rollout' }).click();
  await page.waitForFunction(() => [...document.querySelectorAll('#logs td.message')].length > 0 &&
    [...document.querySelectorAll('#logs tbody tr')].every((tr) => /rollout/i.test(tr.textContent)));
  await page.getByLabel('Keyword').fill('login failed');
  await page.getByLabel('Level').selectOption('warn');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('#logs tbody tr')];
    return rows.length > 0 && rows.every((tr) => tr.querySelector('td.level').textContent === 'warn' && /login failed/.test(tr.textContent));
  });
  await page.getByLabel('Keyword').fill('no-such-entry-anywhere');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.locator('#log-table .empty').waitFor();
  await context.close();
});
