// Child-process scripts for bench/fanout.bench.ts: the load (an agent publishing progress and N reading clients that
// time each frame) and a stalled client (a tiny receive buffer, never reads).

/** node --input-type=module -e LOAD_SCRIPT URL TOKEN CLIENTS JOBS HZ SECONDS → one JSON line of latency stats. */
export const LOAD_SCRIPT = `
import WebSocket from 'ws';
const [url, token, nClients, nJobs, hz, seconds] = process.argv.slice(1);
const clients = Number(nClients), jobs = Number(nJobs), rate = Number(hz), secs = Number(seconds);
const lat = [];
let received = 0;
const open = (u) => new Promise((resolve, reject) => { const ws = new WebSocket(u, { perMessageDeflate: false }); ws.once('open', () => resolve(ws)); ws.once('error', reject); });
const conns = [];
for (let i = 0; i < clients; i += 25) conns.push(...await Promise.all(Array.from({ length: Math.min(25, clients - i) }, () => open(url))));
let completed = 0;
for (const ws of conns) ws.on('message', (d) => {
  // Cheap on purpose: the load process must not be what is measured.
  const s = d.toString();
  const i = s.indexOf('"stage":"t=');
  if (i >= 0) { received++; lat.push(performance.now() - parseFloat(s.slice(i + 11))); }
  else if (s.includes('"flash_completed"')) completed++;
});
const agent = await open(url + '?token=' + token);
const cpu0 = process.cpuUsage(), wall0 = performance.now();
const ids = Array.from({ length: jobs }, (_, j) => 'bench_' + process.pid + '_' + j);
for (const id of ids) agent.send(JSON.stringify({ type: 'flash_started', jobId: id, deviceId: 'DEV_' + id, stage: 'Initializing', totalBytes: 1e9, timestamp: Date.now() }));
await new Promise((r) => setTimeout(r, 300));
lat.length = 0; received = 0;
const ticks = secs * rate;
let sent = 0;
for (let t = 1; t <= ticks; t++) {
  const due = t * 1000 / rate;
  for (const id of ids) {
    const bytes = Math.floor((t / ticks) * 1e9);
    agent.send(JSON.stringify({ type: 'flash_progress', jobId: id, deviceId: 'DEV_' + id, progress: (bytes / 1e9) * 100,
      stage: 't=' + performance.now(), bytesTransferred: bytes, totalBytes: 1e9, transferSpeed: 2e7, estimatedTimeRemaining: 1, timestamp: Date.now() }));
    sent++;
  }
  const wait = due - (performance.now() - start0());
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}
function start0() { return globalThis.__t0 ??= performance.now() - 1000 / rate; }
await new Promise((r) => setTimeout(r, 1000));
for (const id of ids) agent.send(JSON.stringify({ type: 'flash_completed', jobId: id, deviceId: 'DEV_' + id, timestamp: Date.now() }));
const drainStart = performance.now();
while (completed < jobs * clients && performance.now() - drainStart < 15000) await new Promise((r) => setTimeout(r, 50));
lat.sort((a, b) => a - b);
const q = (p) => lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : NaN;
// The load process's own CPU (% of one core): near 100 it is the bottleneck and its queueing is in the latency.
const cpu = process.cpuUsage(cpu0);
const loadCpuPercent = ((cpu.user + cpu.system) / 1000 / (performance.now() - wall0)) * 100;
console.log(JSON.stringify({ clients, expected: sent * clients, received, drainMs: performance.now() - drainStart, completed, p50: q(0.5), p99: q(0.99), max: lat.at(-1) ?? NaN, loadCpuPercent }));
for (const ws of [...conns, agent]) ws.terminate();
process.exit(0);
`;

/** python3 -c SLOW_CLIENT_SCRIPT PORT SECONDS: handshake with a 4 KiB receive buffer, then never read. */
export const SLOW_CLIENT_SCRIPT = `
import base64, os, socket, sys, time
port, seconds = int(sys.argv[1]), float(sys.argv[2])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", port))
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET /flash-progress HTTP/1.1\\r\\nHost: 127.0.0.1:%d\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n"
           "Sec-WebSocket-Key: %s\\r\\nSec-WebSocket-Version: 13\\r\\n\\r\\n" % (port, key)).encode())
head = b""
while b"\\r\\n\\r\\n" not in head:
    head += s.recv(1)
time.sleep(seconds)
s.close()
`;
