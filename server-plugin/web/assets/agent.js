// /agents/{id}: one agent's version, channel (and where it comes from), last check-in and its
// update history with outcomes and crash evidence; each release links to its row on /updates.
import { api, requireLogin, renderNav, el, fmtTime, releaseAnchor } from '/assets/common.js';

const SOURCE = { default: 'the default policy', enrollment: 'its enrollment', builtin: 'the built-in default (stable)' };

// The server writes an unchanged agent's check-in time only this often: say so beside it.
function recordedEvery(seconds) {
  if (!seconds) return null;
  const every = seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
  return el('dd', { id: 'last-checkin-note', class: 'note',
    text: `recorded every ${every} while the agent's version and state stay the same` });
}

function sourceText(a) {
  const s = a.channel_source || 'default';
  if (s.startsWith('client')) return `inherited from client ${a.client}`;
  if (s.startsWith('site')) return `inherited from site ${a.site}`;
  if (s.startsWith('agent')) return 'set on this agent';
  return `inherited from ${SOURCE[s] || s}`;
}

function link(version, a) {
  return el('a', { class: 'mono', href: `/updates#${releaseAnchor(version, a.os, a.arch)}`, text: version });
}

async function main() {
  await requireLogin();
  renderNav('');
  const id = decodeURIComponent(location.pathname.split('/').pop());
  const mainEl = document.getElementById('main');
  const r = await api('GET', `/api/agents/${encodeURIComponent(id)}`);
  if (!r.ok) {
    mainEl.replaceChildren(el('h1', { text: 'Agent' }),
      el('p', { class: 'warning-text', role: 'alert', text: r.data.message || `Could not load agent (HTTP ${r.status})` }));
    return;
  }
  const a = r.data;
  const history = a.history || [];
  mainEl.replaceChildren(
    el('h1', { text: `Agent ${a.hostname}` }),
    el('section', { class: 'card' }, el('dl', { class: 'facts' },
      el('dt', { text: 'Agent ID' }), el('dd', { class: 'mono', text: a.id }),
      el('dt', { text: 'OS / Arch' }), el('dd', { text: `${a.os} / ${a.arch}` }),
      el('dt', { text: 'Current version' }), el('dd', { id: 'current-version' }, link(a.current_version, a)),
      el('dt', { text: 'Channel' }), el('dd', { id: 'channel' },
        el('span', { class: `badge ${a.channel}`, text: a.channel === 'beta' ? 'Beta' : 'Stable' }), ' ',
        el('span', { id: 'channel-source', text: `(${sourceText(a)})` })),
      el('dt', { text: 'Client / Site' }), el('dd', { text: `${a.client || '—'} / ${a.site || '—'}` }),
      el('dt', { text: 'State' }), el('dd', { text: a.state || '—' }),
      el('dt', { text: 'Last check-in' }), el('dd', { id: 'last-checkin', text: fmtTime(a.last_checkin_at) }),
      recordedEvery(a.checkin_recorded_every_s),
      el('dt', { text: 'Enrolled' }), el('dd', { text: fmtTime(a.enrolled_at) }))),
    el('h2', { text: 'Update history' }),
    history.length ? el('div', { class: 'table-wrap' }, el('table', { id: 'history' },
      el('thead', {}, el('tr', {}, ['When', 'From', 'To', 'Outcome', 'Stage', 'Error', 'Crash evidence']
        .map((h) => el('th', { scope: 'col', text: h })))),
      el('tbody', {}, history.map((h) => el('tr', { class: `outcome-${h.outcome}` },
        el('td', { text: fmtTime(h.occurred_at || h.received_at) }),
        el('td', { class: 'mono', text: h.from_version || '—' }),
        el('td', {}, link(h.version, a)),
        el('td', { text: h.outcome }), el('td', { text: h.stage || '—' }),
        el('td', { class: 'wrap' }, h.error_code ? el('code', { text: h.error_code }) : '—', h.message ? ' ' + h.message : ''),
        el('td', { class: 'wrap evidence' },
          h.exit_code !== undefined ? `exit code ${h.exit_code} ` : '',
          h.signal !== undefined ? `signal ${h.signal} ` : '',
          h.stderr_tail ? el('pre', { text: h.stderr_tail }) : (h.outcome === 'crash' ? '' : '—')))))))
      : el('p', { text: 'No update attempts reported yet.' }));
}

main();
