// Prometheus text exposition (format 0.0.4) of the station's and the hub's counters for GET /metrics.
import type { StationApi } from '../core/station-api.js';
import type { WsHub } from './ws-hub.js';

const JOB_STATES = ['queued', 'running', 'paused', 'completed', 'failed', 'cancelled'];

/** More metric lines for one station, from parts composed beside the server (e.g. the MQTT link). */
const extraSources = new WeakMap<StationApi, Set<() => string>>();

/** Append `render()`'s lines to this station's /metrics until the returned function is called. */
export function addMetricsSource(station: StationApi, render: () => string): () => void {
  let set = extraSources.get(station);
  if (!set) extraSources.set(station, (set = new Set()));
  set.add(render);
  return () => set.delete(render);
}

function line(out: string[], name: string, type: 'gauge' | 'counter', help: string, samples: Array<[string, number]>): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  for (const [labels, value] of samples) out.push(`${name}${labels} ${Number.isFinite(value) ? value : 0}`);
}

export function renderMetrics(station: StationApi, hub: WsHub): string {
  const stats = station.stats();
  const out: string[] = [];
  const states = new Set([...JOB_STATES, ...Object.keys(stats.jobsByState)]);
  line(out, 'flash_station_jobs', 'gauge', 'Jobs known to the station by state.',
    [...states].map((s) => [`{state="${s}"}`, stats.jobsByState[s] ?? 0]));
  line(out, 'flash_station_bytes_flashed_total', 'counter', 'Data bytes written to devices.', [['', stats.bytesFlashed]]);
  line(out, 'flash_station_devices', 'gauge', 'Attached devices.', [['', stats.devices]]);
  line(out, 'flash_station_connected_clients', 'gauge', 'Open WebSocket connections.', [['', hub.size]]);
  line(out, 'flash_station_lagging_clients', 'gauge', 'Clients whose frames are being held back.', [['', hub.laggingClients]]);
  line(out, 'flash_station_held_bytes', 'gauge', 'Bytes held back for lagging clients.', [['', hub.heldBytes]]);
  const mem = process.memoryUsage();
  line(out, 'flash_station_process_resident_memory_bytes', 'gauge', 'Resident memory of the station process.', [['', mem.rss]]);
  line(out, 'flash_station_process_heap_used_bytes', 'gauge', 'V8 heap in use.', [['', mem.heapUsed]]);
  const c = hub.counters;
  line(out, 'flash_station_ws_connections_total', 'counter', 'WebSocket connections accepted.', [['', c.connectionsAccepted]]);
  line(out, 'flash_station_frames_sent_total', 'counter', 'Frames sent to clients.', [['', c.framesSent]]);
  line(out, 'flash_station_frames_received_total', 'counter', 'Frames received from clients.', [['', c.framesReceived]]);
  line(out, 'flash_station_frames_coalesced_total', 'counter', 'Progress frames replaced by a newer one for a lagging client.', [['', c.framesCoalesced]]);
  line(out, 'flash_station_frames_dropped_total', 'counter', 'Frames not delivered: held for a client that went away, or refused by the rate limit.',
    [['{reason="disconnected"}', c.framesDropped], ['{reason="rate_limited"}', c.framesRateLimited]]);
  line(out, 'flash_station_frames_invalid_total', 'counter', 'Inbound frames refused as invalid.', [['', c.invalidFrames]]);
  line(out, 'flash_station_slow_clients_disconnected_total', 'counter', 'Clients disconnected for not reading.', [['', c.slowClientsDisconnected]]);
  let text = `${out.join('\n')}\n`;
  for (const render of extraSources.get(station) ?? []) text += render();
  return text;
}
