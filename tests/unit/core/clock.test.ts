// sleep() and abortReason(): an aborted wait always rejects with an Error, the signal's own when it has one.
import { describe, expect, it } from 'vitest';
import { abortReason, sleep } from '../../../src/core/clock.js';
import { FlashError } from '../../../src/contracts/errors.js';
import { FakeClock } from './fake-clock.js';

describe('abortReason', () => {
  it('is the signal\'s reason when that is an Error', () => {
    const why = new FlashError('cancelled', 'Cancelled');
    expect(abortReason(AbortSignal.abort(why))).toBe(why);
  });
  it('is an AbortError otherwise, naming a string reason', () => {
    const plain = abortReason(AbortSignal.abort());
    expect(plain).toBeInstanceOf(Error);
    expect(plain.name).toBe('AbortError');
    const named = abortReason(AbortSignal.abort('user left'));
    expect(named).toBeInstanceOf(Error);
    expect(named.message).toBe('Aborted: user left');
    expect(abortReason(AbortSignal.abort(42)).message).toBe('Aborted');
  });
});

describe('sleep', () => {
  it('resolves after the time, and rejects at once with the reason when aborted before or during', async () => {
    const clock = new FakeClock();
    let done = false;
    const slept = sleep(clock, 100).then(() => (done = true));
    await clock.advance(99);
    expect(done).toBe(false);
    await clock.advance(1);
    await slept;
    expect(done).toBe(true);
    const why = new Error('stop');
    await expect(sleep(clock, 10_000, AbortSignal.abort(why))).rejects.toBe(why);
    const ac = new AbortController();
    const waiting = sleep(clock, 10_000, ac.signal);
    ac.abort('late');
    await expect(waiting).rejects.toThrow('Aborted: late');
    expect(clock.pending).toBe(0);
  });
});
