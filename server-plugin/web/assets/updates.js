// The Updates page: the rollouts table with health, promote and rollback, row details, the
// stale-stable banner, auto-refresh every 30 s. Dialogs live outside the table, so a refresh
// (which re-renders only the table body) never touches an open dialog or a typed reason.
import {
  api, requireLogin, renderNav, el, withTip, toast, openDialog, canOperate, user, fmtTime,
  releaseAnchor, counted,
} from '/assets/common.js';
import * as waves from '/assets/waves.js';

const REFRESH_MS = 30000;
const STATUS_CLASS = { Healthy: 'healthy', Warning: 'warning', Critical: 'critical', Blocked: 'blocked', Unknown: 'unknown' };

let rows = [];
let staleAfter = 0;
let loaded = false;
let inFlight = null;
const expanded = new Set();   // keys of rows whose details are open
const details = new Map();    // key -> detail answer (or {error})
let dialogOpen = false;

// The API names levels in lower case ("healthy"); the page shows them as the guide does.
const statusName = (s) => (s ? s[0].toUpperCase() + s.slice(1).toLowerCase() : 'Unknown');
function normalise(r) { r.health.status = statusName(r.health.status); return r; }

const keyOf = (r) => `${r.version}|${r.os}|${r.arch}`;
const osArch = (r) => `${r.os} / ${r.arch}`;

function pct(rate) { return Math.floor(rate * 100 + 1e-9); }

function rateColor(h) {
  if (h.success_color) return h.success_color;
  const p = h.success_rate * 100;
  return p >= 95 ? 'green' : p >= 80 ? 'yellow' : 'red';
}

// "96% (48/50)"; with a tooltip giving the interval when the sample is too small to judge.
function rateCell(h) {
  if (!h.total) return el('span', { class: 'rate none', text: '— (0/0)' });
  const text = `${pct(h.success_rate)}% (${h.success}/${h.total})`;
  const span = el('span', { class: `rate ${rateColor(h)}`, text });
  const [lo, hi] = h.success_interval || [h.success_rate, h.success_rate];
  if (h.total < 20 || hi - lo > 0.2) {
    span.setAttribute('tabindex', '0');
    return withTip(span, `${h.success}/${h.total} — too few attempts to judge ` +
      `(likely between ${pct(lo)}% and ${pct(hi)}%)`, 'left');
  }
  return span;
}

function blockerText(r) {
  return (r.promote_blockers || []).map((b) => b.message).join('; ');
}

function promoteButton(r) {
  const key = keyOf(r);
  const b = el('button', { type: 'button', class: 'promote', 'data-key': key, 'data-action': 'promote',
    'aria-label': `Promote ${r.version} ${osArch(r)} to stable`, text: '↑ Promote' });
  let tip = null;
  let disabled = false;
  if (r.channel !== 'beta') {
    disabled = true;
    tip = `Only beta releases can be promoted; ${r.version} is on ${r.channel}.`;
  } else if (r.health.status === 'Blocked') {
    disabled = true;
    tip = `Blocked releases cannot be promoted, not even forced: ${r.blocked_reason || blockerText(r) || 'blocked'}.`;
  } else if (!canOperate()) {
    disabled = true;
    tip = `Your role (${user().role}) cannot promote; an operator or admin can.`;
  } else if (!r.can_promote) {
    tip = `Health is ${r.health.status}: promoting will need a force promotion with a reason` +
      (blockerText(r) ? ` (${blockerText(r)}).` : '.');
  } else {
    tip = `Promote ${r.version} to stable.`;
  }
  if (disabled) b.setAttribute('aria-disabled', 'true');
  b.addEventListener('click', (e) => {
    if (b.getAttribute('aria-disabled') === 'true') { e.preventDefault(); return; }
    openPromote(r);
  });
  return withTip(b, tip);
}

function rollbackButton(r) {
  const key = keyOf(r);
  const b = el('button', { type: 'button', class: 'rollback', 'data-key': key, 'data-action': 'rollback',
    'aria-label': `Roll back ${r.version} ${osArch(r)}`, text: '↺ Rollback' });
  let tip;
  let disabled = false;
  if (!r.can_rollback) {
    disabled = true;
    tip = `${r.version} is already blocked${r.blocked_reason ? ': ' + r.blocked_reason : ''}.`;
  } else if (!canOperate()) {
    disabled = true;
    tip = `Your role (${user().role}) cannot roll back; an operator or admin can.`;
  } else {
    tip = `Block ${r.version} and force-downgrade its agents.`;
  }
  if (disabled) b.setAttribute('aria-disabled', 'true');
  b.addEventListener('click', (e) => {
    if (b.getAttribute('aria-disabled') === 'true') { e.preventDefault(); return; }
    openRollback(r);
  });
  return withTip(b, tip);
}

function rowFor(r) {
  const key = keyOf(r);
  const open = expanded.has(key);
  const toggle = el('button', { type: 'button', class: 'expand', 'aria-expanded': open ? 'true' : 'false',
    'aria-label': `Details of ${r.version} ${osArch(r)}`, text: open ? '▾' : '▸',
    onclick: () => toggleDetail(key) });
  const tr = el('tr', { id: releaseAnchor(r.version, r.os, r.arch), 'data-key': key,
    class: location.hash === '#' + releaseAnchor(r.version, r.os, r.arch) ? 'highlight' : null },
  el('td', {}, toggle),
  el('td', { class: 'mono version', text: r.version }),
  el('td', { class: 'osarch', text: osArch(r) }),
  el('td', { class: 'channel-cell' }, el('span', { class: `badge channel ${r.channel}`, text: r.channel === 'beta' ? 'Beta' : 'Stable' }),
    waves.progress(r)),
  el('td', {}, el('span', { class: `badge health ${STATUS_CLASS[r.health.status] || 'unknown'}`, text: r.health.status })),
  el('td', { class: 'success' }, rateCell(r.health)),
  el('td', { class: 'beta-agents', text: String(r.beta_agents) }),
  el('td', { class: 'stable-agents', text: String(r.stable_agents) }),
  el('td', {}, el('div', { class: 'actions' }, promoteButton(r), rollbackButton(r)), waves.buttons(r, refresh)));
  const out = [tr];
  if (open) out.push(detailRow(key));
  return out;
}

function detailRow(key) {
  const d = details.get(key);
  let content;
  if (!d) content = el('p', { text: 'Loading details…' });
  else if (d.error) content = el('p', { class: 'warning-text', text: `Could not load details: ${d.error}` });
  else {
    const r = rows.find((x) => keyOf(x) === key);
    content = el('div', { class: 'detail-grid' }, r ? waves.detailBlock(r) : null, failuresBlock(d), historyBlock(d));
  }
  return el('tr', { class: 'detail-row', 'data-detail': key }, el('td', { colspan: '9' },
    el('div', { class: 'detail' }, content)));
}

function failuresBlock(d) {
  const box = el('section', { 'aria-label': 'Failure patterns' }, el('h2', { text: 'Failure patterns' }));
  if (!d.failures.length) { box.append(el('p', { text: 'No failures or crashes reported.' })); return box; }
  const t = el('table', { class: 'failures' },
    el('thead', {}, el('tr', {}, ['Outcome', 'Stage', 'Error code', 'Last 24 h', 'All time', 'Last seen', 'Evidence']
      .map((h) => el('th', { scope: 'col', text: h })))),
    el('tbody', {}, d.failures.map((f) => el('tr', {},
      el('td', { text: f.outcome }), el('td', { text: f.stage }), el('td', { class: 'mono', text: f.error_code }),
      el('td', { class: 'count-24h', text: String(f.count_24h) }), el('td', { class: 'count-all', text: String(f.count) }),
      el('td', { text: fmtTime(f.last_seen) }),
      el('td', { class: 'wrap' }, f.sample_message ? el('div', { text: f.sample_message }) : null,
        f.sample_stderr ? el('pre', { class: 'stderr', text: f.sample_stderr }) : null)))));
  box.append(el('div', { class: 'table-wrap' }, t));
  return box;
}

function historyBlock(d) {
  const box = el('section', { 'aria-label': 'Promote and rollback history' }, el('h2', { text: 'Promote / rollback history' }));
  const ev = (d.events || []).filter((e) => ['promote', 'rollback', 'publish', 'rollout_'].some((a) => e.action.includes(a)));
  if (!ev.length) { box.append(el('p', { text: 'Not promoted or rolled back yet.' })); return box; }
  box.append(el('ul', { class: 'history' }, ev.map((e) => el('li', {},
    `${fmtTime(e.at)} — ${e.action}${e.force ? ' (forced)' : ''} by ${e.user}`,
    e.reason ? `: “${e.reason}”` : '',
    e.detail && e.detail.downgraded_agents !== undefined
      ? ` — ${counted(e.detail.downgraded_agents, 'agent')} downgraded to ${e.detail.fallback_version}` : ''))));
  return box;
}

async function loadDetail(key) {
  const [version, os, arch] = key.split('|');
  const r = await api('GET', `/api/updates/rollouts/${encodeURIComponent(version)}/detail?os=${encodeURIComponent(os)}&arch=${encodeURIComponent(arch)}`);
  details.set(key, r.ok ? r.data : { error: r.data.message || `HTTP ${r.status}` });
}

async function toggleDetail(key) {
  if (expanded.has(key)) expanded.delete(key);
  else expanded.add(key);
  render();
  const btn = document.querySelector(`tr[data-key="${CSS.escape(key)}"] button.expand`);
  if (btn) btn.focus();
  if (expanded.has(key)) {
    await loadDetail(key);
    render();
  }
}

function renderBanner() {
  const banner = document.getElementById('stale-banner');
  const stale = rows.filter((r) => r.stale_stable);
  if (!stale.length) { banner.hidden = true; banner.textContent = ''; return; }
  const hours = Math.round(staleAfter / 3600);
  banner.hidden = false;
  banner.textContent = 'Stable has fallen behind beta: ' + stale.map((r) =>
    `${r.version} (${osArch(r)})`).join(', ') +
    ` has been on beta for more than ${hours >= 1 ? hours + ' h' : Math.round(staleAfter / 60) + ' min'} without being promoted.`;
}

function render() {
  const tbody = document.querySelector('#rollouts tbody');
  const focusedKey = document.activeElement && document.activeElement.closest
    && document.activeElement.closest('#rollouts') ? document.activeElement.dataset.key : null;
  const focusedAction = focusedKey ? document.activeElement.dataset.action : null;
  if (!rows.length) {
    tbody.replaceChildren(el('tr', {}, el('td', { colspan: '9', class: 'empty' },
      el('p', { class: 'empty-title', text: 'No rollouts yet' }),
      el('p', {}, 'Publish a release to see it here: ',
        el('code', { text: 'rolloutctl publish --server URL --artifact FILE --manifest release.json' }),
        ' (or POST /api/updates/releases). A new release enters beta.'))));
  } else {
    tbody.replaceChildren(...rows.flatMap(rowFor));
  }
  renderBanner();
  if (focusedKey && focusedAction) {
    const b = tbody.querySelector(`[data-key="${CSS.escape(focusedKey)}"][data-action="${focusedAction}"]`);
    if (b) b.focus();
  }
}

// Fetches the rows. A failure leaves the last table in place and shows a quiet error with Retry.
export async function refresh() {
  if (inFlight) return inFlight;
  const loading = document.getElementById('loading');
  loading.hidden = false;
  document.getElementById('rollouts').setAttribute('aria-busy', 'true');
  inFlight = (async () => {
    const r = await api('GET', '/api/updates/rollouts');
    const err = document.getElementById('refresh-error');
    if (r.ok && Array.isArray(r.data.rollouts)) {
      rows = r.data.rollouts.map(normalise);
      staleAfter = r.data.stale_stable_after_s || 0;
      loaded = true;
      err.hidden = true;
      err.replaceChildren();
      await Promise.all([...expanded].map(loadDetail));
      render();
      document.getElementById('updated-at').textContent = `Updated ${new Date().toLocaleTimeString()}`;
    } else if (r.status !== 401) {
      err.hidden = false;
      err.replaceChildren(`Refresh failed (${r.data.message || 'HTTP ' + r.status}); ` +
        (loaded ? 'showing the last data. ' : '') + 'Retrying in 30 s. ',
      el('button', { type: 'button', id: 'retry', text: 'Retry', onclick: () => refresh() }));
      if (!loaded) {
        document.querySelector('#rollouts tbody').replaceChildren(el('tr', {}, el('td', { colspan: '9', class: 'empty',
          text: 'The rollouts could not be loaded yet; retrying.' })));
      }
    }
  })();
  try { await inFlight; } finally {
    inFlight = null;
    loading.hidden = true;
    document.getElementById('rollouts').removeAttribute('aria-busy');
  }
}

function dialogHeader(id, title) { return el('h2', { id, text: title }); }

function healthSummary(r) {
  const h = r.health;
  return el('dl', { class: 'facts' },
    el('dt', { text: 'Health' }), el('dd', {}, el('span', { class: `badge ${STATUS_CLASS[h.status]}`, text: h.status })),
    el('dt', { text: 'Success rate' }), el('dd', { text: h.total ? `${pct(h.success_rate)}% (${h.success}/${h.total})` : 'no attempts yet' }),
    el('dt', { text: 'Crashes' }), el('dd', { text: String(h.crash) }),
    el('dt', { text: 'Stable agents now' }), el('dd', { text: 'will move to this version in waves, each judged before the next' }));
}

function openPromote(r) {
  if (dialogOpen) return;
  dialogOpen = true;
  openDialog({
    label: 'promote-title',
    onClose: () => { dialogOpen = false; },
    build: (dialog, close) => {
      const confirm = el('button', { type: 'submit', class: 'primary', id: 'promote-confirm', text: 'Promote' });
      const form = el('form', { method: 'dialog', class: 'promote-dialog' },
        dialogHeader('promote-title', `Promote ${r.version} to stable?`),
        el('p', {}, 'Release ', el('span', { class: 'mono', text: r.version }), ` for ${osArch(r)} becomes the stable target; ` +
          'stable agents will update to it, beta agents stay on beta. The server checks its health again when you confirm.'),
        healthSummary(r),
        el('div', { class: 'buttons' },
          el('button', { type: 'button', class: 'cancel', text: 'Cancel', onclick: close }), confirm));
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        confirm.disabled = true;
        confirm.textContent = 'Promoting…';
        const res = await api('POST', `/api/updates/rollouts/${encodeURIComponent(r.version)}/promote`, { os: r.os, arch: r.arch });
        if (res.ok) {
          close();
          toast(`Version ${r.version} promoted to stable`, 'success');
          refresh();
        } else if (res.status === 409 && res.data.can_force) {
          showForce(dialog, close, r, res.data);
        } else {
          close();
          toast(`Could not promote ${r.version}: ${res.data.message || 'HTTP ' + res.status}`, 'error');
          refresh();
        }
      });
      dialog.append(form);
    },
  });
}

// The warning step: the server refused; list its reasons and offer Force Promote with a reason.
function showForce(dialog, close, r, answer) {
  const reason = el('textarea', { id: 'force-reason', rows: '3', required: true,
    'aria-describedby': 'force-help', placeholder: 'e.g. known cosmetic issue, tracked in #123' });
  const force = el('button', { type: 'submit', class: 'danger', id: 'force-confirm', text: 'Force Promote', disabled: true });
  reason.addEventListener('input', () => { force.disabled = reason.value.trim() === ''; });
  const form = el('form', { method: 'dialog', class: 'force-dialog' },
    dialogHeader('promote-title', `Health check failed for ${r.version}`),
    el('p', { class: 'warning-text', role: 'alert', text: `The server's health check refused to promote ${r.version} to stable:` }),
    el('ul', { class: 'reasons' }, (answer.reasons || []).map((x) =>
      el('li', { 'data-code': x.code }, el('span', { text: x.message }), ' ', el('code', { text: `(${x.code})` })))),
    el('p', { id: 'force-help', text: 'Only force promote if you understand the risks. The reason is kept in the audit trail.' }),
    el('label', { for: 'force-reason', text: 'Reason for forcing (required)' }), reason,
    el('div', { class: 'buttons' },
      el('button', { type: 'button', class: 'cancel', text: 'Cancel', onclick: close }), force));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (reason.value.trim() === '') return;
    force.disabled = true;
    const res = await api('POST', `/api/updates/rollouts/${encodeURIComponent(r.version)}/promote`,
      { os: r.os, arch: r.arch, force: true, reason: reason.value.trim() });
    close();
    if (res.ok) toast(`Version ${r.version} promoted to stable`, 'success');
    else toast(`Could not promote ${r.version}: ${res.data.message || 'HTTP ' + res.status}`, 'error');
    refresh();
  });
  dialog.replaceChildren(form);
  reason.focus();
}

function openRollback(r) {
  if (dialogOpen) return;
  dialogOpen = true;
  openDialog({
    label: 'rollback-title',
    onClose: () => { dialogOpen = false; },
    build: (dialog, close) => {
      const reason = el('textarea', { id: 'rollback-reason', rows: '3', required: true,
        placeholder: 'e.g. Critical memory leak causing crashes', 'aria-describedby': 'rollback-warning' });
      const confirm = el('button', { type: 'submit', class: 'danger', id: 'rollback-confirm', text: 'Rollback', disabled: true });
      reason.addEventListener('input', () => { confirm.disabled = reason.value.trim() === ''; });
      const form = el('form', { method: 'dialog', class: 'rollback-dialog' },
        dialogHeader('rollback-title', `Roll back ${r.version} (${osArch(r)})?`),
        el('p', { id: 'rollback-warning', class: 'warning-text', text: 'This will force-downgrade all agents' }),
        el('p', { text: `${counted(r.beta_agents + r.stable_agents, 'agent')} ${r.beta_agents + r.stable_agents === 1 ? 'is' : 'are'} on ${r.version} now. The release is blocked and ` +
          'the previous stable release becomes the target again.' }),
        el('label', { for: 'rollback-reason', text: 'Reason (required)' }), reason,
        el('div', { class: 'buttons' },
          el('button', { type: 'button', class: 'cancel', text: 'Cancel', onclick: close }), confirm));
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        if (reason.value.trim() === '') return;
        confirm.disabled = true;
        confirm.textContent = 'Rolling back…';
        const res = await api('POST', `/api/updates/rollouts/${encodeURIComponent(r.version)}/rollback`,
          { os: r.os, arch: r.arch, reason: reason.value.trim() });
        close();
        if (res.ok) {
          toast(`Version ${r.version} rolled back. ${counted(res.data.downgraded_agents, 'agent')} downgraded`, 'success');
        } else if (res.data.error === 'no_fallback_version') {
          toast(`Cannot roll back ${r.version}: there is no earlier stable version to fall back to. ${res.data.message || ''}`.trim(), 'error');
        } else {
          toast(`Could not roll back ${r.version}: ${res.data.message || 'HTTP ' + res.status}`, 'error');
        }
        refresh();
      });
      dialog.append(form);
    },
  });
}

async function main() {
  await requireLogin();
  renderNav('/updates');
  document.getElementById('refresh').addEventListener('click', () => refresh());
  await refresh();
  const target = location.hash && document.getElementById(location.hash.slice(1));
  if (target) target.scrollIntoView({ block: 'center' });
  setInterval(() => { refresh(); }, REFRESH_MS);
}

main();
