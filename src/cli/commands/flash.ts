// `flash-station flash`: starts a job through the running station and follows it to its end; Ctrl-C cancels it.
import { parseArgs } from 'node:util';
import type { Job, ServerMessage } from '../../protocol/messages.js';
import { isFinished } from '../../client/job-state.js';
import { StationClientError, type StationClient } from '../../client/station-client.js';
import { flashRequest, targetProblem } from '../flash-request.js';
import { CONNECTION_OPTIONS, openClient } from '../connect.js';
import { formatBytes, formatEta, progressLine } from '../format.js';
import { FLASH_HELP } from '../help.js';
import { EXIT, type CliIo } from '../io.js';
import { describeEvent } from './watch.js';
import { parseSize } from '../../protocol/units.js';

export async function flashCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      ...CONNECTION_OPTIONS,
      device: { type: 'string', short: 'd' }, plan: { type: 'string' }, address: { type: 'string' }, verify: { type: 'boolean' }, rate: { type: 'string' },
      json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    io.stdout.write(FLASH_HELP);
    return EXIT.ok;
  }
  const usage = (why: string): number => {
    io.stderr.write(`flash-station flash: ${why}\nRun flash-station flash --help for usage.\n`);
    return EXIT.usage;
  };
  const parsed = flashRequest({ device: values.device, plan: values.plan, address: values.address, positionals });
  if ('usage' in parsed) return usage(parsed.usage);
  const request = parsed.request;
  let rate: number | undefined;
  if (values.rate !== undefined) {
    try {
      rate = parseSize(values.rate);
    } catch (e) {
      return usage(`--rate: ${(e as Error).message}`);
    }
    if (rate <= 0) return usage('--rate must be more than 0 bytes per second.');
  }

  const client = await openClient(values, io, { needToken: true, reconnect: true, maxReconnectAttempts: 5 });
  const wrongTarget = targetProblem(client.state.devices.get(request.deviceId), request);
  if (wrongTarget) {
    client.close();
    return usage(wrongTarget);
  }
  const tty = Boolean(io.stdout.isTTY) && !values.json;
  let jobId: string | undefined;
  const early: ServerMessage[] = [];
  let lastPlain = 0;
  let settled = false;
  let finish: ((code: number) => void) | undefined;
  const finished = new Promise<number>((r) => {
    finish = (code) => {
      if (settled) return;
      settled = true;
      r(code);
    };
  });

  const endCode = (job: Pick<Job, 'state'>): number => (job.state === 'completed' ? EXIT.ok : job.state === 'cancelled' ? EXIT.cancelled : EXIT.failed);
  const show = (m: ServerMessage): void => {
    if (values.json) {
      io.stdout.write(`${JSON.stringify(m)}\n`);
    } else if (m.type === 'flash_progress') {
      // A terminal may report 0 columns (no size known): that is not a width.
      if (tty) io.stdout.write(`\r${progressLine(m, io.stdout.columns || 100)}\x1b[K`);
      else if (Date.now() - lastPlain >= 1000 || m.progress >= 100) {
        lastPlain = Date.now();
        io.stdout.write(`${m.progress.toFixed(1)}% ${formatBytes(m.bytesTransferred)}/${formatBytes(m.totalBytes)} ${formatBytes(m.transferSpeed)}/s ETA ${formatEta(m.estimatedTimeRemaining, m.transferSpeed)} ${m.stage}\n`);
      }
    } else {
      const line = describeEvent(m);
      if (line) io.stdout.write(`${tty ? '\r\x1b[K' : ''}${line}\n`);
    }
    if (m.type === 'flash_completed') finish?.(EXIT.ok);
    if (m.type === 'flash_failed') finish?.(m.reason === 'cancelled' ? EXIT.cancelled : EXIT.failed);
  };
  client.on('*', (m) => {
    if (!('jobId' in m) || m.type === 'result') return;
    if (jobId === undefined) early.push(m);
    else if (m.jobId === jobId) show(m);
  });
  // After a reconnect the snapshot tells whether the job ended while we were away. A station that restarted no longer
  // lists it: its history has the job's fate (`interrupted` when it died mid-job), so ask there before giving up.
  let fate: string | undefined;
  client.on('snapshot', (snapshot) => {
    if (!jobId || snapshot.requestId !== undefined) return;
    const id = jobId;
    const listed = snapshot.jobs.find((j) => j.jobId === id);
    if (listed) {
      if (isFinished(listed)) finish?.(endCode(listed));
      return;
    }
    void jobFate(client, id, client.state.jobs.get(id)?.deviceId ?? request.deviceId).then((ended) => {
      if (settled) return;
      if (ended && !isFinished(ended)) return; // still on its way: events will follow
      fate = ended
        ? `${ended.error ?? ended.stage} (station history, after it restarted)`
        : 'the station restarted and has no record of this job; it did not finish. Flash the device again.';
      if (!values.json) io.stderr.write(`${tty ? '\n' : ''}reconnected: the station restarted while job ${id} ran\n`);
      else io.stdout.write(`${JSON.stringify(finalEvent(id, request.deviceId, ended, fate))}\n`);
      finish?.(ended ? endCode(ended) : EXIT.failed);
    });
  });

  client.on('status', (status) => {
    if (status === 'reconnecting' && !settled && !values.json && client.reconnectAttempts === 1) {
      io.stderr.write(`${tty ? '\n' : ''}lost the connection to the station; reconnecting…\n`);
    }
    if (status !== 'failed' || settled) return;
    io.stderr.write(`${tty ? '\n' : ''}lost the station at ${client.url}${jobId ? `; job ${jobId} may still be running there` : ''}\n`);
    finish?.(EXIT.usage);
  });

  let cancelling = false;
  const offSignal = io.onSignal(() => {
    if (cancelling || !jobId) {
      finish?.(EXIT.cancelled);
      return;
    }
    cancelling = true;
    if (!values.json) io.stderr.write(`${tty ? '\n' : ''}cancelling ${jobId}… (Ctrl-C again to leave it running)\n`);
    client.cancel(jobId).catch((e: unknown) => {
      io.stderr.write(`cancel failed: ${(e as Error).message}\n`);
      finish?.(EXIT.cancelled);
    });
  });

  try {
    let started;
    try {
      started = await client.startFlash(values.verify ? { ...request, verify: true } : request);
    } catch (e) {
      const code = e instanceof StationClientError ? e.code : 'internal';
      io.stderr.write(`flash-station flash: ${(e as Error).message}${code !== 'internal' ? ` [${code}]` : ''}\n`);
      return code === 'not_connected' || code === 'disconnected' || code === 'unauthorized' || code === 'bad_request' ? EXIT.usage : EXIT.failed;
    }
    jobId = started.jobId;
    if (rate !== undefined) await client.setLimits(rate, jobId).catch((e: unknown) => io.stderr.write(`could not limit the job: ${(e as Error).message}\n`));
    if (!values.json) io.stderr.write(`job ${jobId} ${started.status} on ${values.device}\n`);
    else io.stdout.write(`${JSON.stringify({ type: 'result', ok: true, ...started })}\n`);
    for (const m of early.splice(0)) if ('jobId' in m && m.jobId === jobId) show(m);
    const known = client.state.jobs.get(jobId);
    if (known && isFinished(known)) finish?.(endCode(known));
    const code = await finished;
    if (tty) io.stdout.write('\n');
    if (!values.json) {
      const job = client.state.jobs.get(jobId);
      const words = code === EXIT.ok ? 'completed' : code === EXIT.cancelled ? 'cancelled' : `failed: ${fate ?? job?.error ?? 'unknown error'}`;
      io.stderr.write(`job ${jobId} ${words}\n`);
    }
    return code;
  } finally {
    settled = true; // our own close below is not a lost station
    offSignal();
    client.close();
  }
}

/**
 * What the station's history says about a job it no longer lists (after a restart): the job, or undefined when it has
 * no record (or cannot be asked). History marks jobs that were running when the station died `failed`/`interrupted`.
 */
async function jobFate(client: StationClient, jobId: string, deviceId: string): Promise<Job | undefined> {
  try {
    const jobs = await client.getHistory({ deviceId, limit: 200 });
    return jobs.find((j) => j.jobId === jobId);
  } catch {
    return client.state.jobs.get(jobId);
  }
}

/** The job's last event as history tells it, for --json readers who wait for flash_completed or flash_failed. */
function finalEvent(jobId: string, deviceId: string, job: Job | undefined, why: string): ServerMessage & { source: 'history' } {
  const timestamp = job?.endedAt ?? Date.now();
  if (job?.state === 'completed') return { type: 'flash_completed', jobId, deviceId: job.deviceId, timestamp, source: 'history' };
  const reason = job?.state === 'cancelled' ? 'cancelled' : !job || job.errorCode === 'interrupted' ? 'interrupted' : 'error';
  return {
    type: 'flash_failed', jobId, deviceId: job?.deviceId ?? deviceId, error: job?.error ?? why, reason,
    ...(job?.errorCode ? { code: job.errorCode } : job ? {} : { code: 'interrupted' }), timestamp, source: 'history',
  };
}
