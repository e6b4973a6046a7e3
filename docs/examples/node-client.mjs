#!/usr/bin/env node
// A minimal Flash Station client for Node with the `ws` package (npm install ws), written from docs/protocol.md.
//
//   FLASH_STATION_TOKEN=… node node-client.mjs [ws://127.0.0.1:3001/flash-progress] [DEVICE PARTITION IMAGE]
//
// Without DEVICE/PARTITION/IMAGE it lists the devices and jobs and exits. With them it starts a flash and follows
// the job to its end: exit 0 completed, 1 failed, 130 cancelled (Ctrl-C cancels the job).
import WebSocket from 'ws';

// A snapshot can be large; text a station relays may come from an outside agent: print it cut, without control
// characters (a terminal would obey them), and skip frames this client cannot use instead of crashing on them.
const MAX_ROWS = 50;
const text = (v, limit = 120) => String(v ?? '').replace(/[\u0000-\u001f\u007f-\u009f]/g, '?').slice(0, limit);
const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
function parse(data) {
  try {
    const m = JSON.parse(data.toString());
    return m && typeof m === 'object' && typeof m.type === 'string' ? m : undefined;
  } catch {
    return undefined;
  }
}

const [url = 'ws://127.0.0.1:3001/flash-progress', deviceId, partition, image] = process.argv.slice(2);
const token = process.env.FLASH_STATION_TOKEN;
const ws = new WebSocket(url, { handshakeTimeout: 10_000, maxPayload: 16 * 2 ** 20, ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}) });
let jobId;
let nextId = 0;
const pending = new Map();

/** Send a command and resolve with its `result` (or reject with its error). */
function request(command) {
  const requestId = `n${++nextId}`;
  ws.send(JSON.stringify({ ...command, requestId }));
  return new Promise((resolve, reject) => pending.set(requestId, { resolve, reject }));
}

ws.on('message', async (data) => {
  const m = parse(data);
  if (!m) return;
  if ((m.type === 'result' || m.type === 'error') && pending.has(m.requestId)) {
    const p = pending.get(m.requestId);
    pending.delete(m.requestId);
    if (m.type === 'result' && m.ok) p.resolve(m);
    else p.reject(new Error(`${text(m.error?.code ?? m.code)}: ${text(m.error?.message ?? m.message, 500)}`));
    return;
  }
  switch (m.type) {
    case 'hello':
      console.log(`connected to ${text(m.protocol)} station ${text(m.version)} (authenticated: ${m.authenticated === true})`);
      break;
    case 'snapshot':
      if (!deviceId) {
        const devices = Array.isArray(m.devices) ? m.devices.filter((d) => d && typeof d === 'object') : [];
        const jobs = Array.isArray(m.jobs) ? m.jobs.filter((j) => j && typeof j === 'object') : [];
        for (const d of devices.slice(0, MAX_ROWS)) console.log(`device ${text(d.id)} ${text(d.state)} ${text(d.transport)} ${text(d.name)}`);
        for (const j of jobs.slice(0, MAX_ROWS)) console.log(`job ${text(j.jobId)} ${text(j.deviceId)} ${text(j.state)} ${num(j.progress).toFixed(1)}%`);
        const hidden = Math.max(0, devices.length - MAX_ROWS) + Math.max(0, jobs.length - MAX_ROWS);
        if (hidden) console.log(`… and ${hidden} more`);
        ws.close();
        return;
      }
      try {
        const started = await request({ type: 'start_flash', deviceId, partition, image });
        jobId = started.jobId;
        console.log(`job ${text(jobId)} ${text(started.status)}`);
      } catch (e) {
        console.error(`refused: ${e.message}`);
        process.exitCode = 1;
        ws.close();
      }
      break;
    case 'flash_progress':
      if (m.jobId === jobId) {
        console.log(`progress ${num(m.progress).toFixed(1)}% ${(num(m.transferSpeed) / 1048576).toFixed(1)} MiB/s ETA ${Math.round(num(m.estimatedTimeRemaining))}s ${text(m.stage)}`);
      }
      break;
    case 'flash_completed':
      if (m.jobId === jobId) {
        console.log('completed');
        process.exitCode = 0;
        ws.close();
      }
      break;
    case 'flash_failed':
      if (m.jobId === jobId) {
        console.log(m.reason === 'cancelled' ? 'cancelled' : `failed: ${text(m.error, 500)}`);
        process.exitCode = m.reason === 'cancelled' ? 130 : 1;
        ws.close();
      }
      break;
    default:
      break;
  }
});

process.on('SIGINT', () => {
  if (jobId) ws.send(JSON.stringify({ type: 'cancel_flash', jobId }));
  else process.exit(130);
});
ws.on('error', (e) => {
  console.error(`cannot reach the station at ${url}: ${e.message}`);
  process.exitCode = 2;
});
