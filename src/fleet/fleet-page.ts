// The fleet view's web page: one self-contained HTML file (no bundle), stations as rows, refreshed every second.
// Everything from the broker is inserted as text, never as HTML.
import { createHash } from 'node:crypto';

const SCRIPT = String.raw`
const params = new URLSearchParams(location.search);
if (params.get('token')) { sessionStorage.setItem('fleetToken', params.get('token')); history.replaceState(null, '', '/'); }
const fleetToken = sessionStorage.getItem('fleetToken') || '';
// What a person typed per station (token, device, partition, image): the rows are rebuilt every second, the drafts stay.
const drafts = new Map();
const draft = (id) => { if (!drafts.has(id)) drafts.set(id, { token: '', deviceId: '', partition: '', image: '' }); return drafts.get(id); };
const el = (tag, attrs, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v); else if (v !== undefined && v !== null) e.setAttribute(k, String(v));
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(typeof k === 'string' || typeof k === 'number' ? String(k) : k);
  return e;
};
const ago = (t) => { const s = Math.max(0, Math.round((Date.now() - t) / 1000)); return s < 60 ? s + ' s ago' : s < 3600 ? Math.round(s / 60) + ' min ago' : Math.round(s / 3600) + ' h ago'; };
const mb = (n) => (n / 1048576).toFixed(1) + ' MiB';
const words = { queued: 'Queued', running: 'Running', paused: 'Paused', completed: 'Completed', failed: 'Failed', cancelled: 'Cancelled' };
const lastResult = new Map();

async function send(stationId, command) {
  const token = draft(stationId).token;
  const out = document.getElementById('result-' + CSS.escape(stationId));
  if (!token) { lastResult.set(stationId, 'Enter this station\'s token first.'); render(); return; }
  lastResult.set(stationId, 'Sent ' + command.type + '…'); render();
  try {
    const res = await fetch('/api/stations/' + encodeURIComponent(stationId) + '/commands', {
      method: 'POST', headers: { authorization: 'Bearer ' + fleetToken, 'content-type': 'application/json' },
      body: JSON.stringify({ ...command, token }),
    });
    const body = await res.json();
    const r = body.result;
    lastResult.set(stationId, r ? (r.ok ? command.type + ': ok' + (r.jobId ? ' (job ' + r.jobId + ')' : '') : command.type + ': ' + r.error.code + ' — ' + r.error.message)
      : (body.error ? body.error.code + ' — ' + body.error.message : 'HTTP ' + res.status));
  } catch (e) { lastResult.set(stationId, String(e)); }
  render();
}

let stations = [];
let fetchError = '';
function render() {
  const body = document.getElementById('rows');
  const focused = document.activeElement && document.activeElement.dataset && document.activeElement.dataset.keep;
  if (focused) return; // do not rebuild under someone typing
  body.replaceChildren(...stations.map((s) => {
    const jobs = s.jobs.map((j) => el('li', { class: 'job' },
      el('span', {}, j.deviceId + ' '),
      el('progress', { max: 100, value: Math.round(j.progress), 'aria-label': 'Job ' + j.jobId + ' progress', role: 'progressbar', 'aria-valuenow': Math.round(j.progress), 'aria-valuemin': 0, 'aria-valuemax': 100 }),
      el('span', { class: 'state' }, ' ' + (words[j.state] || j.state) + ' '),
      el('span', { class: 'muted' }, Math.round(j.progress) + ' % · ' + mb(j.transferSpeed) + '/s · ' + (j.stage || '') + ' '),
      el('button', { onclick: () => send(s.stationId, { type: 'pause_flash', jobId: j.jobId }) }, 'Pause'),
      el('button', { onclick: () => send(s.stationId, { type: 'resume_flash', jobId: j.jobId }) }, 'Resume'),
      el('button', { onclick: () => send(s.stationId, { type: 'cancel_flash', jobId: j.jobId }) }, 'Cancel')));
    const devices = s.devices.map((d) => el('li', { 'aria-label': 'Device ' + d.id }, d.id + ' (' + d.protocol + ', ' + d.state + ')'));
    const typed = draft(s.stationId);
    const keep = (key) => (e) => { typed[key] = e.target.value; };
    const deviceField = el('select', { 'aria-label': 'Device', 'data-keep': 1, onchange: keep('deviceId') },
      ...s.devices.map((d) => el('option', { value: d.id, selected: d.id === typed.deviceId ? '' : undefined }, d.id)));
    const partition = el('input', { 'aria-label': 'Partition', placeholder: 'partition', size: 10, 'data-keep': 1, value: typed.partition, oninput: keep('partition') });
    const image = el('input', { 'aria-label': 'Image', placeholder: '/path/on/station.img', size: 28, 'data-keep': 1, value: typed.image, oninput: keep('image') });
    const tokenField = el('input', { type: 'password', 'aria-label': 'Station token', placeholder: 'station token', size: 14, 'data-keep': 1,
      value: typed.token, oninput: keep('token') });
    const start = el('button', { onclick: () => send(s.stationId, { type: 'start_flash', deviceId: deviceField.value, image: image.value, ...(partition.value ? { partition: partition.value } : {}) }) }, 'Flash');
    const c = s.counters;
    return el('tr', { 'aria-label': 'Station ' + s.stationId, class: s.online ? 'on' : 'off' },
      el('th', { scope: 'row' }, s.stationId),
      el('td', {}, el('span', { class: 'badge' }, s.online ? 'Online' : 'Offline'), s.online ? null : el('div', { class: 'muted' }, 'last seen ' + ago(s.lastSeen))),
      el('td', {}, el('ul', {}, ...devices)),
      el('td', {}, el('ul', {}, ...jobs)),
      el('td', { class: 'muted' }, c.completed + ' done · ' + c.failed + ' failed · ' + c.cancelled + ' cancelled' + (c.dropped ? ' · ' + c.dropped + ' events lost' : '') + ' · ' + c.events + ' events'),
      el('td', {}, tokenField, ' ', deviceField, ' ', partition, ' ', image, ' ', start, el('div', { role: 'status', id: 'result-' + s.stationId, class: 'muted' }, lastResult.get(s.stationId) || '')));
  }));
  document.getElementById('summary').textContent = fetchError || (stations.length + ' stations, ' + stations.filter((s) => s.online).length + ' online, ' +
    stations.reduce((n, s) => n + s.jobs.length, 0) + ' live jobs');
}
async function poll() {
  try { const res = await fetch('/api/stations'); stations = await res.json(); fetchError = ''; }
  catch (e) { fetchError = 'Fleet view unreachable: ' + e; }
  render();
}
poll(); setInterval(poll, 1000);
`;

export const FLEET_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Flash Station — fleet</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px system-ui,sans-serif;margin:1rem;color:#222}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:.4rem;vertical-align:top;text-align:left}
ul{margin:0;padding-left:1rem}.muted{color:#666;font-size:12px}.badge{font-weight:600}
tr.on .badge{color:#16794a}tr.off .badge{color:#b3261e}tr.off{background:#fbf3f2}progress{width:8rem}
button{margin-left:.2rem}
</style></head>
<body><h1>Fleet</h1><p id="summary" role="status">Loading…</p>
<table><thead><tr><th>Station</th><th>Link</th><th>Devices</th><th>Live jobs</th><th>Counters</th><th>Steer</th></tr></thead>
<tbody id="rows"></tbody></table>
<script>${SCRIPT}</script></body></html>
`;

/** The Content-Security-Policy source of the page's one inline script (so no other inline script may run). */
export const FLEET_SCRIPT_SOURCE = `'sha256-${createHash('sha256').update(SCRIPT).digest('base64')}'`;
