#!/usr/bin/env node
// A minimal Flash Station client for Node with the `ws` package (npm install ws), written from docs/protocol.md.
//
//   FLASH_STATION_TOKEN=… node node-client.mjs [ws://127.0.0.1:3001/flash-progress] [DEVICE PARTITION IMAGE]
//
// Without DEVICE/PARTITION/IMAGE it lists the devices and jobs and exits. With them it starts a flash and follows
// the job to its end: exit 0 completed, 1 failed, 130 cancelled (Ctrl-C cancels the job).
import WebSocket from 'ws';

const [url = 'ws://127.0.0.1:3001/flash-progress', deviceId, partition, image] = process.argv.slice(2);
const token = process.env.FLASH_STATION_TOKEN;
const ws = new WebSocket(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
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
  const m = JSON.parse(data.toString());
  if ((m.type === 'result' || m.type === 'error') && pending.has(m.requestId)) {
    const p = pending.get(m.requestId);
    pending.delete(m.requestId);
    if (m.type === 'result' && m.ok) p.resolve(m);
    else p.reject(new Error(`${m.error?.code ?? m.code}: ${m.error?.message ?? m.message}`));
    return;
  }
  switch (m.type) {
    case 'hello':
      console.log(`connected to ${m.protocol} station ${m.version} (authenticated: ${m.authenticated})`);
      break;
    case 'snapshot':
      if (!deviceId) {
        for (const d of m.devices) console.log(`device ${d.id} ${d.state} ${d.transport} ${d.name}`);
        for (const j of m.jobs) console.log(`job ${j.jobId} ${j.deviceId} ${j.state} ${j.progress.toFixed(1)}%`);
        ws.close();
        return;
      }
      try {
        const started = await request({ type: 'start_flash', deviceId, partition, image });
        jobId = started.jobId;
        console.log(`job ${jobId} ${started.status}`);
      } catch (e) {
        console.error(`refused: ${e.message}`);
        process.exitCode = 1;
        ws.close();
      }
      break;
    case 'flash_progress':
      if (m.jobId === jobId) {
        console.log(`progress ${m.progress.toFixed(1)}% ${(m.transferSpeed / 1048576).toFixed(1)} MiB/s ETA ${Math.round(m.estimatedTimeRemaining)}s ${m.stage}`);
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
        console.log(m.reason === 'cancelled' ? 'cancelled' : `failed: ${m.error}`);
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
