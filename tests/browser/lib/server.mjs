// Starts a real rollout-server on 127.0.0.1 (ephemeral port, temporary state directory, fresh
// keys from rolloutctl) and seeds it through the HTTP API only: signed releases, users, enrolled
// agents, check-ins and reports. close() stops the server and deletes the state; the server is
// also killed when this process exits, and has a hard timeout of its own.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';

export const BUILD_DIR = process.env.ROLLOUT_BUILD_DIR || join(import.meta.dirname, '../../../build/dev');
const SERVER = join(BUILD_DIR, 'server-plugin/rollout-server');
const CTL = join(BUILD_DIR, 'tools/rolloutctl');
export const ADMIN_PASSWORD = 'admin-password-for-browser-tests';
const ENROLL = 'browser-test-enrollment-key';
const live = new Set();
process.on('exit', () => { for (const p of live) { try { p.kill('SIGKILL'); } catch { /* gone */ } } });

export async function startServer(opts = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'rollout-browser-'));
  try {
    return await start(dir, opts);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });  // a failed start leaves nothing behind
    throw e;
  }
}

// `extra`: YAML lines appended to the config (e.g. a waves: section).
async function start(dir, { stale = '7d', timeoutS = 900, extra = [] }) {
  mkdirSync(join(dir, 'data'));
  execFileSync(CTL, ['keygen', '--role', 'release', '--out', dir], { stdio: 'ignore' });
  execFileSync(CTL, ['keygen', '--role', 'directive', '--out', dir], { stdio: 'ignore' });
  writeFileSync(join(dir, 'admin.pw'), ADMIN_PASSWORD + '\n', { mode: 0o600 });
  writeFileSync(join(dir, 'server.yaml'), [
    'listen:', '  address: 127.0.0.1', '  port: 0',
    `database_url: sqlite:${dir}/data/rollout.db`, `data_dir: ${dir}/data`,
    `directive_key: ${dir}/directive.key`, `release_keys: [${dir}/release.pub]`,
    `enrollment_keys: [${ENROLL}]`, `admin_password_file: ${dir}/admin.pw`,
    'password_cost: 10', 'log_level: warn', `stale_stable_after: ${stale}`, ...extra, ''].join('\n'));
  // `timeout` makes sure the server stops by itself even if this process is killed hard.
  const proc = spawn('timeout', ['-s', 'KILL', String(timeoutS), SERVER, '--config', join(dir, 'server.yaml')],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error('rollout-server did not start: ' + stderr)), 15000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) { clearTimeout(t); resolve(m[1]); }
    });
    proc.on('exit', (code) => { clearTimeout(t); reject(new Error(`rollout-server exited (${code}): ${stderr}`)); });
  }).catch((e) => { live.delete(proc); proc.kill('SIGKILL'); throw e; });
  const s = new Seeder(url, dir);
  s.close = async () => {
    live.delete(proc);
    proc.kill('SIGTERM');
    await new Promise((r) => { if (proc.exitCode !== null) r(); else { proc.once('exit', r); setTimeout(r, 5000); } });
    rmSync(dir, { recursive: true, force: true });
  };
  s.admin = await s.login('admin', ADMIN_PASSWORD);
  return s;
}

class Seeder {
  constructor(url, dir) { this.url = url; this.dir = dir; this.agents = []; }

  async call(method, path, body, session, headers = {}) {
    const h = { ...headers };
    if (body !== undefined) h['Content-Type'] = 'application/json';
    if (session) { h.Cookie = `rollout_session=${session.cookie}`; h['X-CSRF-Token'] = session.csrf; }
    const r = await fetch(this.url + path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    let data = null;
    try { data = JSON.parse(text); } catch { data = text; }
    return { status: r.status, data, headers: r.headers };
  }

  async ok(method, path, body, session, headers) {
    const r = await this.call(method, path, body, session, headers);
    if (r.status >= 300) throw new Error(`${method} ${path} -> ${r.status} ${JSON.stringify(r.data)}`);
    return r.data;
  }

  async login(username, password) {
    const r = await this.call('POST', '/api/auth/login', { username, password });
    if (r.status !== 200) throw new Error('login failed: ' + JSON.stringify(r.data));
    const cookie = r.headers.get('set-cookie').match(/rollout_session=([^;]+)/)[1];
    return { username, cookie, csrf: r.data.csrf_token };
  }

  async user(username, role) {
    const password = `${username}-password-1234`;
    await this.ok('POST', '/api/users', { username, password, role }, this.admin);
    return this.login(username, password);
  }

  // Signs a release offline with rolloutctl and publishes it through the API (it enters beta).
  async publish(version, os = 'linux', arch = 'x86_64') {
    const art = join(this.dir, `artifact-${version}-${os}-${arch}`);
    writeFileSync(art, `rollout-agent ${version} ${os}/${arch}\n`);
    execFileSync(CTL, ['sign-release', '--key', join(this.dir, 'release.key'), '--artifact', art,
      '--version', version, '--os', os, '--arch', arch, '--security-version', '1', '--out', art + '.manifest'],
    { stdio: 'ignore' });
    const manifest = JSON.parse(readFileSync(art + '.manifest', 'utf8'));
    return this.ok('POST', '/api/updates/releases',
      { manifest, artifact: readFileSync(art).toString('base64') }, this.admin);
  }

  async promote(version, os = 'linux', arch = 'x86_64', force = false) {
    const body = { os, arch };
    if (force) { body.force = true; body.reason = 'seeding'; }
    return this.ok('POST', `/api/updates/rollouts/${version}/promote`, body, this.admin);
  }

  // Enrolls an agent on `version` with a channel hint, then checks in so it counts as on it.
  async agent({ version, os = 'linux', arch = 'x86_64', channel = 'beta', client = 'acme', site = 'hq', name }) {
    const hostname = name || `host-${this.agents.length + 1}`;
    const e = await this.ok('POST', '/api/agent/v1/enroll', {
      enrollment_key: ENROLL, hostname, machine_id: randomUUID(), os, arch, current_version: version,
      client, site, channel_hint: channel });
    const a = { id: e.agent_id, token: e.token, os, arch, version, hostname };
    await this.checkin(a);
    this.agents.push(a);
    return a;
  }

  async checkin(a) {
    return this.ok('POST', '/api/agent/v1/checkin', {
      agent_id: a.id, current_version: a.version, os: a.os, arch: a.arch, state: 'idle', last_sequence: 0, security_floor: 0,
    }, undefined, { Authorization: `Bearer ${a.token}` });
  }

  // Reports a final outcome for a.version. Failures and crashes carry a stage, code and evidence.
  async report(a, outcome, extra = {}) {
    const rep = { id: randomUUID(), agent_id: a.id, version: a.version, os: a.os, arch: a.arch, outcome,
      occurred_at: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), ...extra };
    if (outcome === 'failure') Object.assign(rep, { stage: 'download', error_code: 'network_timeout', message: 'download timed out after 30s' }, extra);
    if (outcome === 'crash') Object.assign(rep, { stage: 'probation', error_code: 'crash_loop', message: 'agent exited 3 times in probation', exit_code: 139, signal: 11, stderr_tail: 'panic: nil map write\ngoroutine 1 [running]' }, extra);
    return this.ok('POST', '/api/agent/v1/reports', { reports: [rep] }, undefined, { Authorization: `Bearer ${a.token}` });
  }

  // `n` agents on version with the given outcome counts, e.g. {success: 48, failure: 2}.
  async fleet(version, outcomes, opts = {}) {
    const out = [];
    const jobs = [];
    for (const [outcome, n] of Object.entries(outcomes)) {
      for (let i = 0; i < n; i++) {
        jobs.push(async () => {
          const a = await this.agent({ version, ...opts });
          if (outcome !== 'none') await this.report(a, outcome);
          out.push(a);
        });
      }
    }
    // A few at a time: quick, and gentle with SQLite.
    for (let i = 0; i < jobs.length; i += 8) await Promise.all(jobs.slice(i, i + 8).map((j) => j()));
    return out;
  }
}
