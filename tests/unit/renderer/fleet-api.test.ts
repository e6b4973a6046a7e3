// describeAnswer: what the fleet page says after a command — the station's result, or the fleet view's own error.
import { describe, expect, it } from 'vitest';
import { describeAnswer } from '../../../src/renderer/lib/fleet-api.js';

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
