// History queries get one answer whichever way they come: REST `/api/history` (and the CSV export) and the socket's
// get_history refuse the same values (limit 0, negative or fractional numbers, before -1, an unknown state) and
// return the same rows for the same good ones.
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StationClient, type WebSocketConstructor } from '../../../src/client/index.js';
import { makeImage, startHarness, type Harness } from './helpers/harness.js';
import { until } from '../../helpers/until.js';

let h: Harness;
let client: StationClient;
beforeAll(async () => {
  h = await startHarness();
  client = new StationClient({ url: h.url, WebSocket: WebSocket as unknown as WebSocketConstructor });
  await client.connect();
  const image = await makeImage(h.dir, 'h.img', 64 * 1024);
  for (const deviceId of ['TEST0001', 'TEST0002']) {
    const { jobId } = await h.station.startFlash({ deviceId, partition: 'boot', image });
    await until(() => h.station.history({ limit: 10 }).some((j) => j.jobId === jobId), 10_000, `job ${jobId} in history`);
  }
});
afterAll(async () => {
  client.close();
  await h.close();
});

async function rest(query: string, csv = false): Promise<{ status: number; body: unknown }> {
  const r = await fetch(`${h.http}/api/history${csv ? '.csv' : ''}?${query}`);
  return { status: r.status, body: csv && r.status === 200 ? await r.text() : await r.json() };
}

async function socket(query: Record<string, unknown>): Promise<{ ok: boolean; jobs?: unknown[]; code?: string }> {
  const answer = await client.exchange({ type: 'get_history', ...query } as never);
  if (answer.type === 'result' && answer.ok) return { ok: true, jobs: (answer as unknown as { jobs: unknown[] }).jobs };
  if (answer.type === 'result') return { ok: false, code: answer.error.code };
  return { ok: false, code: answer.type === 'error' ? answer.code : answer.type };
}

describe('history queries over REST and the socket', () => {
  it('refuse the same bad values with bad_request', async () => {
    const bad: Array<[string, Record<string, unknown>, RegExp]> = [
      ['limit=0', { limit: 0 }, /limit/],
      ['limit=-3', { limit: -3 }, /limit/],
      ['limit=1.5', { limit: 1.5 }, /limit/],
      ['limit=10001', { limit: 10_001 }, /limit/],
      ['before=-1', { before: -1 }, /before/],
      ['before=1.5', { before: 1.5 }, /before/],
      ['state=lost', { state: 'lost' }, /state/],
    ];
    for (const [query, frame, why] of bad) {
      const r = await rest(query);
      expect(r.status, query).toBe(400);
      expect((r.body as { error: { code: string; message: string } }).error.code, query).toBe('bad_request');
      expect((r.body as { error: { message: string } }).error.message, query).toMatch(why);
      expect(await socket(frame), JSON.stringify(frame)).toEqual({ ok: false, code: 'bad_request' });
    }
    // A query parameter that is not a number at all is refused too, naming it.
    const text = await rest('limit=ten');
    expect(text.status).toBe(400);
    expect((text.body as { error: { message: string } }).error.message).toMatch(/limit/);
  });

  it('answer the same rows for the same good values', async () => {
    for (const [query, frame] of [['limit=1', { limit: 1 }], ['before=0', { before: 0 }], ['deviceId=TEST0002&limit=5', { deviceId: 'TEST0002', limit: 5 }]] as const) {
      const r = await rest(query);
      expect(r.status, query).toBe(200);
      const s = await socket(frame);
      expect(s.ok, query).toBe(true);
      expect((r.body as Array<{ jobId: string }>).map((j) => j.jobId), query).toEqual((s.jobs as Array<{ jobId: string }>).map((j) => j.jobId));
    }
    expect(((await rest('limit=1')).body as unknown[])).toHaveLength(1);
  });

  it('let the CSV export ask for more rows than one page, by the same rules otherwise', async () => {
    const big = await rest('limit=50000', true);
    expect(big.status).toBe(200);
    expect(String(big.body).trim().split('\n').length).toBeGreaterThanOrEqual(3);
    expect((await rest('limit=0', true)).status).toBe(400);
    expect((await rest('before=-1', true)).status).toBe(400);
    expect((await rest('limit=100001', true)).status).toBe(400);
  });
});
