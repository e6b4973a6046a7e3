// PauseGate: holding drivers at safe points (ProgressPacer: progress-pacer.test.ts).
import { describe, expect, it } from 'vitest';
import { PauseGate } from '../../../src/core/pause-gate.js';
import { flush } from './fake-clock.js';

describe('PauseGate', () => {
  it('passes at once while open, holds while closed, releases on open', async () => {
    const g = new PauseGate();
    await g.pass();
    g.close();
    let through = false;
    const p = g.pass().then(() => (through = true));
    await flush();
    expect(through).toBe(false);
    expect(g.held).toBe(1);
    g.open();
    await p;
    expect(through).toBe(true);
    expect(g.held).toBe(0);
  });

  it('a cancel while held rejects the held caller', async () => {
    const g = new PauseGate();
    g.close();
    const ac = new AbortController();
    const p = g.pass(ac.signal);
    ac.abort(new Error('cancelled'));
    await expect(p).rejects.toThrow('cancelled');
    expect(g.held).toBe(0);
  });
});
