// /policies: the channel and update window per client / site / agent, with each agent's
// resolved channel and where it is inherited from (agent → site → client → default). Admins edit
// through PUT /api/policies (with the session's CSRF token); everyone else only reads. A PUT
// replaces the whole policy, so saving keeps the policy's rollout style and wave plan (set
// through the API) as they are; the table shows them.
import { api, requireLogin, renderNav, el, withTip, toast, isAdmin, user, counted } from '/assets/common.js';

const mainEl = document.getElementById('main');
let loaded = [];  // the policies as last loaded, so a save keeps what the form does not edit

// "steps 10% 100% · soak 1800s · on_critical pause", "with wave 1", or "inherit".
function rolloutText(x) {
  const parts = [];
  if (x.rollout === 'all_at_once') parts.push('with wave 1');
  if (x.waves) {
    for (const [k, v] of Object.entries(x.waves)) parts.push(`${k} ${Array.isArray(v) ? v.join(' ') : v}`);
  }
  return parts.length ? parts.join(' · ') : 'inherit';
}

function sourceLabel(a) {
  switch (a.channel_source) {
    case 'agent': return 'this agent';
    case 'site': return `site ${a.site}`;
    case 'client': return `client ${a.client}`;
    case 'default': return 'default policy';
    case 'enrollment': return 'enrollment hint';
    default: return 'built-in default';
  }
}

function policyForm(onSaved) {
  const scope = el('select', { id: 'pol-scope' }, ['default', 'client', 'site', 'agent'].map((s) => el('option', { value: s, text: s })));
  const scopeId = el('input', { id: 'pol-scope-id', placeholder: 'client, site or agent id' });
  const channel = el('select', { id: 'pol-channel' },
    el('option', { value: '', text: 'inherit' }), el('option', { value: 'beta', text: 'beta' }), el('option', { value: 'stable', text: 'stable' }));
  const ws = el('input', { id: 'pol-window-start', placeholder: 'HH:MM', inputmode: 'numeric' });
  const we = el('input', { id: 'pol-window-end', placeholder: 'HH:MM', inputmode: 'numeric' });
  const save = el('button', { type: 'submit', class: 'primary', id: 'pol-save', text: 'Save policy' });
  const admin = isAdmin();
  for (const c of [scope, scopeId, channel, ws, we]) if (!admin) c.disabled = true;
  if (!admin) save.setAttribute('aria-disabled', 'true');
  const form = el('form', { class: 'card', id: 'policy-form', 'aria-label': 'Set a policy' },
    el('h2', { text: 'Set a policy' }),
    el('div', { class: 'form-row' },
      el('div', {}, el('label', { for: 'pol-scope', text: 'Scope' }), scope),
      el('div', {}, el('label', { for: 'pol-scope-id', text: 'Client / site / agent id' }), scopeId),
      el('div', {}, el('label', { for: 'pol-channel', text: 'Channel' }), channel),
      el('div', {}, el('label', { for: 'pol-window-start', text: 'Window start (UTC)' }), ws),
      el('div', {}, el('label', { for: 'pol-window-end', text: 'Window end (UTC)' }), we)),
    el('div', { class: 'toolbar' },
      admin ? save : withTip(save, `Your role (${user().role}) cannot edit policies; an admin can.`, 'left')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!admin) return;
    const body = { scope: scope.value };
    if (scope.value !== 'default') body.scope_id = scopeId.value.trim();
    const before = loaded.find((x) => x.scope === body.scope && (x.scope_id || '') === (body.scope_id || ''));
    if (before?.rollout) body.rollout = before.rollout;
    if (before?.waves) body.waves = before.waves;
    if (channel.value) body.channel = channel.value;
    if (ws.value.trim() || we.value.trim()) { body.window_start = ws.value.trim(); body.window_end = we.value.trim(); }
    const r = await api('PUT', '/api/policies', body);
    if (r.ok) { toast('Policy saved', 'success'); onSaved(); }
    else toast(`Could not save the policy: ${r.data.message || 'HTTP ' + r.status}`, 'error');
  });
  return form;
}

async function load() {
  const [p, a] = await Promise.all([api('GET', '/api/policies'), api('GET', '/api/agents')]);
  if (!p.ok || !a.ok) {
    document.getElementById('tables').replaceChildren(el('p', { class: 'warning-text', role: 'alert',
      text: `Could not load policies: ${(p.ok ? a : p).data.message || 'HTTP error'}` }));
    return;
  }
  const policies = p.data.policies;
  loaded = policies;
  const agents = a.data.agents;
  document.getElementById('tables').replaceChildren(
    el('h2', { text: 'Policies' }),
    policies.length ? el('div', { class: 'table-wrap' }, el('table', { id: 'policies' },
      el('thead', {}, el('tr', {}, ['Scope', 'Id', 'Channel', 'Update window (UTC)', 'Rollout in waves'].map((h) => el('th', { scope: 'col', text: h })))),
      el('tbody', {}, policies.map((x) => el('tr', {},
        el('td', { text: x.scope }), el('td', { class: 'mono', text: x.scope_id || '—' }),
        el('td', { text: x.channel || 'inherit' }),
        el('td', { text: x.window_start ? `${x.window_start}–${x.window_end}` : 'any time' }),
        el('td', { class: 'rollout', text: rolloutText(x) }))))))
      : el('p', { text: 'No policies yet: every agent uses its enrollment hint or stable.' }),
    el('h2', { text: 'Agents and their effective channel' }),
    el('p', { text: 'Inheritance: agent → site → client → default.' }),
    el('div', { class: 'table-wrap' }, el('table', { id: 'agents' },
      el('thead', {}, el('tr', {}, ['Agent', 'Client', 'Site', 'Channel', 'Inherited from'].map((h) => el('th', { scope: 'col', text: h })))),
      el('tbody', {}, agents.slice(0, 500).map((x) => el('tr', { 'data-agent': x.id },
        el('td', {}, el('a', { href: `/agents/${encodeURIComponent(x.id)}`, text: x.hostname })),
        el('td', { text: x.client || '—' }), el('td', { text: x.site || '—' }),
        el('td', { class: 'channel', text: x.channel }), el('td', { class: 'source', text: sourceLabel(x) })))))),
    agents.length > 500 ? el('p', { text: `Showing 500 of ${counted(agents.length, 'agent')}.` }) : null);
}

async function main() {
  await requireLogin();
  renderNav('/policies');
  mainEl.replaceChildren(el('h1', { text: 'Policies' }), policyForm(load), el('div', { id: 'tables' }, el('p', { text: 'Loading…' })));
  await load();
}

main();
