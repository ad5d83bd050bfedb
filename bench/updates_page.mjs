// Benchmark (not a test): the Updates page with 10 000 agents and 50 releases seeded through the
// API, measured in Chromium with Playwright against the user guide's budgets:
//   first load of /updates to a rendered table  < 2 s
//   one auto-refresh (30 s timer, via page.clock)  < 500 ms
//   one promote round-trip (confirm -> toast)      < 1 s
// Numbers depend on the machine and build; write them down with the command that made them.
// usage: bench/updates_page.sh [BUILD_DIR (default build/dev)]   (AGENTS=, RELEASES= to resize)
import { startServer } from '../tests/browser/lib/server.mjs';
import { launch, open } from '../tests/browser/lib/browser.mjs';

const AGENTS = Number(process.env.AGENTS || 10000);
const RELEASES = Number(process.env.RELEASES || 50);
const PAIRS = [['linux', 'x86_64'], ['linux', 'aarch64'], ['windows', 'x86_64'], ['windows', 'aarch64']];

const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const now = () => process.hrtime.bigint();

const server = await startServer({ timeoutS: 3600 });
let browser;
try {
  const t0 = now();
  const releases = [];
  for (let i = 0; i < RELEASES; i++) {
    const [os, arch] = PAIRS[i % PAIRS.length];
    const version = `1.${Math.floor(i / PAIRS.length)}.0`;
    await server.publish(version, os, arch);
    releases.push({ version, os, arch });
  }
  // The oldest release of each pair is stable; the rest stay beta.
  for (const [os, arch] of PAIRS) await server.promote('1.0.0', os, arch, true);
  console.error(`published ${RELEASES} releases in ${(ms(t0) / 1000).toFixed(1)} s`);

  const t1 = now();
  let made = 0;
  const jobs = [];
  for (let i = 0; i < AGENTS; i++) {
    const rel = releases[i % releases.length];
    jobs.push(async () => {
      const a = await server.agent({ version: rel.version, os: rel.os, arch: rel.arch,
        channel: i % 10 === 0 ? 'beta' : 'stable', client: `client-${i % 40}`, site: `site-${i % 200}`, name: `bench-${i}` });
      await server.report(a, i % 97 === 0 ? 'failure' : 'success');
      made++;
    });
  }
  for (let i = 0; i < jobs.length; i += 32) {
    await Promise.all(jobs.slice(i, i + 32).map((j) => j()));
    if (i % 2000 === 0) console.error(`  ${made} agents`);
  }
  console.error(`seeded ${made} agents in ${(ms(t1) / 1000).toFixed(1)} s`);

  const api = now();
  const rows = await server.ok('GET', '/api/updates/rollouts', undefined, server.admin);
  const apiMs = ms(api);

  browser = await launch();
  const { page } = await open(browser, server, server.admin);
  await page.clock.install();
  // Warm the browser's own caches once on another page, so the figure is the page, not Chromium's start.
  await page.goto('/login');

  const tLoad = now();
  await page.goto('/updates');
  await page.locator('#rollouts tbody tr[data-key]').first().waitFor();
  const loadMs = ms(tLoad);
  const rendered = await page.locator('#rollouts tbody tr[data-key]').count();

  const tRefresh = now();
  const resp = page.waitForResponse((r) => r.url().endsWith('/api/updates/rollouts'));
  await page.clock.runFor(30_000);
  await resp;
  await page.locator('#loading').waitFor({ state: 'hidden' });
  const refreshMs = ms(tRefresh);

  const target = rows.rollouts.find((r) => r.channel === 'beta' && r.can_promote) ||
    rows.rollouts.find((r) => r.channel === 'beta' && r.needs_force);
  const tr = page.locator(`tr[id="release-${target.version}-${target.os}-${target.arch}"]`);
  await tr.locator('button.promote').click();
  await page.locator('#promote-confirm').waitFor();
  const tPromote = now();
  await page.locator('#promote-confirm').click();
  if (!target.can_promote) {
    await page.getByLabel('Reason for forcing (required)').fill('benchmark');
    await page.locator('#force-confirm').click();
  }
  await page.locator('.toast.success').waitFor();
  const promoteMs = ms(tPromote);

  const row = (name, v, budget) => `${name.padEnd(38)} ${v.toFixed(0).padStart(6)} ms   budget ${budget} ms   ${v <= budget ? 'OK' : 'OVER'}`;
  console.log(`Updates page benchmark: ${made} agents, ${RELEASES} releases, ${rendered} rows rendered`);
  console.log(row('first load of /updates to table', loadMs, 2000));
  console.log(row('one auto-refresh', refreshMs, 500));
  console.log(row(`promote round-trip (${target.version} ${target.os}/${target.arch}${target.can_promote ? '' : ', forced'})`, promoteMs, 1000));
  console.log(`(GET /api/updates/rollouts alone, from node: ${apiMs.toFixed(0)} ms)`);
} finally {
  await browser?.close();
  await server.close();
}
