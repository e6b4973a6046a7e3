// A finished job's stage says how it ended (Completed, Failed: why, Cancelled) in the jobs list, the snapshot and
// history, not the step it was on ("Writing boot (piece 1)").
import { afterEach, describe, expect, it } from 'vitest';
import { harness, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('final stage', () => {
  it('is Completed, Failed: why, or Cancelled', async () => {
    h = await harness([], { retries: 0 });
    await h.provider.plug(h.device('F1', { speed: 16 << 20 }));
    await h.provider.plug(h.device('F2', { speed: 16 << 20, transientFailures: 3 }));
    await h.provider.plug(h.device('F3', { speed: 1 << 20 }));
    await new Promise((r) => setTimeout(r, 50));
    const img = h.image('s.img', 4 << 20);
    const ok = await h.station.startFlash({ deviceId: 'F1', partition: 'boot', image: img.path });
    const bad = await h.station.startFlash({ deviceId: 'F2', partition: 'boot', image: img.path });
    const stop = await h.station.startFlash({ deviceId: 'F3', partition: 'boot', image: img.path });
    await h.waitFor('flash_progress', (m) => m.jobId === stop.jobId);
    h.station.cancel(stop.jobId);
    await h.waitFor('flash_completed', (m) => m.jobId === ok.jobId);
    const failed = await h.waitFor('flash_failed', (m) => m.jobId === bad.jobId);
    await h.waitFor('flash_failed', (m) => m.jobId === stop.jobId);
    await new Promise((r) => setTimeout(r, 50));

    expect(h.station.job(ok.jobId)?.stage).toBe('Completed');
    expect(h.station.job(bad.jobId)?.stage).toBe(`Failed: ${failed.error}`);
    expect(h.station.job(stop.jobId)?.stage).toBe('Cancelled');
    const rows = new Map(h.station.history({ limit: 10 }).map((j) => [j.jobId, j.stage]));
    expect(rows.get(ok.jobId)).toBe('Completed');
    expect(rows.get(stop.jobId)).toBe('Cancelled');
    // A queued job cancelled before it ran ends the same way.
    const first = await h.station.startFlash({ deviceId: 'F3', partition: 'boot', image: img.path });
    const waiting = await h.station.startFlash({ deviceId: 'F3', partition: 'boot', image: img.path });
    expect(waiting.status).toBe('queued');
    h.station.cancel(waiting.jobId);
    expect(h.station.job(waiting.jobId)?.stage).toBe('Cancelled');
    h.station.cancel(first.jobId);
    await h.waitFor('flash_failed', (m) => m.jobId === first.jobId);
  });

  it("keeps what a cancel left behind in the job's error; flash_failed still says Cancelled and carries it as detail", async () => {
    h = await harness([]);
    await h.provider.plug(h.device('H1', { speed: 1 << 20, halfSentOnCancel: true }));
    await h.provider.plug(h.device('H2', { speed: 1 << 20 }));
    await new Promise((r) => setTimeout(r, 50));
    const img = h.image('h.img', 4 << 20);
    const half = await h.station.startFlash({ deviceId: 'H1', partition: 'boot', image: img.path });
    const plain = await h.station.startFlash({ deviceId: 'H2', partition: 'boot', image: img.path });
    await h.waitFor('flash_progress', (m) => m.jobId === half.jobId && m.bytesTransferred > 0);
    await h.waitFor('flash_progress', (m) => m.jobId === plain.jobId && m.bytesTransferred > 0);
    h.station.cancel(half.jobId);
    h.station.cancel(plain.jobId);
    const ended = await h.waitFor('flash_failed', (m) => m.jobId === half.jobId);
    const endedPlain = await h.waitFor('flash_failed', (m) => m.jobId === plain.jobId);
    expect(ended).toMatchObject({ error: 'Cancelled', reason: 'cancelled', code: 'cancelled' });
    expect(ended.detail).toMatch(/^Cancelled — the download of boot was left half-sent at byte \d+ of 4194304/);
    expect(endedPlain).toMatchObject({ error: 'Cancelled', reason: 'cancelled' });
    // A driver that says nothing: the station still says how much had been sent (issue 15 §6).
    expect(endedPlain.detail).toMatch(/^Cancelled after .+ of 4\.00 MiB had been sent: the device may hold part of the image/);
    expect(h.station.job(half.jobId)).toMatchObject({ state: 'cancelled', stage: 'Cancelled', error: ended.detail });
    expect(h.station.job(plain.jobId)?.error).toBe(endedPlain.detail);
    const row = h.station.history({ limit: 10 }).find((j) => j.jobId === half.jobId);
    expect(row?.error).toBe(ended.detail);
  });
});
