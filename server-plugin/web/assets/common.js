// Shared by every page: the API client (session cookie + CSRF token), the signed-in user, the
// top navigation, toasts, tooltips and accessible dialogs. No dependencies, no build step.

let csrfToken = '';
let currentUser = null;

// Calls the JSON API. Resolves to {ok, status, data}; never throws for HTTP errors, and turns a
// network failure into {ok: false, status: 0}.
export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let resp;
  try {
    resp = await fetch(path, {
      method, headers, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    return { ok: false, status: 0, data: { error: 'network', message: 'the server could not be reached' } };
  }
  let data = null;
  try { data = await resp.json(); } catch { data = null; }
  if (resp.status === 401 && !path.startsWith('/api/auth/')) toLogin();
  return { ok: resp.ok, status: resp.status, data: data || {} };
}

export function toLogin() {
  const next = location.pathname + location.search + location.hash;
  location.assign('/login?next=' + encodeURIComponent(next));
}

export function user() { return currentUser; }
export function canOperate() { return !!currentUser && ['operator', 'admin'].includes(currentUser.role); }
export function isAdmin() { return !!currentUser && currentUser.role === 'admin'; }
export function setCsrf(token) { csrfToken = token || ''; }

// Loads the signed-in user (with the session's CSRF token) or sends the browser to /login.
export async function requireLogin() {
  const r = await api('GET', '/api/auth/me');
  if (!r.ok) { toLogin(); return new Promise(() => {}); }
  currentUser = r.data;
  setCsrf(r.data.csrf_token);
  return currentUser;
}

// "1 agent" / "3 agents": every number a person reads before a noun goes through here.
export function counted(n, singular, plural = singular + 's') {
  return `${n} ${Math.abs(n) === 1 ? singular : plural}`;
}

// Builds an element: el('td', {class: 'x', text: 'y'}, child, ...).
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') e.textContent = v;
    else if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

let tipSeq = 0;
// Wraps a control with a tooltip shown on hover and on keyboard focus (CSS), announced to screen
// readers through aria-describedby.
export function withTip(control, text, extraClass = '') {
  const id = 'tip-' + (++tipSeq);
  control.setAttribute('aria-describedby', id);
  return el('span', { class: ('tipwrap ' + extraClass).trim() }, control,
    el('span', { class: 'tip', role: 'tooltip', id, text }));
}

export function renderNav(active) {
  const header = document.querySelector('header.top');
  const links = [['/updates', 'Updates'], ['/policies', 'Policies'], ['/logs', 'Logs']];
  header.replaceChildren(
    el('span', { class: 'brand', text: 'Safe Agent Rollout' }),
    el('nav', { 'aria-label': 'Main' }, links.map(([href, label]) =>
      el('a', { href, text: label, 'aria-current': href === active ? 'page' : null }))),
    el('span', { class: 'who' },
      el('span', { id: 'who', text: `${currentUser.username} (${currentUser.role})` }),
      el('button', { id: 'logout', type: 'button', text: 'Log out', onclick: logout })));
}

async function logout() {
  await api('POST', '/api/auth/logout');
  location.assign('/login');
}

export function toast(message, kind = 'info') {
  let box = document.getElementById('toasts');
  if (!box) {
    box = el('div', { id: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(box);
  }
  const t = el('div', { class: 'toast ' + kind, text: message });
  if (kind === 'error') t.setAttribute('role', 'alert');
  box.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 10000 : 6000);
  return t;
}

// Opens a modal dialog. build(dialog, close) fills it; the dialog traps Tab, closes on Escape,
// returns focus to the opener and is removed from the page when closed. Returns {dialog, close}.
export function openDialog({ label, build, onClose }) {
  const opener = document.activeElement;
  const dialog = el('dialog', { 'aria-labelledby': label, 'aria-modal': 'true' });
  document.body.append(dialog);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    if (dialog.open) dialog.close();
    dialog.remove();
    if (onClose) onClose();
    const back = (opener && opener.isConnected) ? opener
      : (opener && opener.dataset && opener.dataset.key
        ? document.querySelector(`[data-key="${CSS.escape(opener.dataset.key)}"][data-action="${opener.dataset.action}"]`)
        : null);
    if (back) back.focus();
  };
  dialog.addEventListener('cancel', (e) => { e.preventDefault(); close(); });
  dialog.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { e.preventDefault(); close(); return; }
    if (e.key !== 'Tab') return;
    const f = [...dialog.querySelectorAll('button, input, textarea, select, a[href], [tabindex]:not([tabindex="-1"])')]
      .filter((x) => !x.disabled && x.offsetParent !== null);
    if (!f.length) return;
    const first = f[0], last = f[f.length - 1];
    if (e.shiftKey && document.activeElement === first) { e.preventDefault(); last.focus(); }
    else if (!e.shiftKey && document.activeElement === last) { e.preventDefault(); first.focus(); }
  });
  build(dialog, close);
  dialog.showModal();
  const auto = dialog.querySelector('[autofocus]') || dialog.querySelector('textarea, input, button');
  if (auto) auto.focus();
  return { dialog, close };
}

export function fmtTime(iso) {
  if (iso === undefined || iso === null || iso === '') return '—';
  const d = typeof iso === 'number' ? new Date(iso * 1000) : new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function releaseAnchor(version, os, arch) {
  return `release-${version}-${os}-${arch}`;
}
