// The image hash in a job's record: one still underway when the transfer ends (a low-priority worker on a busy
// machine) is waited for and recorded; one that can never settle (the source was not read through) does not hold
// the job up.
import { randomBytes, createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultImageBackend, type ImageBackend } from '../../../src/core/image-backend.js';
import { createStation, type Station } from '../../../src/core/station.js';
import type { BlockSource } from '../../../src/core/types.js';
import type { ServerMessage } from '../../../src/protocol/messages.js';
import { until } from '../../helpers/until.js';
import { FileDeviceProvider } from './file-device.js';

let station: Station | undefined;
let dir: string | undefined;
afterEach(async () => {
  await station?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  station = undefined;
  dir = undefined;
});

/** The real source, with its hash settling `delayMs` after the real one (or never) and `hashStarted` as given. */
function slowHash(source: BlockSource, hashStarted: boolean, delayMs: number | null): BlockSource {
  return {
    get size() { return source.size; },
    get dataBytes() { return source.dataBytes; },
    get exact() { return source.exact; },
    get description() { return source.description; },
    get blockSize() { return source.blockSize; },
    get reopenable() { return source.reopenable; },
    chunks: (signal) => source.chunks(signal),
    sha256: () => (delayMs === null
      ? new Promise<string>(() => undefined)
      : source.sha256().then((hex) => new Promise<string>((r) => setTimeout(() => r(hex), delayMs)))),
    hashStarted,
  };
}

async function flashWith(wrap: (s: BlockSource) => BlockSource): Promise<{ events: ServerMessage[]; jobId: string; sha256: string; ms: number }> {
  dir = mkdtempSync(join(tmpdir(), 'fs-hash-'));
  const images: ImageBackend = { ...defaultImageBackend, openImage: async (path, options) => wrap(await defaultImageBackend.openImage(path, options)) };
  const provider = new FileDeviceProvider([{ id: 'H1', dir, partitions: { boot: 8 << 20 } }]);
  station = await createStation({ dataDir: join(dir, 'data'), providers: [provider], images });
  const events: ServerMessage[] = [];
  station.subscribe((m) => events.push(m));
  await until(() => station!.devices()[0]?.state === 'idle', 20_000, 'the device');
  const data = randomBytes(1 << 20);
  const image = join(dir, 'h.img');
  writeFileSync(image, data);
  const t0 = performance.now();
  const { jobId } = await station.startFlash({ deviceId: 'H1', partition: 'boot', image });
  await until(() => events.some((e) => (e.type === 'flash_completed' || e.type === 'flash_failed') && e.jobId === jobId), 60_000, 'the job');
  return { events, jobId, sha256: createHash('sha256').update(data).digest('hex'), ms: performance.now() - t0 };
}

describe('the image hash in the job record', () => {
  it('waits for a hash still underway when the transfer ends, and records it', async () => {
    const { events, jobId, sha256, ms } = await flashWith((s) => slowHash(s, true, 1500));
    expect(events.find((e) => e.type === 'flash_failed')).toBeUndefined();
    expect(ms).toBeGreaterThanOrEqual(1500);
    expect(station!.job(jobId)?.sha256).toBe(sha256);
    expect(station!.jobDetail(jobId)?.images?.[0]?.sha256).toBe(sha256);
    expect(station!.history({ deviceId: 'H1' })[0]?.sha256).toBe(sha256);
  });

  it('does not wait on a hash that was never started: the job completes without it', async () => {
    const { events, jobId } = await flashWith((s) => slowHash(s, false, null));
    const started = events.find((e): e is Extract<ServerMessage, { type: 'flash_started' }> => e.type === 'flash_started' && e.jobId === jobId)!;
    const completed = events.find((e): e is Extract<ServerMessage, { type: 'flash_completed' }> => e.type === 'flash_completed' && e.jobId === jobId)!;
    // The short guard (0.5 s) only; a generous bound for a busy machine, far below the 60 s a started hash may take.
    expect(completed.timestamp - started.timestamp).toBeLessThan(15_000);
    expect(station!.job(jobId)?.sha256).toBeUndefined();
    expect(station!.job(jobId)?.state).toBe('completed');
  });
});
