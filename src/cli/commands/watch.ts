// `flash-station watch`: prints every event of the running station until Ctrl-C (reconnecting when it restarts).
import { parseArgs } from 'node:util';
import type { ServerMessage } from '../../protocol/messages.js';
import { CONNECTION_OPTIONS, openClient } from '../connect.js';
import { formatBytes, formatDuration } from '../format.js';
import { WATCH_HELP } from '../help.js';
import { EXIT, type CliIo } from '../io.js';

export function describeEvent(m: ServerMessage): string | undefined {
  const at = new Date('timestamp' in m && typeof m.timestamp === 'number' ? m.timestamp : Date.now()).toISOString().slice(11, 19);
  switch (m.type) {
    case 'flash_queued': return `${at} queued     ${m.jobId} on ${m.deviceId} (position ${m.position})`;
    case 'flash_started': return `${at} started    ${m.jobId} on ${m.deviceId}: ${formatBytes(m.totalBytes)} — ${m.stage}`;
    case 'flash_progress':
      return `${at} progress   ${m.jobId} ${m.progress.toFixed(1)}% ${formatBytes(m.bytesTransferred)}/${formatBytes(m.totalBytes)} ` +
        `${formatBytes(m.transferSpeed)}/s ETA ${formatDuration(m.estimatedTimeRemaining)} — ${m.stage}`;
    case 'flash_paused': return `${at} paused     ${m.jobId}`;
    case 'flash_resumed': return `${at} resumed    ${m.jobId}`;
    case 'flash_completed': return `${at} completed  ${m.jobId} on ${m.deviceId}`;
    case 'flash_failed': return `${at} ${m.reason === 'cancelled' ? 'cancelled ' : 'failed    '} ${m.jobId} on ${m.deviceId}: ${m.error}`;
    case 'flash_log': return `${at} ${m.level.padEnd(10)} ${m.jobId}: ${m.message}`;
    case 'device_attached': return `${at} attached   ${m.device.id} (${m.device.transport}, ${m.device.name})`;
    case 'device_detached': return `${at} detached   ${m.deviceId}`;
    case 'device_updated': return `${at} device     ${m.device.id} ${m.device.state}`;
    case 'error': return `${at} error      ${m.code}: ${m.message}`;
    default: return undefined;
  }
}

export async function watchCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...CONNECTION_OPTIONS, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.stdout.write(WATCH_HELP);
    return EXIT.ok;
  }
  const client = await openClient(values, io, {
    needToken: false,
    reconnect: true,
    beforeConnect: (c) => c.on('*', (m) => {
      if (values.json) {
        io.stdout.write(`${JSON.stringify(m)}\n`);
        return;
      }
      const line = describeEvent(m);
      if (line) io.stdout.write(`${line}\n`);
    }),
  });
  if (!values.json) io.stderr.write(`watching ${client.url} — ${client.devices.length} device(s), ${client.jobs.length} job(s); Ctrl-C to stop\n`);
  client.on('status', (s) => { if (!values.json && s === 'reconnecting') io.stderr.write('connection lost; reconnecting…\n'); });
  await new Promise<void>((resolve) => {
    const off = io.onSignal(() => { off(); resolve(); });
  });
  client.close();
  return EXIT.ok;
}
