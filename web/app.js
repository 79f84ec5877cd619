/*
 * app.js - the Slipway web UI: a small single-page app over the JSON API
 * (docs/api.md). No framework and no build step. Everything that comes
 * from the API is user data (commit messages, logs, labels): it is put
 * into the page with textContent / createElement only, never as HTML.
 *
 * Pages:  /                     dashboard
 *         /repos/NAME           a source repository: rules, webhook, runs, Run now
 *         /runs/ID              a run: steps, live log, digest and tags, cancel
 *         /images               image repositories in the registry
 *         /images/NAME          tags with pull commands
 *         /images/NAME:TAG      one image (also /images/NAME@sha256:...)
 */
'use strict';

/* ---- DOM helpers ------------------------------------------------------- */

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'style') el.style.cssText = v; // CSSOM: allowed by the page's CSP
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function link(href, text, attrs) {
  return h('a', Object.assign({ href, 'data-link': true }, attrs || {}), text);
}

function badge(status) {
  return h('span', { class: 'badge ' + status, 'data-status': status }, status);
}

/* replaceChildren() turns null into the text "null": leave holes out */
function setChildren(el, ...nodes) {
  el.replaceChildren(...nodes.flat(Infinity).filter((n) => n !== null && n !== undefined && n !== false));
  return el;
}

/* Tag order people expect: latest first, then versions newest first
 * (v2.10.0 before v2.9.1, a release before its pre-releases), then the rest
 * (branch names, run ids, sha-…) newest first. */
function semverOf(tag) {
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?$/.exec(tag);
  return m ? { v: [+m[1], +(m[2] || 0), +(m[3] || 0)], pre: m[4] || null } : null;
}

function compareTags(a, b) {
  const ta = typeof a === 'string' ? a : a.tag, tb = typeof b === 'string' ? b : b.tag;
  if (ta === 'latest' || tb === 'latest') return ta === 'latest' ? (tb === 'latest' ? 0 : -1) : 1;
  const sa = semverOf(ta), sb = semverOf(tb);
  if (sa && sb) {
    for (let i = 0; i < 3; i++) if (sa.v[i] !== sb.v[i]) return sb.v[i] - sa.v[i];
    if (!sa.pre !== !sb.pre) return sa.pre ? 1 : -1;
    if (sa.pre !== sb.pre) return sa.pre < sb.pre ? 1 : -1;
    return ta < tb ? -1 : ta > tb ? 1 : 0;
  }
  if (sa || sb) return sa ? -1 : 1;
  const ca = a.created ? Date.parse(a.created) : 0, cb = b.created ? Date.parse(b.created) : 0;
  if (ca !== cb) return cb - ca;
  return ta < tb ? -1 : ta > tb ? 1 : 0;
}

function tagChip(repo, tag) {
  return link('/images/' + repo + ':' + tag, tag, { class: 'tag' });
}

/* ---- formatting -------------------------------------------------------- */

function fmtSize(n) {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return (i === 0 ? n : n.toFixed(n < 10 ? 2 : 1)) + ' ' + units[i];
}

function fmtDuration(s) {
  if (s === null || s === undefined) return '–';
  if (s < 0.001) return '<1 ms';
  if (s < 1) return Math.round(s * 1000) + ' ms';
  if (s < 10) return Number(s.toFixed(1)) + 's'; // 1.0 reads "1s", 1.25 "1.3s"
  if (s < 60) return Math.round(s) + 's';
  const m = Math.floor(s / 60), r = Math.round(s % 60);
  if (m < 60) return m + 'm ' + r + 's';
  return Math.floor(m / 60) + 'h ' + (m % 60) + 'm';
}

function fmtAge(iso) {
  if (!iso) return '–';
  const s = (Date.now() - Date.parse(iso)) / 1000;
  if (s < 5) return 'just now';
  if (s < 60) return Math.round(s) + ' seconds ago';
  if (s < 3600) return plural(Math.round(s / 60), 'minute') + ' ago';
  if (s < 86400) return plural(Math.round(s / 3600), 'hour') + ' ago';
  return plural(Math.round(s / 86400), 'day') + ' ago';
}

function plural(n, word) { return n + ' ' + word + (n === 1 ? '' : (word.endsWith('s') ? 'es' : 's')); }

function timeEl(iso) {
  return iso ? h('time', { datetime: iso, title: new Date(iso).toLocaleString() }, fmtAge(iso))
             : h('span', { class: 'muted' }, '–');
}

function shortDigest(d) {
  return d ? d.replace(/^sha256:/, '').slice(0, 12) : '–';
}

// "PR #7 into main": a pull request run (its head names are someone's text: text nodes only)
function prLabel(r) {
  return ['PR #' + r.pull_request.number + ' into ', h('b', {}, r.source_ref)];
}

function firstLine(s) { return (s || '').split('\n')[0]; }

/* ---- the API ------------------------------------------------------------ */

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const auth = {
  get() { return sessionStorage.getItem('slipway-auth'); },
  set(user, password) { sessionStorage.setItem('slipway-auth', btoa(user + ':' + password)); },
  user() { const a = this.get(); return a ? atob(a).split(':')[0] : null; },
  clear() { sessionStorage.removeItem('slipway-auth'); },
};

async function api(path, options) {
  const opts = Object.assign({ headers: {} }, options || {});
  if (auth.get()) opts.headers.Authorization = 'Basic ' + auth.get();
  if (opts.body && typeof opts.body !== 'string') {
    opts.body = JSON.stringify(opts.body);
    opts.headers['Content-Type'] = 'application/json';
  }
  let res;
  try {
    res = await fetch('/api/v1' + path, opts);
  } catch (e) {
    showBanner('The Slipway server cannot be reached. Retrying…');
    throw new ApiError(0, 'UNREACHABLE', 'the server cannot be reached');
  }
  hideBanner();
  let doc = null;
  try { doc = await res.json(); } catch (e) { doc = null; }
  if (!res.ok) {
    const err = (doc && doc.error) || {};
    throw new ApiError(res.status, err.code || 'ERROR', err.message || res.statusText);
  }
  return doc;
}

/* Server-Sent Events over fetch(), because EventSource cannot send the
 * Authorization header a login needs (a private repository's log stream
 * answers 404 without it). Same shape as EventSource: addEventListener,
 * onerror, close; reconnects with Last-Event-ID after a drop. */
function eventStream(path) {
  const listeners = {};
  const controller = new AbortController();
  let closed = false, lastId = null;
  const stream = {
    onerror: null,
    addEventListener(name, fn) { (listeners[name] = listeners[name] || []).push(fn); },
    close() { closed = true; controller.abort(); },
  };
  function dispatch(block) {
    let name = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') name = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id') lastId = value;
    }
    if (data.length === 0 && name === 'message') return;
    for (const fn of listeners[name] || []) fn({ data: data.join('\n') });
  }
  (async () => {
    while (!closed) {
      try {
        const headers = {};
        if (auth.get()) headers.Authorization = 'Basic ' + auth.get();
        if (lastId !== null) headers['Last-Event-ID'] = lastId;
        const res = await fetch('/api/v1' + path, { headers, signal: controller.signal });
        if (!res.ok) { if (stream.onerror) stream.onerror(); return; }
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            dispatch(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
          }
        }
      } catch (e) {
        if (closed) return;
      }
      if (stream.onerror) stream.onerror();
      if (!closed) await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  })();
  return stream;
}

/* A write that asks for a login on 401 and retries once logged in. */
async function apiWrite(path, body) {
  try {
    return await api(path, { method: 'POST', body: body || {} });
  } catch (e) {
    if (e.status !== 401 && e.status !== 403) throw e;
    if (!(await askLogin(e.status === 403 ? 'Your user may not do this. Log in as another user.' : null)))
      throw e;
    return api(path, { method: 'POST', body: body || {} });
  }
}

function askLogin(message) {
  const dialog = document.getElementById('login');
  const form = document.getElementById('login-form');
  const error = document.getElementById('login-error');
  error.hidden = !message;
  error.textContent = message || '';
  form.reset();
  return new Promise((resolve) => {
    const done = (ok) => {
      form.removeEventListener('submit', onSubmit);
      document.getElementById('login-cancel').removeEventListener('click', onCancel);
      dialog.close();
      resolve(ok);
    };
    const onSubmit = (ev) => {
      ev.preventDefault();
      auth.set(form.user.value, form.password.value);
      showUser();
      done(true);
    };
    const onCancel = () => done(false);
    form.addEventListener('submit', onSubmit);
    document.getElementById('login-cancel').addEventListener('click', onCancel);
    dialog.showModal();
  });
}

function showUser() {
  const who = document.getElementById('who');
  const user = auth.user();
  who.replaceChildren();
  if (user) {
    who.append('Logged in as ' + user + ' · ', link('/tokens', 'tokens'), ' · ',
      h('a', { href: '#', onclick: (e) => { e.preventDefault(); auth.clear(); showUser(); } }, 'log out'));
  }
}

function showBanner(text) {
  const b = document.getElementById('banner');
  b.textContent = text;
  b.hidden = false;
}

function hideBanner() { document.getElementById('banner').hidden = true; }

let statusCache = null;
async function serverStatus() {
  if (!statusCache) statusCache = await api('/status');
  return statusCache;
}

/* ---- the router --------------------------------------------------------- */

const app = document.getElementById('app');
let cleanups = [];

function onLeave(fn) { cleanups.push(fn); }

function every(ms, fn) {
  const id = setInterval(() => { if (!document.hidden) fn(); }, ms);
  onLeave(() => clearInterval(id));
}

function navigate(path, replace) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  route();
}

async function route() {
  for (const fn of cleanups) fn();
  cleanups = [];
  const path = decodeURIComponent(location.pathname);
  for (const a of document.querySelectorAll('[data-nav]')) {
    const nav = a.dataset.nav;
    a.classList.toggle('active', nav === 'images' ? path.startsWith('/images')
                                                  : !path.startsWith('/images'));
  }
  let m;
  try {
    if (path === '/' || path === '') await pageDashboard();
    else if ((m = path.match(/^\/repos\/(.+?)\/?$/))) await pageRepo(m[1]);
    else if ((m = path.match(/^\/runs\/([^/]+)\/?$/))) await pageRun(m[1]);
    else if (path === '/images' || path === '/images/') await pageImages();
    else if (path === '/tokens' || path === '/tokens/') await pageTokens();
    else if ((m = path.match(/^\/images\/([^:@]+?)(?::([\w][\w.-]*)|@(sha256:[0-9a-f]{64}))$/)))
      await pageImage(m[1], m[2] || m[3]);
    else if ((m = path.match(/^\/images\/(.+?)\/?$/))) await pageImageRepo(m[1]);
    else pageNotFound('There is no page at ' + path + '.');
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) pageNotFound(e.message);
    else if (e instanceof ApiError && e.status === 401) pageError('This server needs a login to browse.', true);
    else pageError(e.message || String(e));
  }
}

document.addEventListener('click', (ev) => {
  const a = ev.target.closest('a[data-link]');
  if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey)
    return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin) return;
  ev.preventDefault();
  if (url.pathname !== location.pathname) navigate(url.pathname);
});
window.addEventListener('popstate', route);

function render(title, ...nodes) {
  document.title = title ? title + ' · Slipway' : 'Slipway';
  app.replaceChildren(...nodes);
}

function pageNotFound(message) {
  render('Not found', h('section', { class: 'notfound', 'data-page': 'notfound' },
    h('h1', {}, '404'),
    h('p', {}, message || 'This page does not exist.'),
    h('p', {}, link('/', 'Back to the dashboard'))));
}

function pageError(message, login) {
  render(login ? 'Log in' : 'Error', h('section', { class: 'notfound', 'data-page': 'error' },
    h('h2', {}, login ? 'Log in to continue' : 'Something went wrong'),
    h('p', { class: 'error' }, message),
    login ? h('p', {}, h('button', { onclick: async () => { if (await askLogin()) route(); } }, 'Log in')) : null,
    location.pathname === '/' ? null : h('p', {}, link('/', 'Back to the dashboard'))));
}

/* ---- pieces shared by pages -------------------------------------------- */

function runsTable(runs, opts) {
  const o = opts || {};
  if (!runs.length)
    return h('p', { class: 'muted', 'data-empty': 'runs' }, o.empty || 'No runs yet.');
  return h('div', { class: 'table-wrap' }, h('table', { class: 'runs' },
    h('thead', {}, h('tr', {},
      h('th', {}, 'Status'), h('th', {}, 'Run'), o.repo ? h('th', {}, 'Repository') : null,
      h('th', { class: 'hide-sm' }, 'Trigger'), h('th', {}, 'Commit'), h('th', { class: 'hide-sm' }, 'Queued'),
      h('th', { class: 'num hide-sm' }, 'Wait'), h('th', { class: 'num' }, 'Duration'),
      h('th', { class: 'hide-sm' }, 'Tags'))),
    h('tbody', {}, runs.map((r) => h('tr', { 'data-run': r.id },
      h('td', {}, badge(r.status)),
      h('td', { class: 'mono' }, link('/runs/' + r.id, r.id)),
      o.repo ? h('td', {}, link('/repos/' + r.repo, r.repo)) : null,
      h('td', { class: 'nowrap hide-sm' }, r.trigger === 'push' ? '' : r.trigger + ' · ',
        r.pull_request ? prLabel(r) : [r.source_type === 'commit' ? 'commit' : r.source_type + ' ',
          r.source_type === 'commit' ? '' : h('b', {}, r.source_ref)]),
      h('td', { class: 'msg', title: r.commit_message || '' },
        r.commit ? h('code', {}, r.commit.slice(0, 7)) : '–',
        h('span', { class: 'hide-sm' }, ' ', firstLine(r.commit_message))),
      h('td', { class: 'nowrap hide-sm' }, timeEl(r.queued_at)),
      h('td', { class: 'num hide-sm' }, fmtDuration(r.queue_seconds)),
      h('td', { class: 'num' }, fmtDuration(r.duration_seconds)),
      h('td', { class: 'hide-sm' }, (r.tags || []).slice().sort(compareTags).map((t) => tagChip(r.repo, t))))))));
}

function copyBox(text, label) {
  const code = h('code', { 'data-copy': label || '' }, text);
  const button = h('button', { class: 'secondary', type: 'button', 'aria-label': 'Copy ' + (label || text) }, 'Copy');
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = 'Copied';
    } catch (e) {
      const range = document.createRange();
      range.selectNodeContents(code);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      button.textContent = 'Press Ctrl+C';
    }
    setTimeout(() => { button.textContent = 'Copy'; }, 1500);
  });
  return h('div', { class: 'copy' }, code, button);
}

/* Queue and build times of the last runs, as an inline SVG bar chart. */
function timesChart(runs) {
  const data = runs.filter((r) => r.status !== 'queued').slice(0, 24).reverse();
  if (data.length === 0) return h('p', { class: 'muted' }, 'No finished runs to chart yet.');
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  const W = 600, H = 130, pad = 18;
  svg.setAttribute('viewBox', `0 0 ${W} ${H + pad}`);
  svg.setAttribute('class', 'chart');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', 'Queue and build time of the last runs');
  const max = Math.max(1, ...data.map((r) => (r.queue_seconds || 0) + (r.duration_seconds || 0)));
  const slot = W / Math.max(data.length, 8);
  data.forEach((r, i) => {
    const q = r.queue_seconds || 0, b = r.duration_seconds || 0;
    const x = i * slot + slot * 0.15, w = slot * 0.7;
    const hb = (b / max) * H, hq = (q / max) * H;
    const rb = document.createElementNS(ns, 'rect');
    rb.setAttribute('x', x); rb.setAttribute('width', w);
    rb.setAttribute('y', H - hb); rb.setAttribute('height', Math.max(hb, b > 0 ? 1 : 0));
    rb.setAttribute('class', r.status === 'failed' ? 'bf' : 'b');
    const rq = document.createElementNS(ns, 'rect');
    rq.setAttribute('x', x); rq.setAttribute('width', w);
    rq.setAttribute('y', H - hb - hq); rq.setAttribute('height', hq);
    rq.setAttribute('class', 'q');
    const title = document.createElementNS(ns, 'title');
    title.textContent = `${r.id}: waited ${fmtDuration(q)}, built in ${fmtDuration(b)} (${r.status})`;
    const g = document.createElementNS(ns, 'g');
    g.append(rq, rb, title);
    const label = document.createElementNS(ns, 'text');
    label.setAttribute('x', x + w / 2); label.setAttribute('y', H + 13);
    label.setAttribute('text-anchor', 'middle'); label.setAttribute('font-size', '10');
    label.setAttribute('fill', '#5b6470');
    label.textContent = r.id;
    svg.append(g, label);
  });
  return h('div', {}, svg, h('div', { class: 'legend' },
    h('span', {}, h('i', { style: 'background:#fbbf24' }), 'queue time'),
    h('span', {}, h('i', { style: 'background:#3b82f6' }), 'build time'),
    h('span', {}, h('i', { style: 'background:#ef4444' }), 'failed build'),
    h('span', {}, 'longest: ' + fmtDuration(max))));
}

/* ---- dashboard ------------------------------------------------------------ */

async function pageDashboard() {
  const [status, repos, runs] = await Promise.all([
    api('/status'), api('/repos'), api('/runs?limit=20')]);
  statusCache = status;
  const stats = h('div', { class: 'stats' },
    h('div', { class: 'stat' }, h('b', { 'data-stat': 'queued' }, status.queued), h('span', {}, 'queued')),
    h('div', { class: 'stat' }, h('b', { 'data-stat': 'running' }, status.running), h('span', {}, 'running')),
    h('div', { class: 'stat' }, h('b', { 'data-stat': 'workers' }, status.workers),
      h('span', { 'data-stat': 'worker-processes' }, workersLabel(status))),
    h('div', { class: 'stat' }, h('b', {}, repos.repos.length), h('span', {}, 'repositories')));
  const workerList = (status.worker_list || []).length
    ? h('div', { class: 'panel', 'data-workers': true }, h('h2', {}, 'Workers'),
      h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Worker'), h('th', { class: 'num' }, 'Threads'),
        h('th', {}, 'Platforms'))),
      h('tbody', {}, status.worker_list.map((w) => h('tr', { 'data-worker': w.name },
        h('td', { class: 'mono' }, w.name), h('td', { class: 'num' }, String(w.threads)),
        h('td', { 'data-worker-platforms': true }, (w.platforms || []).join(', ') || '–'))))))
    : null;
  let reposNode;
  if (repos.repos.length === 0) {
    reposNode = h('div', { class: 'panel empty', 'data-empty': 'repos' },
      h('h2', {}, 'No repositories yet'),
      h('p', {}, 'Add a source repository to the ', h('code', {}, 'repos:'),
        ' section of the config file and restart ', h('code', {}, 'slipway serve'), ':'),
      h('pre', {}, 'repos:\n  - name: demo/hello              # image repository here\n' +
        '    git: https://github.com/acme/hello.git\n    secret: env:HELLO_WEBHOOK_SECRET\n' +
        '    rules:\n      - { source_type: branch, source: main, tags: [latest, "{run_id}"] }'),
      h('p', { class: 'muted' }, 'Then point the repository\'s webhook at ',
        h('code', {}, location.origin + '/hooks/github'), '.'));
  } else {
    reposNode = h('div', { class: 'grid' }, repos.repos.map((r) => {
      const last = r.last_run;
      return h('div', { class: 'panel repo-card', 'data-repo': r.name },
        h('h3', {}, link('/repos/' + r.name, r.name)),
        h('div', { class: 'src' }, r.git),
        h('div', { class: 'last' }, last
          ? [badge(last.status), ' ', link('/runs/' + last.id, last.id), ' · ',
             last.source_type, ' ', h('b', {}, last.source_ref), ' · ', timeEl(last.queued_at)]
          : h('span', { class: 'muted' }, 'Never built. Push, or use Run now on its page.')));
    }));
  }
  render('Builds', h('div', { 'data-page': 'dashboard' },
    h('div', { class: 'page-head' }, h('div', { class: 'grow' }, h('h1', {}, 'Builds'))),
    stats, workerList, h('h2', {}, 'Repositories'), reposNode,
    h('section', { class: 'panel' }, h('h2', {}, 'Recent runs'),
      runsTable(runs.runs, { repo: true, empty: 'No runs yet. Push to a configured repository.' }))));
  every(3000, async () => {
    try {
      const [s, rs, fresh] = await Promise.all([api('/status'), api('/runs?limit=20'), api('/repos')]);
      if (location.pathname === '/') patchDashboard(s, rs, fresh);
    } catch (e) { /* the banner says it */ }
  });
}

function workersLabel(status) {
  const p = status.worker_processes || 0;
  return p === 0 ? 'workers: none running' : 'workers in ' + plural(p, 'process');
}

function patchDashboard(status, runs, repos) {
  for (const key of ['queued', 'running', 'workers']) {
    const el = app.querySelector(`[data-stat="${key}"]`);
    if (el) el.textContent = status[key];
  }
  const wp = app.querySelector('[data-stat="worker-processes"]');
  if (wp) wp.textContent = workersLabel(status);
  const section = app.querySelector('section.panel');
  if (section) section.replaceChildren(h('h2', {}, 'Recent runs'),
    runsTable(runs.runs, { repo: true, empty: 'No runs yet. Push to a configured repository.' }));
  for (const r of repos.repos) {
    const card = app.querySelector(`[data-repo="${CSS.escape(r.name)}"] .last`);
    const last = r.last_run;
    if (card && last)
      card.replaceChildren(badge(last.status), ' ', link('/runs/' + last.id, last.id), ' · ',
        last.source_type, ' ', h('b', {}, last.source_ref), ' · ', timeEl(last.queued_at));
  }
}

/* ---- a source repository -------------------------------------------------- */

async function pageRepo(name) {
  const [repo, runs] = await Promise.all([
    api('/repos/' + name), api('/runs?limit=50&repo=' + encodeURIComponent(name))]);
  const forge = h('select', { 'aria-label': 'Git host' },
    h('option', { value: 'github' }, 'GitHub'), h('option', { value: 'gitlab' }, 'GitLab'),
    h('option', { value: 'gitea' }, 'Gitea / Forgejo'));
  const hookBox = h('div', {});
  const showHook = () => hookBox.replaceChildren(copyBox(repo.webhooks[forge.value], 'webhook'));
  forge.addEventListener('change', showHook);
  showHook();
  const secretHint = repo.secret
    ? h('p', { class: 'muted' }, 'Secret: the value of ', h('code', {}, 'secret:'),
        ' for this repository in the config. Content type: ', h('code', {}, 'application/json'),
        '. Events: pushes (branches and tags).')
    : h('p', { class: 'error' }, 'No webhook secret is configured: anyone who can reach this URL can start builds. ' +
        'Set ', h('code', {}, 'secret:'), ' for this repository.');

  const kind = h('select', { name: 'kind', 'aria-label': 'Branch or tag' },
    h('option', { value: 'branch' }, 'branch'), h('option', { value: 'tag' }, 'tag'));
  const ref = h('input', { name: 'ref', placeholder: 'main', required: true, 'aria-label': 'Branch or tag name' });
  const firstBranch = repo.rules.find((r) => r.source_type === 'branch' && !r.regex);
  if (firstBranch) ref.value = firstBranch.source;
  const formMsg = h('span', { class: 'error', 'data-form-error': true });
  const runForm = h('form', { class: 'inline', 'data-form': 'run-now' }, kind, ref,
    h('button', { type: 'submit' }, 'Run now'), formMsg);
  runForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    formMsg.textContent = '';
    const body = { repo: name };
    body[kind.value] = ref.value.trim();
    try {
      const run = await apiWrite('/runs', body);
      navigate('/runs/' + run.id);
    } catch (e) {
      formMsg.textContent = e.message;
    }
  });

  /* the status badge and the Markdown to put it in a README */
  let origin = location.origin;
  try { origin = new URL(repo.webhooks.github).origin; } catch (e) { /* keep the page's */ }
  const badgeUrl = origin + '/badge/' + name + '.svg';
  const badgeMd = '[![build](' + badgeUrl + ')](' + origin + '/repos/' + name + ')';
  const badgePanel = h('section', { class: 'panel', 'data-section': 'badge' }, h('h2', {}, 'Status badge'),
    h('p', {}, h('img', { src: '/badge/' + name + '.svg', alt: 'build status', 'data-badge': true })),
    copyBox(badgeMd, 'markdown'),
    h('p', { class: 'muted' }, 'Add ', h('code', {}, '?branch=main'), ' for one branch. Visible to whoever may read this repository.'));

  const rules = h('div', { class: 'table-wrap' }, h('table', {},
    h('thead', {}, h('tr', {}, h('th', {}, 'Source'), h('th', {}, 'Dockerfile'),
      h('th', { class: 'hide-sm' }, 'Context'), h('th', {}, 'Tags'), h('th', { class: 'hide-sm' }, 'Extras'))),
    h('tbody', {}, repo.rules.map((r) => h('tr', {},
      h('td', {}, r.source_type === 'pull_request' ? 'pull requests into ' : r.source_type + ' ', h('code', {}, r.source)),
      h('td', {}, h('code', {}, r.dockerfile)),
      h('td', { class: 'hide-sm' }, h('code', {}, r.context)),
      h('td', {}, r.semver ? h('span', { class: 'tag' }, 'semver') : null,
        r.tags.map((t) => h('span', { class: 'tag' }, t))),
      h('td', { class: 'hide-sm muted' }, [
        Object.keys(r.build_args).length ? 'build args: ' + Object.keys(r.build_args).join(', ') : null,
        r.autotest ? 'autotest: ' + r.autotest.join(' ') : null,
        r.notify ? 'notifies ' + plural(r.notify, 'URL') : null,
        r.cache ? null : 'no cache',
        r.source_type === 'pull_request' ? (r.forks ? 'forks too' : 'no forks') : null].filter(Boolean).join(' · ') || '–'))))));

  const history = h('section', { class: 'panel', 'data-section': 'history' });
  const chart = h('section', { class: 'panel' });
  let latest = runs.runs;      // the newest page, refreshed
  let older = [];              // pages the user asked for
  let nextBefore = runs.next_before;
  const fill = () => {
    const seen = new Set(latest.map((r) => r.id));
    const all = latest.concat(older.filter((r) => !seen.has(r.id)));
    const more = nextBefore ? h('button', { class: 'secondary', type: 'button', 'data-action': 'older' }, 'Older runs') : null;
    if (more) more.addEventListener('click', async () => {
      more.disabled = true;
      try {
        const page = await api('/runs?limit=50&repo=' + encodeURIComponent(name) + '&before=' + encodeURIComponent(nextBefore));
        older = older.concat(page.runs);
        nextBefore = page.next_before;
        fill();
      } catch (e) { more.disabled = false; }
    });
    setChildren(history, h('h2', {}, 'Runs'), runsTable(all), more ? h('p', {}, more) : null);
    chart.replaceChildren(h('h2', {}, 'Queue and build time'), timesChart(latest));
  };
  fill();
  render(name, h('div', { 'data-page': 'repo' },
    h('div', { class: 'page-head' }, h('div', { class: 'grow' },
      h('div', { class: 'crumbs' }, link('/', 'Builds'), ' / repository'),
      h('h1', {}, name),
      h('div', { class: 'muted mono' }, repo.git)),
      link('/images/' + name, 'Image tags →')),
    h('div', { class: 'grid' },
      h('section', { class: 'panel' }, h('h2', {}, 'Run now'),
        h('p', { class: 'muted' }, 'Build a branch or tag with its build rule, like a push would.'), runForm),
      h('section', { class: 'panel' }, h('h2', {}, 'Webhook'), forge, hookBox, secretHint)),
    h('section', { class: 'panel' }, h('h2', {}, 'Build rules'), rules),
    badgePanel, chart, history));
  every(3000, async () => {
    try {
      const page = await api('/runs?limit=50&repo=' + encodeURIComponent(name));
      latest = page.runs;
      if (!older.length) nextBefore = page.next_before;
      fill();
    } catch (e) { /* banner */ }
  });
}

/* ---- a run ------------------------------------------------------------------ */

/* ANSI SGR colours become spans; every other escape sequence is dropped. */
function ansiLine(text) {
  const out = [];
  const re = /\x1b\[([0-9;]*)([A-Za-z])|\x1b[()][A-Za-z0-9]|\x1b./g;
  let last = 0, classes = [], m;
  const push = (s) => {
    if (!s) return;
    out.push(classes.length ? h('span', { class: classes.join(' ') }, s) : document.createTextNode(s));
  };
  while ((m = re.exec(text))) {
    push(text.slice(last, m.index));
    last = re.lastIndex;
    if (m[2] !== 'm') continue;
    const codes = (m[1] || '0').split(';').map((c) => parseInt(c || '0', 10));
    for (const c of codes) {
      if (c === 0) classes = [];
      else if (c === 1) classes = classes.filter((k) => k !== 'ansi-1').concat('ansi-1');
      else if (c === 22) classes = classes.filter((k) => k !== 'ansi-1');
      else if ((c >= 30 && c <= 37) || (c >= 90 && c <= 97))
        classes = classes.filter((k) => k === 'ansi-1').concat('ansi-' + c);
      else if (c === 39) classes = classes.filter((k) => k === 'ansi-1');
    }
  }
  push(text.slice(last).replace(/[\x00-\x08\x0b-\x1f\x7f]/g, ''));
  return out;
}

class LogView {
  constructor() {
    this.el = h('pre', { class: 'log', 'data-log': true, tabindex: '0', 'aria-label': 'Build log' });
    this.follow = true;
    this.failedStep = null;
    this.stepLines = new Map();
    this.toggle = h('button', { class: 'secondary', type: 'button', hidden: true,
      onclick: () => { this.follow = true; this.scroll(); this.toggle.hidden = true; } }, 'Follow the end ↓');
    this.el.addEventListener('scroll', () => {
      const atEnd = this.el.scrollHeight - this.el.scrollTop - this.el.clientHeight < 24;
      this.follow = atEnd;
      this.toggle.hidden = atEnd;
    });
  }

  add(text) {
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    const frag = document.createDocumentFragment();
    for (const raw of lines) {
      /* Slipway's own lines start with the mark byte U+001E (docs/api.md,
       * "Run log format"); build output never holds it, so a RUN that
       * prints "# Run ID: ... was successful" stays plain output */
      const isSlipway = raw.startsWith('\x1e');
      const line = isSlipway ? raw.slice(1) : raw;
      const div = h('div', { class: isSlipway ? 'line' : 'line out' });
      if (isSlipway) div.dataset.slipway = '';
      let m;
      if (!isSlipway) {
        /* output: no status classes */
      } else if ((m = line.match(/^# Step (\d+)\/\d+ failed: /))) {
        div.classList.add('fail');
        div.dataset.failed = m[1];
        this.markFailed(m[1]);
      } else if ((m = line.match(/^# Step (\d+)\/\d+ : /))) {
        div.classList.add('step');
        div.dataset.step = m[1];
        this.stepLines.set(m[1], div);
      } else if (/^# Run ID: \S+ was successful/.test(line)) {
        div.classList.add('good');
      } else if (/^# (Run ID: \S+ failed|Error: )/.test(line)) {
        div.classList.add('fail');
      } else if (line.startsWith('# ')) {
        div.classList.add('meta');
      }
      div.append(...ansiLine(line));
      frag.append(div);
    }
    this.el.append(frag);
    if (this.follow) this.scroll();
  }

  markFailed(step) {
    this.failedStep = step;
    const header = this.stepLines.get(step);
    if (header) header.classList.add('fail-step');
  }

  scroll() { this.el.scrollTop = this.el.scrollHeight; }
}

function stepsTable(steps) {
  if (!steps || steps.length === 0) return h('p', { class: 'muted' }, 'No steps yet.');
  return h('div', { class: 'table-wrap' }, h('table', { 'data-steps': true },
    h('thead', {}, h('tr', {}, h('th', {}, '#'), h('th', {}, 'Instruction'), h('th', {}, 'Status'),
      h('th', { class: 'num' }, 'Time'))),
    h('tbody', {}, steps.map((s) => h('tr', {
      class: s.status === 'failed' ? 'failed-step' : null, 'data-step': s.index,
      'data-step-status': s.status },
      h('td', { class: 'num' }, s.index + '/' + s.total),
      h('td', { class: 'created-by' }, s.platform ? h('span', { class: 'badge', 'data-step-platform': s.platform }, s.platform) : null,
        s.platform ? ' ' : null, s.instruction, h('span', { class: 'muted' }, '  line ' + s.line)),
      h('td', { class: 'nowrap' }, s.cached ? h('span', { class: 'badge' }, 'cached') : badge(s.status),
        s.exit_code !== undefined && s.exit_code !== null ? ' exit ' + s.exit_code : ''),
      h('td', { class: 'num' }, s.status === 'running' ? '…' : fmtDuration(s.duration_seconds)))))));
}

async function pageRun(id) {
  let run = await api('/runs/' + id);
  const head = h('div', { class: 'page-head' });
  const facts = h('section', { class: 'panel' });
  const steps = h('section', { class: 'panel' });
  const sent = h('section', { class: 'panel', 'data-deliveries': true });
  const log = new LogView();
  const logPanel = h('section', { class: 'panel' },
    h('div', { class: 'log-tools' }, h('h2', { style: 'margin:0' }, 'Log'), log.toggle),
    log.el);

  const paint = (r) => {
    run = r;
    const active = r.status === 'queued' || r.status === 'running';
    const cancel = active ? h('button', { class: 'danger', type: 'button', 'data-action': 'cancel' }, 'Cancel') : null;
    if (cancel) cancel.addEventListener('click', async () => {
      cancel.disabled = true;
      try { paint(await apiWrite('/runs/' + id + '/cancel')); } catch (e) { cancel.disabled = false; alert(e.message); }
    });
    /* a finished run can be built again: same rule, ref and commit */
    const rebuild = active ? null : h('button', { class: 'secondary', type: 'button', 'data-action': 'rebuild' }, 'Rebuild');
    if (rebuild) rebuild.addEventListener('click', async () => {
      rebuild.disabled = true;
      try { const n = await apiWrite('/runs/' + id + '/rerun'); navigate('/runs/' + n.id); }
      catch (e) { rebuild.disabled = false; alert(e.message); }
    });
    head.replaceChildren(h('div', { class: 'grow' },
      h('div', { class: 'crumbs' }, link('/', 'Builds'), ' / ', link('/repos/' + r.repo, r.repo), ' / run'),
      h('h1', {}, 'Run ', h('span', { class: 'mono' }, r.id), ' ', badge(r.status)),
      h('div', { class: 'muted' }, r.trigger + ' of ',
        r.pull_request ? [prLabel(r), ' from ', h('b', {}, (r.pull_request.head_repo || 'a deleted fork') +
          ':' + (r.pull_request.head_ref || '?')), r.pull_request.fork ? ' (fork)' : '']
          : [r.source_type + ' ', h('b', {}, r.source_ref)],
        r.commit ? [' at ', h('code', {}, r.commit.slice(0, 7)), ' ', firstLine(r.commit_message)] : '',
        r.pusher ? ' · by ' + r.pusher : '')), cancel || rebuild || '');
    facts.replaceChildren(h('h2', {}, 'Result'), h('dl', { class: 'facts' },
      h('dt', {}, 'Queued'), h('dd', {}, timeEl(r.queued_at), ' · waited ', fmtDuration(r.queue_seconds)),
      h('dt', {}, 'Duration'), h('dd', {}, r.duration_seconds !== null ? fmtDuration(r.duration_seconds)
        : (r.started_at ? 'running for ' + fmtDuration((Date.now() - Date.parse(r.started_at)) / 1000) : '–')),
      h('dt', {}, 'Attempts'), h('dd', {}, r.attempts),
      h('dt', {}, 'Digest'), h('dd', { 'data-digest': r.digest || '' },
        r.digest ? link('/images/' + r.repo + '@' + r.digest, r.digest, { class: 'mono' }) : '–'),
      h('dt', {}, 'Tags'), h('dd', { 'data-tags': true }, r.tags.length ? r.tags.slice().sort(compareTags).map((t) => tagChip(r.repo, t)) : '–'),
      r.error ? [h('dt', {}, 'Error'), h('dd', { class: 'error', 'data-error': true }, r.error)] : null));
    steps.replaceChildren(h('h2', {}, 'Steps'), stepsTable(r.steps));
    sent.hidden = !(r.deliveries || []).length;
    sent.replaceChildren(h('h2', {}, 'Notifications and commit statuses'), deliveriesTable(r.deliveries || []));
    const failed = (r.steps || []).find((s) => s.status === 'failed');
    if (failed) log.markFailed(String(failed.index));
  };
  paint(run);
  render('Run ' + id, h('div', { 'data-page': 'run', 'data-run-id': id }, head,
    h('div', { class: 'grid' }, facts, steps), logPanel, sent));

  /* the log, live */
  const source = eventStream('/runs/' + encodeURIComponent(id) + '/events');
  let ended = false;
  source.addEventListener('log', (ev) => log.add(ev.data + '\n'));
  source.addEventListener('status', (ev) => {
    try { paint(JSON.parse(ev.data)); } catch (e) { /* a partial event: the next one repaints */ }
  });
  source.addEventListener('end', async () => {
    ended = true;
    source.close();
    try { paint(await api('/runs/' + id)); } catch (e) { /* banner */ }
  });
  source.onerror = () => { if (ended) source.close(); };
  onLeave(() => source.close());
  every(1000, () => {
    if (run.status === 'running' && run.started_at) paint(run);
  });
  /* deliveries go on after the run: follow them until they are settled */
  every(3000, async () => {
    if (!ended || !(run.deliveries || []).some((d) => d.state === 'pending')) return;
    try { paint(await api('/runs/' + id)); } catch (e) { /* the next tick tries again */ }
  });
}

function deliveriesTable(list) {
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('thead', {}, h('tr', {}, h('th', {}, 'What'), h('th', {}, 'To'), h('th', {}, 'State'),
      h('th', { class: 'num' }, 'Tries'), h('th', {}, 'Last error'))),
    h('tbody', {}, list.map((d) => h('tr', { 'data-delivery': d.state },
      h('td', {}, d.kind === 'status' ? 'commit status' : 'notify'),
      h('td', { class: 'mono' }, d.target),
      h('td', {}, h('span', { class: 'badge ' + (d.state === 'delivered' ? 'succeeded' : d.state === 'failed' ? 'failed' : 'queued') },
        d.state === 'pending' && d.attempts > 0 ? 'retrying' : d.state)),
      h('td', { class: 'num' }, d.attempts),
      h('td', { class: 'error' }, d.error || ''))))));
}

/* ---- access tokens ----------------------------------------------------------- */

/* The logged-in user's access tokens: names, scopes, dates; never a
 * secret (the server shows it once, to `slipway token create`). */
async function pageTokens() {
  const list = await api('/tokens');
  const body = list.tokens.length === 0
    ? h('div', { class: 'panel empty', 'data-empty': 'tokens' }, h('h2', {}, 'No access tokens'),
        h('p', {}, 'An administrator creates them on the server:'),
        h('pre', {}, 'slipway token create --config slipway.yaml --user ' + list.user +
          " --name ci --scope 'repository:team/*:pull' --expires 90d"))
    : h('section', { class: 'panel' }, h('div', { class: 'table-wrap' }, h('table', {},
        h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Scopes'), h('th', {}, 'Created'),
          h('th', {}, 'Expires'), h('th', {}, 'Last used'))),
        h('tbody', {}, list.tokens.map((t) => h('tr', { 'data-token': t.name },
          h('td', {}, t.name, t.expired ? [' ', h('span', { class: 'badge failed' }, 'expired')] : null),
          h('td', { class: 'mono' }, t.scopes),
          h('td', {}, timeEl(t.created_at)),
          h('td', {}, t.expires_at ? timeEl(t.expires_at) : 'never'),
          h('td', {}, t.last_used_at ? timeEl(t.last_used_at) : h('span', { class: 'muted' }, 'never'))))))));
  render('Access tokens', h('div', { 'data-page': 'tokens' },
    h('div', { class: 'page-head' }, h('div', { class: 'grow' }, h('h1', {}, 'Access tokens'),
      h('div', { class: 'muted' }, 'Tokens of ' + list.user + ' for docker login, skopeo --creds and CI'))), body));
}

/* ---- images ---------------------------------------------------------------- */

async function pageImages() {
  const list = await api('/images');
  const body = list.repositories.length === 0
    ? h('div', { class: 'panel empty', 'data-empty': 'images' }, h('h2', {}, 'No images yet'),
        h('p', {}, 'Images appear here when a build succeeds, or when you push one:'),
        h('pre', {}, 'skopeo copy --dest-tls-verify=false oci:./image:1 docker://' + location.host + '/demo/app:1'))
    : h('section', { class: 'panel' }, h('div', { class: 'table-wrap' }, h('table', {},
        h('thead', {}, h('tr', {}, h('th', {}, 'Repository'), h('th', { class: 'num' }, 'Tags'))),
        h('tbody', {}, list.repositories.map((r) => h('tr', { 'data-image-repo': r.name },
          h('td', {}, link('/images/' + r.name, r.name)), h('td', { class: 'num' }, r.tags)))))));
  render('Images', h('div', { 'data-page': 'images' },
    h('div', { class: 'page-head' }, h('div', { class: 'grow' }, h('h1', {}, 'Images'),
      h('div', { class: 'muted' }, 'What the built-in registry holds'))), body));
}

function pullCommands(host, name, tag) {
  const ref = host + '/' + name + ':' + tag;
  const local = name.replace(/[^a-zA-Z0-9._-]/g, '-') + '-' + tag;
  return [
    copyBox('skopeo copy --src-tls-verify=false docker://' + ref + ' oci:' + local + ':' + tag, 'skopeo'),
    copyBox('docker pull ' + ref, 'docker'),
    copyBox('podman pull --tls-verify=false ' + ref, 'podman'),
  ];
}

async function pageImageRepo(name) {
  const [tags, status] = await Promise.all([api('/images/' + name + '/tags'), serverStatus()]);
  const host = (tags.pull && tags.pull.host) || status.registry;
  if (tags.tags.length === 0) throw new ApiError(404, 'NOT_FOUND', 'The image repository ' + name + ' has no tags.');
  tags.tags.sort(compareTags);
  const pick = tags.tags.find((t) => t.tag === 'latest') || tags.tags[0];
  const pull = h('div', { 'data-pull': true });
  const select = h('select', { 'aria-label': 'Tag to pull' },
    tags.tags.map((t) => h('option', { value: t.tag, selected: t.tag === pick.tag }, t.tag)));
  const showPull = () => pull.replaceChildren(...pullCommands(host, name, select.value));
  select.addEventListener('change', showPull);
  showPull();
  const table = h('div', { class: 'table-wrap' }, h('table', { 'data-tags-table': true },
    h('thead', {}, h('tr', {}, h('th', {}, 'Tag'), h('th', {}, 'Digest'), h('th', { class: 'num' }, 'Size'),
      h('th', {}, 'Created'), h('th', {}, 'Run'))),
    h('tbody', {}, tags.tags.map((t) => h('tr', { 'data-tag': t.tag },
      h('td', {}, link('/images/' + name + ':' + t.tag, t.tag, { class: 'tag' })),
      h('td', { class: 'mono', title: t.digest }, shortDigest(t.digest)),
      h('td', { class: 'num' }, fmtSize(t.size)),
      h('td', { class: 'nowrap' }, timeEl(t.created)),
      h('td', { class: 'mono' }, t.run ? link('/runs/' + t.run, t.run) : h('span', { class: 'muted' }, 'pushed')))))));
  render(name, h('div', { 'data-page': 'image-repo' },
    h('div', { class: 'page-head' }, h('div', { class: 'grow' },
      h('div', { class: 'crumbs' }, link('/images', 'Images'), ' / repository'),
      h('h1', {}, name))),
    h('section', { class: 'panel' }, h('h2', {}, 'Pull'), h('p', {}, 'Tag ', select), pull),
    h('section', { class: 'panel' }, h('h2', {}, 'Tags'), table)));
}

async function pageImage(name, ref) {
  const [img, status] = await Promise.all([api('/images/' + name + '/manifests/' + ref), serverStatus()]);
  const c = img.config || {};
  const show = (v) => (v === null || v === undefined || v === '' || (Array.isArray(v) && !v.length))
    ? h('span', { class: 'muted' }, '–') : h('code', {}, Array.isArray(v) ? JSON.stringify(v) : String(v));
  const labels = c.Labels && Object.keys(c.Labels).length
    ? h('dl', { class: 'facts' }, Object.entries(c.Labels).map(([k, v]) => [h('dt', { class: 'mono' }, k), h('dd', {}, v)]))
    : h('span', { class: 'muted' }, '–');
  const env = (c.Env || []).length ? h('div', {}, c.Env.map((e) => h('div', {}, h('code', {}, e)))) : show(null);
  const platform = img.platform ? [img.platform.os, img.platform.architecture, img.platform.variant].filter(Boolean).join('/') : '–';
  let layersNode;
  if (img.layers) {
    /* every history entry, in order: instructions that made a layer get
     * its size, the others (ENV, CMD, LABEL, …) show as "no layer" */
    const rows = [];
    let next = 0;
    for (const e of img.history || []) {
      if (e.empty_layer) rows.push({ created_by: e.created_by, layer: null });
      else if (next < img.layers.length) rows.push({ created_by: e.created_by || img.layers[next].created_by, layer: img.layers[next], n: ++next });
    }
    while (next < img.layers.length) rows.push({ created_by: img.layers[next].created_by, layer: img.layers[next], n: ++next });
    layersNode = h('div', { class: 'table-wrap' }, h('table', { 'data-layers': true },
      h('thead', {}, h('tr', {}, h('th', { class: 'num' }, '#'), h('th', {}, 'Created by'),
        h('th', { class: 'num' }, 'Size'), h('th', { class: 'hide-sm' }, 'Share'))),
      h('tbody', {}, rows.map((r) => h('tr', r.layer ? { 'data-layer': r.n } : { 'data-history': true, class: 'no-layer' },
        h('td', { class: 'num' }, r.layer ? r.n : ''),
        h('td', { class: 'created-by' }, (r.created_by || '(no history)').replace(/ # buildkit$/, '')),
        r.layer ? h('td', { class: 'num', 'data-size': r.layer.size }, fmtSize(r.layer.size))
          : h('td', { class: 'num muted' }, 'no layer'),
        h('td', { class: 'hide-sm', style: 'width:22%' }, r.layer ? h('div', { class: 'bar', title: (r.layer.share * 100).toFixed(1) + '%' },
          h('span', { style: 'width:' + Math.max(0.5, r.layer.share * 100).toFixed(1) + '%' })) : null))))));
  } else {
    /* an index: one row per platform's image, with its size and layers */
    const plat = (p) => p ? [p.os, p.architecture, p.variant].filter(Boolean).join('/') : '–';
    layersNode = h('div', { class: 'table-wrap' }, h('table', { 'data-platforms': true },
      h('thead', {}, h('tr', {}, h('th', {}, 'Platform'), h('th', {}, 'Image'),
        h('th', { class: 'num' }, 'Size'), h('th', { class: 'num' }, 'Layers'))),
      h('tbody', {}, (img.manifests || []).map((m) => h('tr', { 'data-platform': plat(m.platform) },
        h('td', {}, link('/images/' + name + '@' + m.digest, plat(m.platform))),
        h('td', { class: 'mono' }, m.digest.slice(0, 19)),
        h('td', { class: 'num' }, m.image_size !== undefined ? fmtSize(m.image_size) : '–'),
        h('td', { class: 'num' }, m.layers !== undefined ? String(m.layers) : '–'))))));
  }
  const tag = ref.startsWith('sha256:') ? null : ref;
  render(name + ':' + ref, h('div', { 'data-page': 'image' },
    h('div', { class: 'page-head' }, h('div', { class: 'grow' },
      h('div', { class: 'crumbs' }, link('/images', 'Images'), ' / ', link('/images/' + name, name), ' / image'),
      h('h1', {}, name, tag ? ':' + tag : ''),
      h('div', { class: 'muted mono' }, img.digest))),
    h('div', { class: 'grid' },
      h('section', { class: 'panel' }, h('h2', {}, 'Image'), h('dl', { class: 'facts' },
        h('dt', {}, 'Platform'), h('dd', {}, img.manifests
          ? 'index of ' + plural(img.manifests.length, 'platform') : platform),
        h('dt', {}, 'Created'), h('dd', {}, timeEl(img.created)),
        h('dt', {}, 'Size'), h('dd', {}, fmtSize(img.size), img.layers ? ' in ' + plural(img.layers.length, 'layer') : ''),
        h('dt', {}, 'Built by'), h('dd', {}, img.run ? link('/runs/' + img.run, 'run ' + img.run)
          : h('span', { class: 'muted' }, 'not built here (pushed or imported)')),
        h('dt', {}, 'Media type'), h('dd', { class: 'mono' }, img.media_type))),
      tag ? h('section', { class: 'panel' }, h('h2', {}, 'Pull'), pullCommands(status.registry, name, tag)) : null),
    img.layers ? h('section', { class: 'panel' }, h('h2', {}, 'Config'), h('dl', { class: 'facts' },
      h('dt', {}, 'Entrypoint'), h('dd', {}, show(c.Entrypoint)),
      h('dt', {}, 'Cmd'), h('dd', {}, show(c.Cmd)),
      h('dt', {}, 'User'), h('dd', {}, show(c.User)),
      h('dt', {}, 'WorkingDir'), h('dd', {}, show(c.WorkingDir)),
      h('dt', {}, 'Exposed ports'), h('dd', {}, show(c.ExposedPorts)),
      h('dt', {}, 'Env'), h('dd', {}, env),
      h('dt', {}, 'Labels'), h('dd', {}, labels))) : null,
    h('section', { class: 'panel' }, h('h2', {}, img.layers ? 'Layers' : 'Platforms'), layersNode)));
}

/* ---- start -------------------------------------------------------------------- */

showUser();
route();
