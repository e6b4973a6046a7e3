// The client commands of the CLI against a real server: flash to completion (bar, plain and --json), Ctrl-C
// cancels with 130, refused jobs exit 1, devices/jobs/watch print what the station holds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { captureIo as io } from '../../helpers/cli-io.js';
import { makeImage, startHarness, type Harness } from '../server/helpers/harness.js';

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h.close(); });


const waitFor = async (check: () => boolean, ms = 10_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('flash-station flash', () => {
  it('flashes to completion with --json: one parseable event per line, exit 0', async () => {
    const image = await makeImage(h.dir, 'a.img', 2 * 1024 * 1024);
    const t = io();
    const code = await main(['flash', '--url', h.url, '--token', h.token, '--device', 'TEST0001', '--json', 'boot', image], t);
    expect(t.err).toBe('');
    expect(code).toBe(0);
    const events = t.out.trim().split('\n').map((l) => JSON.parse(l) as { type: string; progress?: number });
    expect(events[0]?.type).toBe('result');
    expect(events.some((e) => e.type === 'flash_started')).toBe(true);
    expect(events.at(-1)?.type).toBe('flash_completed');
    expect(events.filter((e) => e.type === 'flash_progress').at(-1)?.progress).toBe(100);
  });

  it('draws a progress bar with speed and ETA on a terminal, token from the environment', async () => {
    h.station.setLimits(undefined, 16 * 1024 * 1024);
    const image = await makeImage(h.dir, 'b.img', 8 * 1024 * 1024);
    const t = io({ tty: true, env: { FLASH_STATION_TOKEN: h.token } });
    const code = await main(['flash', '--url', h.url, '--device', 'TEST0001', 'boot', image], t);
    h.station.setLimits(undefined, null);
    expect(code).toBe(0);
    expect(t.out).toMatch(/\r\[#*\.*\]\s+\d+\.\d%.*\/s\s+ETA \d+:\d\d/);
    expect(t.out).toContain('100.0%');
    expect(t.err).toContain('completed');
  });

  it('cancels the job on Ctrl-C and exits 130', async () => {
    h.station.setLimits(undefined, 4 * 1024 * 1024);
    const image = await makeImage(h.dir, 'c.img', 32 * 1024 * 1024);
    const t = io();
    const running = main(['flash', '--url', h.url, '--token', h.token, '--device', 'TEST0002', 'boot', image], t);
    await waitFor(() => t.err.includes('started'));
    await waitFor(() => h.station.jobs().some((j) => j.deviceId === 'TEST0002' && j.state === 'running' && j.bytesTransferred > 0));
    t.signal();
    expect(await running).toBe(130);
    h.station.setLimits(undefined, null);
    expect(t.err).toContain('cancelled');
    await waitFor(() => h.station.devices().find((d) => d.id === 'TEST0002')?.state === 'idle');
  });

  it('limits the job with --rate and refuses a bad rate', async () => {
    const image = await makeImage(h.dir, 'rate.img', 3 * 1024 * 1024);
    const t = io();
    const t0 = performance.now();
    expect(await main(['flash', '--url', h.url, '--token', h.token, '--device', 'TEST0001', '--rate', '4M', 'boot', image], t)).toBe(0);
    // 3 MiB at 4 MiB/s takes about 0.75 s; unthrottled it takes a few ms.
    expect(performance.now() - t0).toBeGreaterThan(500);
    const bad = io();
    expect(await main(['flash', '--url', h.url, '--token', h.token, '--device', 'TEST0001', '--rate', 'fast', 'boot', image], bad)).toBe(2);
    expect(bad.err).toContain('--rate');
  });

  it('exits 1 when the station refuses the job, 2 without a token', async () => {
    const t = io();
    expect(await main(['flash', '--url', h.url, '--token', h.token, '--device', 'TEST0001', 'boot', '/nonexistent/x.img'], t)).toBe(1);
    expect(t.err).toContain('image_not_found');
    await new Promise((r) => setTimeout(r, 200)); // the client's own close must not read as a lost station
    expect(t.err).not.toContain('lost the station');
    const u = io();
    expect(await main(['flash', '--url', h.url, '--data-dir', h.dir, '--device', 'TEST0001', 'boot', '/x.img'], u)).toBe(2);
    expect(u.err).toMatch(/token/);
  });
});

describe('pause, resume, cancel', () => {
  it('steer a running job by id and with --all', async () => {
    h.station.setLimits(undefined, 2 * 1024 * 1024);
    const image = await makeImage(h.dir, 'ctl.img', 32 * 1024 * 1024);
    const { jobId } = await h.station.startFlash({ deviceId: 'TEST0001', partition: 'boot', image });
    await waitFor(() => h.station.job(jobId)?.state === 'running');
    const p = io();
    expect(await main(['pause', '--url', h.url, '--token', h.token, jobId], p)).toBe(0);
    expect(p.out).toBe(`${jobId}: paused\n`);
    const again = io();
    expect(await main(['pause', '--url', h.url, '--token', h.token, jobId], again)).toBe(1);
    expect(again.err).toContain('invalid_state');
    expect(await main(['resume', '--url', h.url, '--token', h.token, '--all'], io())).toBe(0);
    expect(h.station.job(jobId)?.state).toBe('running');
    const c = io();
    expect(await main(['cancel', '--url', h.url, '--token', h.token, '--all', '--json'], c)).toBe(0);
    expect((JSON.parse(c.out.trim().split('\n')[0]!) as { jobId: string }).jobId).toBe(jobId);
    await waitFor(() => h.station.job(jobId)?.state === 'cancelled');
    h.station.setLimits(undefined, null);
    expect(await main(['cancel', '--url', h.url, '--token', h.token], io())).toBe(2);
  });
});

describe('devices, jobs, watch', () => {
  it('lists devices as a table and as JSON', async () => {
    const t = io();
    expect(await main(['devices', '--url', h.url], t)).toBe(0);
    expect(t.out).toMatch(/^ID\s+STATE/);
    expect(t.out).toContain('TEST0001');
    const j = io();
    expect(await main(['devices', '--url', h.url, '--json'], j)).toBe(0);
    expect((JSON.parse(j.out) as Array<{ id: string }>).map((d) => d.id).sort()).toEqual(['TEST0001', 'TEST0002']);
  });

  it('goes on read-only, with a warning, when the station refuses the token it found', async () => {
    const env = io({ env: { FLASH_STATION_TOKEN: 'not-the-token' } });
    expect(await main(['devices', '--url', h.url, '--json'], env)).toBe(0);
    expect((JSON.parse(env.out) as Array<{ id: string }>).map((d) => d.id)).toContain('TEST0001');
    expect(env.err).toContain('refused the token; continuing read-only');
    const flag = io();
    expect(await main(['jobs', '--url', h.url, '--token', 'wrong', '--json'], flag)).toBe(0);
    expect(Array.isArray(JSON.parse(flag.out))).toBe(true);
    // A command that needs the token still refuses to go on without it.
    const steer = io();
    expect(await main(['cancel', '--url', h.url, '--token', 'wrong', '--all'], steer)).toBe(2);
    expect(steer.err).toContain('refused the token');
  });

  it('lists jobs, including finished ones', async () => {
    const j = io();
    expect(await main(['jobs', '--url', h.url, '--json'], j)).toBe(0);
    const jobs = JSON.parse(j.out) as Array<{ state: string }>;
    expect(jobs.some((x) => x.state === 'completed')).toBe(true);
    expect(jobs.some((x) => x.state === 'cancelled')).toBe(true);
    const t = io();
    expect(await main(['jobs', '--url', h.url], t)).toBe(0);
    expect(t.out).toMatch(/^JOB\s+DEVICE\s+STATE/);
  });

  it('watch --json prints live events until Ctrl-C', async () => {
    const t = io();
    const watching = main(['watch', '--url', h.url, '--json'], t);
    await waitFor(() => t.out.includes('"snapshot"'));
    h.station.publishExternal({ type: 'flash_started', jobId: 'ext1', deviceId: 'OUTSIDE', stage: 'Initializing', totalBytes: 10, timestamp: Date.now() });
    await waitFor(() => t.out.includes('"ext1"'));
    t.signal();
    expect(await watching).toBe(0);
    const lines = t.out.trim().split('\n').map((l) => JSON.parse(l) as { type: string });
    expect(lines[0]?.type).toBe('hello');
    expect(lines.some((l) => l.type === 'flash_started')).toBe(true);
  });
});
