// The Meshlet console: reads the admin API's JSON with the admin token kept in sessionStorage
// (a page load cannot carry a bearer header; this script sends it on every call). Plain DOM,
// no build step; every value from the mesh is set as text, never as HTML.
'use strict';

const TOKEN_KEY = 'meshlet-admin-token';
const TYPES = ['Listener', 'RouteConfiguration', 'Cluster', 'ClusterLoadAssignment'];
let timer = null;
let lastConfig = null;
let lastClients = [];
let historyVersions = [];

function $(id) { return document.getElementById(id); }

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k === 'style') e.style.cssText = v; // CSSOM: allowed by the page's CSP, unlike a style attribute
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

class Unauthorized extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path) {
  const headers = { 'Accept': 'application/json' };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers['Authorization'] = 'Bearer ' + token;
  const r = await fetch(path, { headers, cache: 'no-store' });
  if (r.status === 401 || r.status === 403) {
    let message = r.status === 401 ? 'the admin API needs the token' : 'that is not the admin token';
    try { message = (await r.json()).error || message; } catch (e) { /* keep the default */ }
    throw new Unauthorized(r.status, message);
  }
  if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
  return r.json();
}

function showLogin(message) {
  if (timer) { clearInterval(timer); timer = null; }
  $('console').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message || '';
  document.body.dataset.state = 'login';
}

async function start() {
  try {
    lastConfig = await api('/config');
  } catch (e) {
    if (e instanceof Unauthorized) { showLogin(sessionStorage.getItem(TOKEN_KEY) ? e.message : ''); return; }
    $('status').textContent = 'cannot reach the admin API: ' + e.message;
    return;
  }
  $('login').hidden = true;
  $('console').hidden = false;
  $('logout').hidden = !sessionStorage.getItem(TOKEN_KEY);
  await refresh(true);
  // Set once the first figures are drawn (unless the token was refused meanwhile): tests wait for it.
  if (!$('console').hidden) document.body.dataset.state = 'console';
  timer = setInterval(() => refresh(false), 2000);
}

let ticks = 0;
async function refresh(all) {
  try {
    const slow = all || ticks++ % 3 === 0;
    const [traffic, clients] = await Promise.all([api('/traffic'), api('/clients')]);
    lastClients = clients.clients;
    if (slow) {
      lastConfig = await api('/config');
      renderServices(lastConfig, lastClients);
      renderHistory(await api('/history'));
    }
    renderTraffic(traffic);
    renderClients(lastClients);
    $('status').textContent = 'updated ' + new Date().toLocaleTimeString();
    document.body.dataset.refreshed = String(Date.now());
  } catch (e) {
    if (e instanceof Unauthorized) { showLogin(e.message); return; }
    $('status').textContent = 'refresh failed: ' + e.message;
  }
}

// ---- services: routes, splits, policies, instances ----

function renderServices(config, clients) {
  const list = $('service-list');
  list.replaceChildren();
  if (!config.version) { list.append(el('p', { class: 'bad' }, 'No config is being served yet.')); return; }
  $('serving').textContent = 'Serving version ' + config.version + ' from ' + config.source + ' since ' + config.loadedAt;
  const registered = config.registered || [];
  for (const [name, svc] of Object.entries(config.intent.services)) {
    const card = el('div', { class: 'card', 'data-service': name },
      el('h3', {}, name, ' ', el('span', { class: 'muted' }, svc.protocol + ' · ' + svc.loadBalancing)));
    (svc.routes || []).forEach((route, i) => card.append(renderRoute(name, route, i)));
    card.append(renderPolicies(svc));
    const rows = [];
    for (const e of svc.endpoints || []) {
      const reg = registered.find(r => r.service === name && r.address === e.address);
      rows.push(el('tr', { class: 'endpoint', 'data-address': e.address },
        el('td', {}, e.address), el('td', {}, reg ? 'registered (' + reg.nodeId + ')' : 'file'),
        el('td', {}, labels(e.labels)), el('td', {}, clientsView(name, clients))));
    }
    for (const r of registered.filter(r => r.service === name && !(svc.endpoints || []).some(e => e.address === r.address))) {
      rows.push(el('tr', { class: 'endpoint', 'data-address': r.address },
        el('td', {}, r.address), el('td', {}, 'registered (' + r.nodeId + ')'),
        el('td', {}, labels(r.labels)), el('td', {}, clientsView(name, clients))));
    }
    card.append(el('table', { class: 'instances' },
      el('thead', {}, el('tr', {}, el('th', {}, 'instance'), el('th', {}, 'source'), el('th', {}, 'labels'),
        el('th', {}, "clients' view"))), el('tbody', {}, ...rows)));
    list.append(card);
  }
  // Services only registered instances make are in 'registered' but not in the intent.
  for (const name of [...new Set(registered.map(r => r.service))].filter(n => !config.intent.services[n])) {
    list.append(el('div', { class: 'card', 'data-service': name }, el('h3', {}, name, ' ',
      el('span', { class: 'muted' }, 'registered instances only')),
      ...registered.filter(r => r.service === name).map(r => el('div', {}, r.address + ' ' + labels(r.labels)))));
  }
}

function labels(l) {
  return Object.entries(l || {}).map(([k, v]) => k + '=' + v).join(', ');
}

/** How many connected clients have ACKed the endpoints of a service's clusters. */
function clientsView(service, clients) {
  const watching = clients.filter(c => {
    const eds = c.resources.ClusterLoadAssignment;
    return eds && (eds.subscribed.length === 0 || eds.subscribed.some(n => n === service || n.startsWith(service + '/')));
  });
  const synced = watching.filter(c => c.resources.ClusterLoadAssignment.sync === 'SYNCED');
  return watching.length === 0 ? 'no client watches it' : synced.length + ' of ' + watching.length + ' watching clients in sync';
}

function renderRoute(service, route, i) {
  const m = route.match || {};
  const parts = [];
  if (m.pathPrefix !== undefined) parts.push('prefix ' + m.pathPrefix);
  if (m.path !== undefined) parts.push('path ' + m.path);
  if (m.pathRegex !== undefined) parts.push('regex ' + m.pathRegex);
  for (const [h, v] of Object.entries(m.headers || {})) {
    parts.push(h + (typeof v === 'string' ? '=' + v : v.regex ? '~' + v.regex : ' present'));
  }
  const total = (route.to || []).reduce((s, t) => s + t.weight, 0) || 1;
  const bar = el('div', { class: 'split', 'data-route': String(i) });
  (route.to || []).forEach((t, j) => {
    const pct = 100 * t.weight / total;
    bar.append(el('div', { class: 'c' + (j % 5), style: 'width:' + pct + '%', 'data-target': t.subset || '',
      title: (t.subset || 'all endpoints') + ': ' + t.weight }, (t.subset || 'all') + ' ' + Math.round(pct) + '%'));
  });
  const policies = [];
  if (route.timeout) policies.push('timeout ' + route.timeout);
  if (route.retries) policies.push('retries ' + route.retries.attempts + ' on ' + route.retries.on.join(',')
    + (route.retries.perTryTimeout ? ' per try ' + route.retries.perTryTimeout : ''));
  if (route.faults) policies.push('faults ' + JSON.stringify(route.faults));
  if (route.rateLimit) policies.push('rate limit ' + route.rateLimit.requestsPerSecond + '/s burst ' + route.rateLimit.burst);
  return el('div', { class: 'route', 'data-service': service, 'data-route': String(i) },
    el('div', {}, 'route ' + (i + 1) + ': ', el('code', {}, parts.join(' & ') || 'any')), bar,
    policies.length ? el('div', { class: 'policy muted' }, policies.join(' · ')) : null);
}

function renderPolicies(svc) {
  const p = [];
  if (svc.circuitBreaker) p.push('breaker ' + JSON.stringify(svc.circuitBreaker));
  if (svc.outlierDetection) p.push('ejection ' + JSON.stringify(svc.outlierDetection));
  if (svc.mtls) p.push('mTLS ' + svc.mtls.mode);
  if (svc.authorization) p.push('allow ' + JSON.stringify(svc.authorization.allow || svc.authorization.rules));
  if (svc.hashHeader) p.push('hash header ' + svc.hashHeader);
  if (Object.keys(svc.subsets || {}).length) p.push('subsets ' + Object.entries(svc.subsets)
    .map(([k, v]) => k + ' {' + labels(v) + '}').join(', '));
  return el('div', { class: 'policy' }, p.length ? p.join(' · ') : el('span', { class: 'muted' }, 'no policies'));
}

// ---- live traffic ----

function fmt(n, digits) { return n === null || n === undefined ? '–' : Number(n).toFixed(digits); }

function trafficRow(kind, label, f, attrs, series) {
  const lat = f.latencyMs;
  const spark = el('span', { class: 'spark' });
  if (series) {
    const max = Math.max(1, ...series);
    for (const v of series) spark.append(el('span', { style: 'height:' + Math.max(1, Math.round(18 * v / max)) + 'px', title: fmt(v, 1) + ' rps' }));
  }
  return el('tr', Object.assign({ class: kind }, attrs),
    el('td', {}, label), el('td', { class: 'num issued' }, f.issued), el('td', { class: 'num rps' }, fmt(f.rps, 2)),
    el('td', { class: 'num errors' }, f.errors), el('td', { class: 'num error-rate' }, fmt(100 * f.errorRate, 1) + '%'),
    el('td', { class: 'num in-flight' }, f.inFlight), el('td', { class: 'num p50' }, lat ? fmt(lat.p50, 1) : '–'),
    el('td', { class: 'num p90' }, lat ? fmt(lat.p90, 1) : '–'), el('td', { class: 'num p99' }, lat ? fmt(lat.p99, 1) : '–'),
    el('td', {}, series ? spark : ''));
}

function renderTraffic(t) {
  $('traffic-scope').textContent = 'Requests over the last ' + t.window + ', from load reports every '
    + t.reportInterval + ' (' + t.scope + '); ' + (t.reporters || []).length + ' clients reporting. '
    + 'Meshlet clients report per instance with latency; gRPC clients per locality, without latency.';
  const body = $('traffic').tBodies[0];
  const rows = [];
  for (const s of t.services) {
    rows.push(trafficRow('service', s.service, s, { 'data-service': s.service }, s.series));
    for (const tg of s.targets) {
      rows.push(trafficRow('target', '→ ' + (tg.target || 'all endpoints'), tg,
        { 'data-service': s.service, 'data-target': tg.target }));
      for (const i of tg.instances) {
        rows.push(trafficRow('instance', i.instance, i,
          { 'data-service': s.service, 'data-target': tg.target, 'data-instance': i.instance }));
      }
    }
  }
  if (!rows.length) rows.push(el('tr', {}, el('td', { colSpan: 10, class: 'muted' }, 'No load reported yet.')));
  body.replaceChildren(...rows);
  renderCallers(t);
}

function renderCallers(t) {
  const rows = [];
  for (const s of t.services) {
    for (const c of s.callers || []) {
      const cls = c.denied > 0 ? 'caller denied' : c.errorRate >= 0.5 ? 'caller failing' : 'caller';
      rows.push(el('tr', { class: cls, 'data-service': s.service, 'data-caller': c.caller },
        el('td', {}, s.service), el('td', { class: 'caller-name' }, c.caller), el('td', { class: 'num issued' }, c.issued),
        el('td', { class: 'num rps' }, fmt(c.rps, 2)), el('td', { class: 'num errors' }, c.errors),
        el('td', { class: 'num error-rate' }, fmt(100 * c.errorRate, 1) + '%'),
        el('td', { class: 'num denied' }, c.denied > 0 ? c.denied + ' denied' : '0'),
        el('td', { class: 'num denied-rate' }, fmt(100 * c.deniedRate, 1) + '%')));
    }
  }
  if (!rows.length) rows.push(el('tr', {}, el('td', { colSpan: 8, class: 'muted' }, 'No load reported yet.')));
  $('callers').tBodies[0].replaceChildren(...rows);
}

// ---- clients ----

function renderClients(clients) {
  const body = $('clients').tBodies[0];
  const rows = clients.map(c => {
    const states = TYPES.map(t => c.resources[t] ? c.resources[t].sync : 'NOT_SENT');
    const nack = TYPES.map(t => c.resources[t] && c.resources[t].lastNack ? [t, c.resources[t].lastNack] : null)
      .filter(x => x).sort((a, b) => (a[1].at < b[1].at ? 1 : -1))[0];
    const cls = states.includes('NACKED') ? 'client nacked' : states.includes('STALE') ? 'client stale' : 'client';
    return el('tr', { class: cls, 'data-node': c.nodeId },
      el('td', {}, c.nodeId), el('td', {}, c.cluster), el('td', {}, c.stream + ' ' + c.protocol),
      ...TYPES.map((t, i) => el('td', { class: states[i], title: c.resources[t] ? 'acked ' + c.resources[t].ackedVersion : '' },
        states[i] + (c.resources[t] && c.resources[t].ackedVersion ? ' ' + c.resources[t].ackedVersion.slice(0, 8) : ''))),
      el('td', { class: 'nack' }, nack ? nack[0] + ' ' + nack[1].version.slice(0, 8) + ': ' + nack[1].message : ''));
  });
  if (!rows.length) rows.push(el('tr', {}, el('td', { colSpan: 8, class: 'muted' }, 'No client connected.')));
  body.replaceChildren(...rows);
}

// ---- config history ----

function renderHistory(h) {
  const same = JSON.stringify(h.versions.map(v => v.version)) === JSON.stringify(historyVersions.map(v => v.version));
  historyVersions = h.versions;
  $('versions').tBodies[0].replaceChildren(...h.versions.map(v => el('tr', { 'data-version': v.version },
    el('td', {}, el('code', {}, v.version)), el('td', {}, v.at), el('td', {}, v.origin), el('td', {}, v.source))));
  if (!same) {
    for (const [id, pick] of [['diff-from', 1], ['diff-to', 0]]) {
      const sel = $(id);
      sel.replaceChildren(...h.versions.map(v => el('option', { value: v.version }, v.version.slice(0, 12) + ' ' + v.at)));
      if (h.versions.length > pick) sel.value = h.versions[pick].version;
    }
  }
  $('refused').replaceChildren(...(h.refused.length ? h.refused.map(r => el('div', { class: 'card refused' },
    el('div', {}, r.at + ' from ' + r.origin + ' (' + r.source + ')'),
    el('ul', {}, ...r.errors.map(e => el('li', { class: 'bad' }, el('code', {}, e)))))) : [el('p', { class: 'muted' }, 'None.')]));
}

async function showDiff() {
  const from = $('diff-from').value;
  const to = $('diff-to').value;
  const body = $('diff').tBodies[0];
  try {
    const d = await api('/history/diff?from=' + encodeURIComponent(from) + '&to=' + encodeURIComponent(to));
    const rows = d.changes.map(c => el('tr', { class: 'change', 'data-path': c.path },
      el('td', {}, el('code', {}, c.path)),
      el('td', { class: 'diff-before' }, c.before === null ? '(none)' : JSON.stringify(c.before)),
      el('td', { class: 'diff-after' }, c.after === null ? '(none)' : JSON.stringify(c.after))));
    body.replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colSpan: 3, class: 'muted' }, 'No change in the intent.'))]));
  } catch (e) {
    if (e instanceof Unauthorized) { showLogin(e.message); return; }
    body.replaceChildren(el('tr', {}, el('td', { colSpan: 3, class: 'bad' }, e.message)));
  }
}

document.addEventListener('DOMContentLoaded', () => {
  $('login-form').addEventListener('submit', ev => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
    $('token').value = '';
    start();
  });
  $('logout').addEventListener('click', () => { sessionStorage.removeItem(TOKEN_KEY); showLogin(''); });
  $('diff-show').addEventListener('click', showDiff);
  start();
});
