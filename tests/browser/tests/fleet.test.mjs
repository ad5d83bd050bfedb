// The main job seen from the page: scripts/demo-fleet (the fleet ./scripts/run starts) with real
// rollout-agent processes, logged into with the password it prints. The normal fleet shows its
// releases and agents on /updates; the crash scenario shows the crashed beta, and a rollback
// from the page ends it. Every process the script started stops with it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILD_DIR } from '../lib/server.mjs';
import { launch, shot, row, DESKTOP } from '../lib/browser.mjs';

const SCRIPT = join(import.meta.dirname, '../../../scripts/demo-fleet');
let browser;

before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

// Starts the fleet; resolves with its URL and password once it says Ctrl-C stops it.
function startFleet(args) {
  const state = mkdtempSync(join(tmpdir(), 'rollout-fleet-'));
  const child = spawn(SCRIPT, [BUILD_DIR, state, ...args], {
    env: { ...process.env, ROLLOUT_PORT: '0' }, stdio: ['ignore', 'ignore', 'pipe'], detached: true,
  });
  let err = '';
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('fleet did not come up:\n' + err)), 240000);
    child.stderr.on('data', (d) => {
      err += d;
      const url = /Updates page: (https:\/\/\S+)\/updates/.exec(err);
      const pw = /login: admin \/ (\S+)/.exec(err);
      if (url && pw && /Ctrl-C stops/.test(err)) {
        clearTimeout(timer);
        resolve({ url: url[1], password: pw[1] });
      }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`fleet exited ${code}:\n${err}`)); });
  });
  const stop = async () => {
    const exited = new Promise((r) => child.once('exit', r));
    try { process.kill(child.pid, 'SIGTERM'); } catch { /* already gone */ }
    await exited;
    rmSync(state, { recursive: true, force: true });
    return err;
  };
  return { ready, stop };
}

async function login(fleet) {
  const context = await browser.newContext({ viewport: DESKTOP, baseURL: fleet.url, ignoreHTTPSErrors: true });
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  await page.goto('/updates');
  await page.waitForURL(/\/login/);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(fleet.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(/\/updates$/);
  return { page, context };
}

const cell = (page, version, cls) => row(page, version).locator('td.' + cls).innerText();

test('./scripts/run: the fleet populates the Updates page', async () => {
  const f = startFleet(['--agents', '8']);
  try {
    const fleet = await f.ready;
    const { page, context } = await login(fleet);
    await row(page, '1.1.0').waitFor();
    await row(page, '1.0.0').waitFor();
    // 2 of 8 agents on beta updated to 1.1.0; the other 6 stay on stable 1.0.0 (the counts follow
    // the agents' check-ins, so refresh until they are all in).
    for (let i = 0; i < 60; i++) {
      if (await cell(page, '1.1.0', 'beta-agents') === '2' && await cell(page, '1.0.0', 'stable-agents') === '6') break;
      await page.waitForTimeout(1000);
      await page.locator('#refresh').click();
    }
    assert.equal(await cell(page, '1.1.0', 'beta-agents'), '2');
    assert.equal(await cell(page, '1.0.0', 'stable-agents'), '6');
    assert.match(await row(page, '1.1.0').locator('.badge.health').innerText(), /healthy/i);
    assert.match(await cell(page, '1.1.0', 'success'), /100% \(2\/2\)/);
    await shot(page, 'fleet-updates-desktop');
    await context.close();
  } finally {
    const log = await f.stop();
    assert.match(log, /stopped 8 rollout-agent processes/);
    assert.match(log, /stopped rollout-server/);
  }
});

test('./scripts/run --scenario crash: the crash shows on the page and is rolled back from it', async () => {
  const f = startFleet(['--agents', '4', '--scenario', 'crash']);
  try {
    const fleet = await f.ready;
    const { page, context } = await login(fleet);
    const r = row(page, '1.1.0');
    await r.waitFor();
    assert.match(await r.locator('.badge.health').innerText(), /critical|blocked/i);
    await r.locator('button.rollback').click();
    const dialog = page.getByRole('dialog', { name: /Roll back 1\.1\.0/ });
    await dialog.getByLabel('Reason (required)').fill('crashes 3 s after start');
    await dialog.getByRole('button', { name: 'Rollback' }).click();
    const t = page.locator('.toast.success');
    await t.waitFor();
    assert.match(await t.innerText(), /^Version 1\.1\.0 rolled back\. (1 agent|\d+ agents) downgraded$/);
    await page.waitForFunction(() => /blocked/i.test(document.querySelector('tr[id="release-1.1.0-linux-x86_64"] .badge.health')?.textContent || ''));
    await shot(page, 'fleet-crash-desktop');
    await context.close();
  } finally {
    await f.stop();
  }
});
