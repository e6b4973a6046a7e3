// start_flash's target rule (contract §7) over REST (JSON body and the guide's query form) and the socket alike:
// image with one of partition / address / neither, or a plan alone; an address is an integer or a "0x…" string.
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StationClient, type WebSocketConstructor } from '../../../src/client/index.js';
import { startHarness, type Harness } from './helpers/harness.js';

let h: Harness;
let client: StationClient;
beforeAll(async () => {
  h = await startHarness();
  client = new StationClient({ url: h.url, token: h.token, WebSocket: WebSocket as unknown as WebSocketConstructor });
  await client.connect();
});
afterAll(async () => {
  client.close();
  await h.close();
});

async function post(body: Record<string, unknown> | null, query = ''): Promise<{ status: number; code: string; message: string }> {
  const r = await fetch(`${h.http}/api/flash/start${query}`, {
    method: 'POST', headers: { authorization: `Bearer ${h.token}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined,
  });
  const json = (await r.json()) as { error?: { code: string; message: string } };
  return { status: r.status, code: json.error?.code ?? 'ok', message: json.error?.message ?? '' };
}

async function frame(fields: Record<string, unknown>): Promise<{ code: string; message: string }> {
  const a = await client.exchange({ type: 'start_flash', ...fields } as never);
  if (a.type === 'result' && !a.ok) return { code: a.error.code, message: a.error.message };
  if (a.type === 'error') return { code: a.code, message: a.message };
  return { code: 'ok', message: '' };
}

describe('start_flash targets', () => {
  it('refuse two targets, a target with a plan, and a malformed address the same way on both paths', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ deviceId: 'TEST0001', partition: 'boot', address: 4096, image: '/x.img' }, /exactly one of partition, address or neither/],
      [{ deviceId: 'TEST0001', address: '0x1000', plan: '/p.yaml' }, /plan alone/],
      [{ deviceId: 'TEST0001', address: -4, image: '/x.img' }, /address/],
      [{ deviceId: 'TEST0001', address: '4K', image: '/x.img' }, /address/],
    ];
    for (const [fields, why] of cases) {
      const r = await post(fields);
      expect(r, JSON.stringify(fields)).toMatchObject({ status: 400, code: 'bad_request' });
      expect(r.message).toMatch(why);
      const w = await frame(fields);
      expect(w.code, JSON.stringify(fields)).toBe('bad_request');
      expect(w.message).toMatch(why);
    }
  });

  it('read ?address= in the query form as the number it spells, or the 0x string', async () => {
    // With a partition as well, a well-formed address reaches the target rule; a malformed one is named as such.
    const decimal = await post(null, '?device_id=TEST0001&partition=boot&address=4096&image=/x.img');
    expect(decimal).toMatchObject({ status: 400, code: 'bad_request' });
    expect(decimal.message).toMatch(/exactly one of partition, address or neither/);
    const hex = await post(null, '?device_id=TEST0001&partition=boot&address=0x1000&image=/x.img');
    expect(hex.message).toMatch(/exactly one of partition, address or neither/);
    const bad = await post(null, '?device_id=TEST0001&address=forty&image=/x.img');
    expect(bad).toMatchObject({ status: 400, code: 'bad_request' });
    expect(bad.message).toMatch(/address/);
  });
});
