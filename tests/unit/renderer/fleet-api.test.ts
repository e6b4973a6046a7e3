// describeAnswer: what the fleet page says after a command — the station's result, or the fleet view's own error.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { describeAnswer, sendCommand } from '../../../src/renderer/lib/fleet-api.js';

describe('describeAnswer', () => {
  it('says ok, with the job id a start returns', () => {
    expect(describeAnswer('start_flash', 200, { result: { ok: true, jobId: 'j1' } })).toBe('start_flash: ok (job j1)');
    expect(describeAnswer('pause_flash', 200, { result: { ok: true } })).toBe('pause_flash: ok');
  });
  it('names the station\'s refusal, or the view\'s error, or the HTTP status', () => {
    expect(describeAnswer('start_flash', 200, { result: { ok: false, error: { code: 'unauthorized', message: 'Wrong token' } } })).toBe('start_flash: unauthorized — Wrong token');
    expect(describeAnswer('cancel_flash', 504, { error: { code: 'timeout', message: 'No result' } })).toBe('timeout — No result');
    expect(describeAnswer('cancel_flash', 502, {})).toBe('HTTP 502');
  });
});

describe('sendCommand', () => {
  afterEach(() => vi.unstubAllGlobals());
  const answering = (status: number, body: unknown) => vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify(body), { status })));

  it('says ok from the station\'s result, not from the words shown', async () => {
    answering(200, { result: { ok: true, jobId: 'j1' } });
    expect(await sendCommand('f', 'LINE-A', 't', { type: 'pause_flash', jobId: 'j1' })).toEqual({ ok: true, text: 'pause_flash: ok (job j1)' });
    answering(200, { result: { ok: false, error: { code: 'unauthorized', message: 'pause_flash: ok' } } });
    expect((await sendCommand('f', 'LINE-A', 't', { type: 'pause_flash', jobId: 'j1' })).ok).toBe(false);
    answering(504, { error: { code: 'timeout', message: 'No result' } });
    expect(await sendCommand('f', 'LINE-A', 't', { type: 'cancel_flash', jobId: 'j1' })).toEqual({ ok: false, text: 'timeout — No result' });
  });
});
