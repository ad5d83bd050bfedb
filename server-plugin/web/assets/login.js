// The login form: POST /api/auth/login sets the session cookie; then back to the page asked for.
import { api } from '/assets/common.js';

const form = document.getElementById('login');
const error = document.getElementById('login-error');

function next() {
  const n = new URLSearchParams(location.search).get('next') || '/updates';
  // Only paths on this origin: never an open redirect.
  return n.startsWith('/') && !n.startsWith('//') ? n : '/updates';
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  error.hidden = true;
  const r = await api('POST', '/api/auth/login', {
    username: document.getElementById('username').value,
    password: document.getElementById('password').value,
  });
  if (r.ok) { location.assign(next()); return; }
  error.textContent = r.status === 401 ? 'Wrong username or password.'
    : (r.data.message || `Login failed (HTTP ${r.status}).`);
  error.hidden = false;
});
document.getElementById('username').focus();
