// /logs: the server's log entries (GET /api/logs) with a keyword filter and a level.
import { api, requireLogin, renderNav, el, fmtTime } from '/assets/common.js';

const mainEl = document.getElementById('main');

async function load(q, level) {
  const params = new URLSearchParams({ limit: '200' });
  if (q) params.set('q', q);
  if (level) params.set('level', level);
  const box = document.getElementById('log-table');
  const r = await api('GET', `/api/logs?${params}`);
  if (!r.ok) {
    box.replaceChildren(el('p', { class: 'warning-text', role: 'alert', text: `Could not load logs: ${r.data.message || 'HTTP ' + r.status}` }));
    return;
  }
  const logs = r.data.logs;
  box.replaceChildren(logs.length ? el('div', { class: 'table-wrap' }, el('table', { id: 'logs' },
    el('thead', {}, el('tr', {}, ['When', 'Level', 'Component', 'Message', 'Fields'].map((h) => el('th', { scope: 'col', text: h })))),
    el('tbody', {}, logs.map((l) => el('tr', { class: `level-${l.level}` },
      el('td', { text: fmtTime(l.at) }), el('td', { class: 'level', text: l.level }), el('td', { text: l.component }),
      el('td', { class: 'wrap message', text: l.message }),
      el('td', { class: 'wrap mono', text: Object.entries(l.fields || {}).map(([k, v]) => `${k}=${v}`).join(' ') }))))))
    : el('p', { class: 'empty', text: 'No log entries match.' }));
}

async function main() {
  await requireLogin();
  renderNav('/logs');
  const q = el('input', { id: 'log-q', type: 'search', placeholder: 'keyword, e.g. update or rollout' });
  const level = el('select', { id: 'log-level' }, el('option', { value: '', text: 'any level' }),
    ['debug', 'info', 'warn', 'error'].map((l) => el('option', { value: l, text: l })));
  const form = el('form', { class: 'card', id: 'log-filter', role: 'search' },
    el('div', { class: 'form-row' },
      el('div', {}, el('label', { for: 'log-q', text: 'Keyword' }), q),
      el('div', {}, el('label', { for: 'log-level', text: 'Level' }), level),
      el('div', {}, el('button', { type: 'submit', class: 'primary', text: 'Filter' }))),
    el('div', { class: 'toolbar' }, 'Quick filters: ',
      ['update', 'rollout'].map((k) => el('button', { type: 'button', class: 'quick', text: k,
        onclick: () => { q.value = k; load(k, level.value); } }))));
  form.addEventListener('submit', (e) => { e.preventDefault(); load(q.value.trim(), level.value); });
  mainEl.replaceChildren(el('h1', { text: 'Logs' }), form, el('div', { id: 'log-table' }, el('p', { text: 'Loading…' })));
  await load('', '');
}

main();
