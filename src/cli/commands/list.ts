// `flash-station devices` and `flash-station jobs`: one snapshot of the running station, as a table or JSON.
import { parseArgs } from 'node:util';
import type { Job } from '../../protocol/messages.js';
import { CONNECTION_OPTIONS, openClient } from '../connect.js';
import { formatBytes, formatDuration, table } from '../format.js';
import { DEVICES_HELP, JOBS_HELP } from '../help.js';
import { EXIT, type CliIo } from '../io.js';

const clientOptions = {
  ...CONNECTION_OPTIONS,
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function devicesCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: argv, options: clientOptions, strict: true, allowPositionals: false });
  if (values.help) {
    io.stdout.write(DEVICES_HELP);
    return EXIT.ok;
  }
  const client = await openClient(values, io, { needToken: false, reconnect: false });
  try {
    const devices = client.devices;
    if (values.json) {
      io.stdout.write(`${JSON.stringify(devices, null, 2)}\n`);
      return EXIT.ok;
    }
    if (!devices.length) {
      io.stdout.write('No devices. Plug one in, or start the station with --sim/--demo/--connect.\n');
      return EXIT.ok;
    }
    const rows = [['ID', 'STATE', 'PROTOCOL', 'TRANSPORT', 'PORT', 'NAME', 'TARGETS', 'PARTITIONS']];
    for (const d of devices) {
      rows.push([d.id, d.state, d.protocol, d.transport, d.port ?? '-', d.name, d.targets?.join(',') ?? '-', d.partitions ? String(d.partitions.length) : '-']);
    }
    io.stdout.write(`${table(rows)}\n`);
    return EXIT.ok;
  } finally {
    client.close();
  }
}

export async function jobsCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { ...clientOptions, limit: { type: 'string' } }, strict: true, allowPositionals: false });
  if (values.help) {
    io.stdout.write(JOBS_HELP);
    return EXIT.ok;
  }
  const limit = values.limit === undefined ? 20 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) {
    io.stderr.write('flash-station jobs: --limit must be a positive integer.\n');
    return EXIT.usage;
  }
  const client = await openClient(values, io, { needToken: false, reconnect: false });
  try {
    const byId = new Map<string, Job>(client.jobs.map((j) => [j.jobId, j]));
    for (const j of await client.getHistory({ limit })) if (!byId.has(j.jobId)) byId.set(j.jobId, j);
    const jobs = [...byId.values()].sort((a, b) => b.createdAt - a.createdAt);
    if (values.json) {
      io.stdout.write(`${JSON.stringify(jobs, null, 2)}\n`);
      return EXIT.ok;
    }
    if (!jobs.length) {
      io.stdout.write('No jobs yet.\n');
      return EXIT.ok;
    }
    const rows = [['JOB', 'DEVICE', 'STATE', 'PROGRESS', 'BYTES', 'SPEED', 'ETA', 'STAGE / ERROR']];
    for (const j of jobs) {
      const live = j.state === 'running' || j.state === 'paused';
      rows.push([
        j.jobId, j.deviceId, j.state, `${j.progress.toFixed(1)}%`, `${formatBytes(j.bytesTransferred)}/${formatBytes(j.totalBytes)}`,
        live ? `${formatBytes(j.transferSpeed)}/s` : '-', live ? formatDuration(j.estimatedTimeRemaining) : '-', j.error ?? j.stage,
      ]);
    }
    io.stdout.write(`${table(rows)}\n`);
    return EXIT.ok;
  } finally {
    client.close();
  }
}
