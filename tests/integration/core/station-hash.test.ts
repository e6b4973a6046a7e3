// The image hash in a job's record is not on the job's critical path: the job completes when the device work is done,
// and the hash (held back here by the test) lands in history and on the job when it is ready; one that fails, never
// starts or is cut short by the station closing leaves a clear null and a warning, never a wrong value.
import { randomBytes, createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { History } from '../../../src/core/history.js';
import { defaultImageBackend, type ImageBackend } from '../../../src/core/image-backend.js';
import { createStation, type Station, type StationOptions } from '../../../src/core/station.js';
import type { BlockSource } from '../../../src/contracts/source.js';
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

/** A hash the test settles: `release()` passes the source's real hash on, `fail()` rejects it. */
interface HeldHash {
  release(): void;
  fail(message: string): void;
  /** The value the source itself computed, once it has. */
  real: string | undefined;
  settled: boolean;
}

/** The real source, with its hash held until the test settles it (or never started, when `started` is false). */
function holdHash(source: BlockSource, held: HeldHash, started: boolean): BlockSource {
  let settle: { ok: (v: string) => void; no: (e: Error) => void } | undefined;
  const outcome = new Promise<string>((ok, no) => (settle = { ok, no }));
  outcome.catch(() => undefined);
  void source.sha256().then((hex) => (held.real = hex), () => undefined);
  held.release = () => {
    held.settled = true;
    void source.sha256().then((hex) => settle?.ok(hex));
  };
  held.fail = (message) => {
    held.settled = true;
    settle?.no(new Error(message));
  };
  return {
    get size() { return source.size; },
    get dataBytes() { return source.dataBytes; },
    get exact() { return source.exact; },
    get description() { return source.description; },
    get blockSize() { return source.blockSize; },
    get reopenable() { return source.reopenable; },
    chunks: (signal) => source.chunks(signal),
    sha256: () => outcome,
    hashStarted: started,
  };
}

interface Flashed { events: ServerMessage[]; jobId: string; sha256: string; held: HeldHash; dataDir: string }

async function flashHeld(started: boolean, options: Partial<StationOptions> = {}): Promise<Flashed> {
  dir = mkdtempSync(join(tmpdir(), 'fs-hash-'));
  const held: HeldHash = { release: () => undefined, fail: () => undefined, real: undefined, settled: false };
  const images: ImageBackend = { ...defaultImageBackend, openImage: async (path, o) => holdHash(await defaultImageBackend.openImage(path, o), held, started) };
  const provider = new FileDeviceProvider([{ id: 'H1', dir, partitions: { boot: 8 << 20 } }]);
  const dataDir = join(dir, 'data');
  station = await createStation({ dataDir, providers: [provider], families: [provider.family], images, ...options });
  const events: ServerMessage[] = [];
  station.subscribe((m) => events.push(m));
  await until(() => station!.devices()[0]?.state === 'idle', 20_000, 'the device');
  const data = randomBytes(1 << 20);
  const image = join(dir, 'h.img');
  writeFileSync(image, data);
  const { jobId } = await station.startFlash({ deviceId: 'H1', partition: 'boot', image });
  await until(() => events.some((e) => (e.type === 'flash_completed' || e.type === 'flash_failed') && e.jobId === jobId), 30_000, 'the job to end');
  return { events, jobId, sha256: createHash('sha256').update(data).digest('hex'), held, dataDir };
}

/** The job's history row and log, read from the database file after the station closed. */
function storedAfterClose(dataDir: string, jobId: string): { sha: string | null; images: Array<{ sha256?: string }>; logs: string[] } {
  const history = new History(dataDir);
  try {
    const row = history.row(jobId);
    return {
      sha: row?.image_sha256 ?? null,
      images: JSON.parse(row?.images_json ?? '[]') as Array<{ sha256?: string }>,
      logs: history.logs(jobId).map((l) => `${l.level} ${l.message}`),
    };
  } finally {
    history.close();
  }
}

describe('the image hash in the job record', () => {
  it('completes the job while the hash is still underway, then records the right hash in history and on the job', async () => {
    const { events, jobId, sha256, held } = await flashHeld(true);
    // The job completed although its hash has not settled (the test holds it): it did not wait.
    expect(events.find((e) => e.type === 'flash_failed')).toBeUndefined();
    expect(held.settled).toBe(false);
    const s = station!;
    expect(s.job(jobId)?.state).toBe('completed');
    expect(s.job(jobId)?.sha256).toBeUndefined();
    expect(s.history({ deviceId: 'H1' })[0]?.sha256).toBeUndefined();
    // The record of what was written is there at completion, without a hash yet.
    expect(s.jobDetail(jobId)?.images?.map((i) => [i.partition, i.size, i.sha256])).toEqual([['boot', 1 << 20, undefined]]);

    await until(() => held.real !== undefined, 20_000, 'the real hash');
    expect(held.real).toBe(sha256);
    held.release();
    await until(() => s.job(jobId)?.sha256 !== undefined, 10_000, 'the hash on the job');
    expect(s.job(jobId)?.sha256).toBe(sha256);
    expect(s.jobDetail(jobId)?.images?.[0]?.sha256).toBe(sha256);
    expect(s.history({ deviceId: 'H1' })[0]?.sha256).toBe(sha256);
    expect(s.jobDetail(jobId)?.logs.filter((l) => l.level === 'warn')).toEqual([]);
  });

  it('leaves a clear null and a warning when the hash fails', async () => {
    const { events, jobId, held, dataDir } = await flashHeld(true);
    expect(station!.job(jobId)?.state).toBe('completed');
    held.fail('read error in the hash worker');
    await until(() => events.some((e) => e.type === 'flash_log' && e.jobId === jobId && e.level === 'warn'), 10_000, 'the warning');
    expect(station!.job(jobId)?.sha256).toBeUndefined();
    await station!.close();
    const stored = storedAfterClose(dataDir, jobId);
    expect(stored.sha).toBeNull();
    expect(stored.images).toHaveLength(1);
    expect(stored.images[0]?.sha256).toBeUndefined();
    expect(stored.logs.filter((l) => l.startsWith('warn '))).toEqual([
      'warn The SHA-256 of the boot image is not recorded: hashing failed (read error in the hash worker). The flash itself completed.',
    ]);
  });

  it('does not wait on a hash that was never started: the job completes, and history says there is none', async () => {
    const { events, jobId } = await flashHeld(false);
    expect(station!.job(jobId)?.state).toBe('completed');
    await until(() => events.some((e) => e.type === 'flash_log' && e.jobId === jobId && e.level === 'warn'), 10_000, 'the warning');
    const warn = events.find((e): e is Extract<ServerMessage, { type: 'flash_log' }> => e.type === 'flash_log' && e.jobId === jobId && e.level === 'warn');
    expect(warn?.message).toContain('the image was not read to its end');
    expect(station!.job(jobId)?.sha256).toBeUndefined();
  });

  it('on close, waits for a hash still underway and records it', async () => {
    const { jobId, sha256, held, dataDir } = await flashHeld(true);
    await until(() => held.real !== undefined, 20_000, 'the real hash');
    let closed = false;
    const closing = station!.close().then(() => (closed = true));
    // The station has cancelled nothing and closed nothing while the hash is out: a while later it is still closing.
    await new Promise((r) => setTimeout(r, 300));
    expect(closed).toBe(false);
    held.release();
    await closing;
    const stored = storedAfterClose(dataDir, jobId);
    expect(stored.sha).toBe(sha256);
    expect(stored.images[0]?.sha256).toBe(sha256);
    expect(stored.logs.filter((l) => l.startsWith('warn '))).toEqual([]);
  });

  it('on close, gives up on a hash after its bound and says so in history', async () => {
    const { jobId, held, dataDir } = await flashHeld(true, { hashes: { closeWaitMs: 400 } });
    const t0 = performance.now();
    await station!.close();
    const ms = performance.now() - t0;
    expect(ms).toBeGreaterThanOrEqual(350);
    expect(ms).toBeLessThan(10_000);
    // A hash that arrives after the close changes nothing (the database is closed; no wrong value, no crash).
    held.release();
    const stored = storedAfterClose(dataDir, jobId);
    expect(stored.sha).toBeNull();
    expect(stored.images[0]?.sha256).toBeUndefined();
    expect(stored.logs.filter((l) => l.startsWith('warn '))).toEqual([
      'warn The SHA-256 of the boot image is not recorded: the station closed before it was computed. The flash itself completed.',
    ]);
  });
});
