// Stable rollouts in waves on the Updates page: the progress line of a row (wave n of m, the
// share and count of stable agents on the release, the state and why, the time to the next
// wave), each wave's own counts in the row detail, and the Pause / Resume / Advance / All now
// buttons with their confirmation dialogs and toasts. The data is the row's `waves` object from
// GET /api/updates/rollouts; actions POST /api/updates/rollouts/{version}/waves/{action}.
// A release whose agents fall into several rollout groups (a policy with its own wave plan) has
// `waves.groups`: then the cell lists each group's wave and state, the detail each group's
// waves, and a button acts on every group that can take its step.
import { api, el, withTip, toast, openDialog, canOperate, user, counted } from '/assets/common.js';

const STATE = { rolling_out: 'Rolling out', paused: 'Paused', complete: 'Complete', rolled_back: 'Rolled back' };

// 42 s, 5 min, 1 h 5 min.
export function duration(s) {
  s = Math.max(0, Math.round(s));
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
}

function stateText(w) {
  if (w.state === 'paused') return `Paused: ${w.reason || w.rule}`;
  if (w.state === 'complete' && w.rule === 'superseded') return 'Superseded';
  if (w.state === 'rolled_back') {
    return ['manual', 'aborted'].includes(w.rule) ? `Rolled back: ${w.reason}` : `Rolled back automatically: ${w.rule}`;
  }
  return STATE[w.state] || w.state;
}

// One line per rollout group (when there is more than one): "site lab: wave 1 of 1 · Complete".
function groupLines(r) {
  const gs = r.waves.groups;
  if (!gs || gs.length < 2) return null;
  return el('ul', { class: 'wave-groups', 'aria-label': `Rollout groups of ${r.version}` }, gs.map((g) =>
    el('li', { class: `wave-group ${g.state}`, 'data-group': g.group },
      el('span', { class: 'wave-group-name', text: `${g.group === 'default' ? 'default' : g.label}:` }),
      el('span', { class: 'wave-group-n', text: `wave ${g.wave} of ${g.waves}` }),
      el('span', { class: `badge wave-group-state ${g.state}`, text: stateText(g) }))));
}

// The progress line under the channel badge, or null for a release with no rollout in waves.
export function progress(r) {
  const w = r.waves;
  if (!w) return null;
  const line = progressLine(r);
  const groups = groupLines(r);
  return groups ? el('div', { class: 'waves-cell' }, line, groups) : line;
}

function progressLine(r) {
  const w = r.waves;
  const share = Math.round((w.share_on_release || 0) * 100);
  let next = null;
  if (w.state === 'rolling_out' && w.wave < w.waves && w.next_wave_in_s !== null && w.next_wave_in_s !== undefined) {
    next = `next wave in ${duration(w.next_wave_in_s)}`;
  } else if (w.state === 'rolling_out' && w.status) {
    next = w.status;
  }
  const state = el('span', { class: `badge wave-state ${w.state}`, text: stateText(w) });
  const tip = w.state === 'rolled_back' && w.reason ? withTip(Object.assign(state, { tabIndex: 0 }), w.reason, 'left') : state;
  return el('div', { class: `waves-progress ${w.state}`, 'data-waves': `${r.version}|${r.os}|${r.arch}` },
    el('span', { class: 'wave-n', text: `Wave ${w.wave} of ${w.waves}` }),
    w.per_wave ? el('span', { class: 'wave-share', text: `${w.on_release}/${counted(w.stable_agents, 'stable agent')} on it (${share}%)` }) : null,
    tip,
    next ? el('span', { class: 'wave-next', text: next }) : null);
}

// Each wave's own counts, for the row detail: one block per rollout group when there are several.
export function detailBlock(r) {
  const w = r.waves;
  if (!w) return null;
  const gs = w.groups && w.groups.length > 1 ? w.groups : null;
  if (!gs) return groupBlock(w, `Rollout in waves (${stateText(w)})`);
  const box = el('section', { 'aria-label': 'Rollout waves' }, el('h2', { text: `Rollout in waves: ${gs.length} groups` }),
    el('p', { text: 'Policies with a wave plan of their own make their agents a rollout group with its own waves, soak and gate; ' +
      'a group that rolls back rolls the whole release back, a group that pauses pauses only itself.' }));
  for (const g of gs) {
    const b = groupBlock(g, `${g.group === 'default' ? 'Default group' : g.label} (${stateText(g)})`, 'h3');
    b.setAttribute('data-group', g.group);
    b.setAttribute('aria-label', `Rollout group ${g.group}`);
    box.append(b);
  }
  return box;
}

function groupBlock(w, title, tag = 'h2') {
  const box = el('section', { 'aria-label': 'Rollout waves' }, el(tag, { text: title }));
  if (w.previous_version) {
    box.append(el('p', { text: `Agents not let in yet stay on ${w.previous_version}. Each wave soaks ${duration(w.soak_s)} ` +
      `once its agents have updated; an automatic action waits ${duration(w.hysteresis_s)}.` }));
  }
  if (!w.per_wave) return box;  // a finished rollout: its end state only
  const t = el('table', { class: 'waves' },
    el('thead', {}, el('tr', {}, ['Wave', 'Share', 'Agents', 'On release', 'Success', 'Failure', 'Crash', '']
      .map((h) => el('th', { scope: 'col', text: h })))),
    el('tbody', {}, w.per_wave.map((x) => el('tr', { 'data-wave': String(x.wave), class: x.open ? 'open' : null },
      el('td', { text: String(x.wave) }), el('td', { text: `${x.share_percent}%` }),
      el('td', { class: 'wave-agents', text: String(x.agents) }), el('td', { class: 'wave-on', text: String(x.on_release) }),
      el('td', { text: String(x.success) }), el('td', { text: String(x.failure) }), el('td', { text: String(x.crash) }),
      el('td', { text: x.open ? (x.wave === w.wave ? 'open' : 'done') : 'waiting' })))));
  box.append(el('div', { class: 'table-wrap' }, t));
  return box;
}

const ACTIONS = {
  pause: { icon: '‖', name: 'Pause', title: 'Pause the rollout of', done: 'paused', reason: false },
  resume: { icon: '▶', name: 'Resume', title: 'Resume the rollout of', done: 'resumed', reason: false },
  advance: { icon: '»', name: 'Advance', title: 'Open the next wave of', done: 'advanced to the next wave', reason: false },
  all: { icon: '»»', name: 'All now', title: 'Roll out to every stable agent now:', done: 'rolled out to every stable agent', reason: true },
};

// Why one group cannot take the action, or null.
function groupRefuses(w, version, action) {
  if (w.state === 'complete' || w.state === 'rolled_back') return `The rollout of ${version} is ${STATE[w.state].toLowerCase()}.`;
  if (action === 'pause' && w.state === 'paused') return 'The rollout is paused already.';
  if (action === 'resume' && w.state !== 'paused') return 'The rollout is not paused.';
  if ((action === 'advance' || action === 'all') && w.wave >= w.waves) return 'Every stable agent is let in already (last wave).';
  return null;
}

// Why an action is unavailable for this row (no group can take it), or null when it may be used.
function unavailable(r, action) {
  const w = r.waves;
  if (!canOperate()) return `Your role (${user().role}) cannot control rollouts; an operator or admin can.`;
  const gs = w.groups && w.groups.length > 1 ? w.groups : [w];
  const why = gs.map((g) => groupRefuses(g, r.version, action));
  return why.every((x) => x) ? why[0] : null;
}

function tipFor(r, action) {
  const w = r.waves;
  switch (action) {
    case 'pause': return `No further wave opens; the ${counted(w.on_release, 'agent')} on ${r.version} keep it.`;
    case 'resume': return 'The gate watches the open wave again; its soak restarts.';
    case 'advance': return `Open wave ${w.wave + 1} of ${w.waves} now, without waiting for the soak.`;
    default: return `Let all ${counted(w.stable_agents, 'stable agent')} update to ${r.version} now (reason required).`;
  }
}

// The wave buttons of a row, in a group of their own (null for a release with no rollout in waves).
export function buttons(r, refresh) {
  if (!r.waves) return null;
  return el('div', { class: 'wave-actions', role: 'group', 'aria-label': `Rollout of ${r.version} in waves` }, Object.keys(ACTIONS).map((action) => {
    const b = el('button', { type: 'button', class: `small wave-${action}`, 'data-key': `${r.version}|${r.os}|${r.arch}`,
      'data-action': `wave-${action}`, 'aria-label': `${ACTIONS[action].name} the rollout of ${r.version} ${r.os} / ${r.arch}`,
      text: `${ACTIONS[action].icon} ${ACTIONS[action].name}` });
    const why = unavailable(r, action);
    if (why) b.setAttribute('aria-disabled', 'true');
    b.addEventListener('click', (e) => {
      if (b.getAttribute('aria-disabled') === 'true') { e.preventDefault(); return; }
      confirmAction(r, action, refresh);
    });
    return withTip(b, why || tipFor(r, action));
  }));
}

let dialogOpen = false;

function confirmAction(r, action, refresh) {
  if (dialogOpen) return;
  dialogOpen = true;
  const a = ACTIONS[action];
  openDialog({
    label: 'wave-title',
    onClose: () => { dialogOpen = false; },
    build: (dialog, close) => {
      const reason = el('textarea', { id: 'wave-reason', rows: '3', required: a.reason ? true : null,
        placeholder: a.reason ? 'e.g. security fix needed everywhere today' : 'optional, kept in the audit trail' });
      const confirm = el('button', { type: 'submit', class: a.reason ? 'danger' : 'primary', id: 'wave-confirm',
        text: a.name, disabled: a.reason ? true : null });
      if (a.reason) reason.addEventListener('input', () => { confirm.disabled = reason.value.trim() === ''; });
      const w = r.waves;
      const form = el('form', { method: 'dialog', class: 'wave-dialog' },
        el('h2', { id: 'wave-title', text: `${a.title} ${r.version} (${r.os} / ${r.arch})?` }),
        el('p', { text: `Now: wave ${w.wave} of ${w.waves}, ${w.on_release} of ${counted(w.stable_agents, 'stable agent')} on ${r.version}. ${tipFor(r, action)}` }),
        el('label', { for: 'wave-reason', text: a.reason ? 'Reason (required)' : 'Reason' }), reason,
        el('div', { class: 'buttons' },
          el('button', { type: 'button', class: 'cancel', text: 'Cancel', onclick: close }), confirm));
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        if (a.reason && reason.value.trim() === '') return;
        confirm.disabled = true;
        const body = { os: r.os, arch: r.arch };
        if (reason.value.trim()) body.reason = reason.value.trim();
        const res = await api('POST', `/api/updates/rollouts/${encodeURIComponent(r.version)}/waves/${action}`, body);
        close();
        const many = res.ok && res.data.groups && res.data.groups.length > 1;
        if (many) toast(`Rollout of ${r.version} ${a.done} in ${res.data.groups.length} groups`, 'success');
        else if (res.ok) toast(`Rollout of ${r.version} ${a.done} (wave ${res.data.wave} of ${res.data.waves})`, 'success');
        else toast(`Could not ${action} the rollout of ${r.version}: ${res.data.message || 'HTTP ' + res.status}`, 'error');
        refresh();
      });
      dialog.append(form);
    },
  });
}
