// The page against the user guide, by class rather than by example (issue #10 §4):
// - every column heading is the guide's word for it (read from the guide when it is beside the
//   repository, otherwise the list below, which quotes it);
// - a number before a noun agrees with it everywhere a person reads it (toast, history, dialog);
// - an expanded row's detail never widens the table past its box at 1280 px: Actions stay in view;
// - every class the pages' markup uses has a style, unless it is a named script/test hook.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startServer } from '../lib/server.mjs';
import { launch, open, shot, row } from '../lib/browser.mjs';

const REPO = join(import.meta.dirname, '../../..');
const ASSETS = join(REPO, 'server-plugin/web/assets');
// "### Columns" of UPDATES_PAGE_USER_GUIDE.md, in its order.
const GUIDE_COLUMNS = ['Version', 'OS / Arch', 'Channel', 'Health Status', 'Success Rate', 'Beta Agents',
  'Stable Agents', 'Actions'];

let server, browser, operator;

before(async () => {
  server = await startServer();
  operator = await server.user('oscar', 'operator');
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

async function updates() {
  const o = await open(browser, server, operator);
  await o.page.goto('/updates');
  await o.page.locator('#rollouts tbody td').first().waitFor();
  return o;
}

test('the guide\'s column list is the one this test checks against', () => {
  const guide = join(REPO, '../shared/UPDATES_PAGE_USER_GUIDE.md');
  if (!existsSync(guide)) return;  // a clone without the steering docs beside it
  const text = readFileSync(guide, 'utf8');
  const section = text.split('### Columns')[1].split(/\n## /)[0];
  const cols = [...section.matchAll(/^#### (.+)$/gm)].map((m) => m[1].trim());
  assert.deepEqual(cols, GUIDE_COLUMNS);
});

test('empty state: the title is styled as a title, and every column heading is the guide\'s', async () => {
  const { page, context } = await updates();
  const title = page.locator('#rollouts .empty-title');
  await title.waitFor();
  const style = await title.evaluate((e) => {
    const s = getComputedStyle(e);
    const body = getComputedStyle(document.body);
    return { weight: Number(s.fontWeight), size: parseFloat(s.fontSize), bodySize: parseFloat(body.fontSize) };
  });
  assert.ok(style.weight >= 600, `title weight ${style.weight}`);
  assert.ok(style.size > style.bodySize, `title ${style.size}px vs body ${style.bodySize}px`);
  const heads = (await page.locator('#rollouts thead th').allInnerTexts()).map((h) => h.trim());
  assert.deepEqual(heads.slice(1), GUIDE_COLUMNS);
  await context.close();
});

test('one agent is "1 agent": rollback dialog, toast and history', async () => {
  await server.publish('1.0.0');
  await server.promote('1.0.0', 'linux', 'x86_64', true);
  await server.publish('1.1.0');
  await server.fleet('1.1.0', { success: 1 });
  const { page, context } = await updates();
  const r = row(page, '1.1.0');
  await r.locator('button.rollback').click();
  const dialog = page.locator('dialog[open]');
  await dialog.waitFor();
  assert.match(await dialog.innerText(), /\b1 agent is on 1\.1\.0 now\./);
  await dialog.getByLabel('Reason (required)').fill('Crashes on startup');
  await dialog.locator('button.danger').click();
  const t = page.locator('.toast.success');
  await t.waitFor();
  assert.equal(await t.innerText(), 'Version 1.1.0 rolled back. 1 agent downgraded');
  await r.locator('button.expand').click();
  const hist = page.locator('tr[data-detail="1.1.0|linux|x86_64"] ul.history');
  await hist.waitFor();
  assert.match(await hist.innerText(), / — 1 agent downgraded to 1\.0\.0/);
  assert.doesNotMatch(await page.locator('body').innerText(), /\b1 agents\b/);
  await context.close();
});

test('an expanded row with long evidence stays inside the table box at 1280 px; Actions in view', async () => {
  await server.publish('2.0.0');
  const long = 'x'.repeat(60);
  const [a] = await server.fleet('2.0.0', { none: 1 });
  await server.report(a, 'crash', {
    error_code: 'e'.repeat(64),
    message: 'the new version wrote ' + 'very-long-unbroken-path/'.repeat(12),
    stderr_tail: Array.from({ length: 6 }, (_, i) => `line ${i}: ${long}${long}${long}${long}`).join('\n'),
  });
  const { page, context } = await updates();
  const wrap = page.locator('#table-wrap');
  const fits = async () => wrap.evaluate((w) => w.scrollWidth <= w.clientWidth + 1);
  assert.ok(await fits(), 'the table fits before expanding');
  const r = row(page, '2.0.0');
  await r.locator('button.expand').click();
  await page.locator('tr[data-detail="2.0.0|linux|x86_64"] table.failures').waitFor();
  assert.ok(await fits(), 'the expanded detail widened the table past its box');
  const box = await wrap.boundingBox();
  const actions = await r.locator('td').last().boundingBox();
  assert.ok(actions.x + actions.width <= box.x + box.width + 1, 'Actions pushed out of view');
  await shot(page, 'updates-expanded-long-evidence-1280');
  await context.close();
});

// Classes that only scripts and tests select on; everything else the markup uses must be styled.
const HOOKS = new Set(['version', 'osarch', 'channel', 'beta-agents', 'stable-agents', 'expand', 'promote',
  'rollback', 'cancel', 'failures', 'count-24h', 'count-all', 'stderr', 'history', 'promote-dialog', 'force-dialog',
  'rollback-dialog', 'quick', 'level', 'message', 'evidence', 'source', 'detail',
  // waves.js
  'channel-cell', 'wave-share', 'wave-agents', 'wave-on', 'wave-dialog', 'wave-group', 'wave-group-n', 'waves-cell',
  // policies.js
  'rollout']);

function classesUsed(src) {
  const out = new Set();
  // `level-${x}` and the like are families styled by prefix in the CSS; a literal class is checked.
  const add = (list) => list.split(/\s+/).filter((c) => /^[a-z][a-z0-9-]*[a-z0-9]$/.test(c)).forEach((c) => out.add(c));
  src = src.replace(/^\s*\/\/.*$/gm, '');
  for (const m of src.matchAll(/class(?:Name)?\s*[:=]\s*(['"`])([^'"`]*)\1/g)) add(m[2].replace(/\$\{[^}]*\}/g, ' '));
  for (const m of src.matchAll(/classList\.(?:add|toggle)\(\s*'([^']+)'/g)) add(m[1]);
  for (const m of src.matchAll(/withTip\([^)]*?,\s*'([^']+)'\)/g)) add(m[1]);
  return out;
}

test('every class the pages use has a style or is a named hook', () => {
  const css = readFileSync(join(ASSETS, 'app.css'), 'utf8');
  const styled = new Set([...css.matchAll(/\.([a-z][a-z0-9-]*)/g)].map((m) => m[1]));
  const missing = [];
  for (const f of readdirSync(ASSETS).filter((n) => /\.(js|html)$/.test(n))) {
    for (const c of classesUsed(readFileSync(join(ASSETS, f), 'utf8'))) {
      if (!styled.has(c) && !HOOKS.has(c)) missing.push(`${f}: .${c}`);
    }
  }
  assert.deepEqual(missing, [], 'classes with no rule in app.css (style them, or name them as hooks here)');
});

test('no message puts a number before a plural noun without counted()', () => {
  const bad = [];
  const files = readdirSync(ASSETS).filter((n) => n.endsWith('.js')).map((n) => join(ASSETS, n));
  for (const dir of ['server-plugin', 'tools', 'agent']) {
    const walk = (d) => readdirSync(d, { withFileTypes: true }).forEach((e) => {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p); else if (/\.cpp$/.test(e.name)) files.push(p);
    });
    walk(join(REPO, dir));
  }
  const nouns = '(agents|attempts|reports|releases|crashes|failures|versions|waves)';
  const js = new RegExp(`\\$\\{[^}]*\\}\\s+${nouns}\\b`);
  const cpp = new RegExp(`(to_string\\([^)]*\\)\\s*\\+\\s*"\\s+${nouns}\\b|%(ll|l)?[du]\\s+${nouns}\\b)`);
  for (const f of files) {
    readFileSync(f, 'utf8').split('\n').forEach((line, i) => {
      if ((f.endsWith('.js') ? js : cpp).test(line)) bad.push(`${f.slice(REPO.length + 1)}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(bad, [], 'use counted() (JS) or text::counted (C++)');
});
