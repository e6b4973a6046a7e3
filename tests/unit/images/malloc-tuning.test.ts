// The opt-in malloc tuning: off unless FLASH_STATION_MALLOC=reuse, applied once, and applied for real on glibc Linux.
import { afterEach, describe, expect, it, vi } from 'vitest';

afterEach(() => {
  vi.unstubAllEnvs();
  vi.resetModules();
});

describe('tuneMalloc', () => {
  it('leaves malloc alone by default', async () => {
    vi.stubEnv('FLASH_STATION_MALLOC', '');
    const { tuneMalloc } = await import('../../../src/images/malloc-tuning.js');
    expect(tuneMalloc()).toBe(false);
  });

  it('sets glibc thresholds once with FLASH_STATION_MALLOC=reuse', async () => {
    vi.stubEnv('FLASH_STATION_MALLOC', 'reuse');
    const { tuneMalloc } = await import('../../../src/images/malloc-tuning.js');
    expect(tuneMalloc()).toBe(process.platform === 'linux'); // glibc here; elsewhere nothing to tune
    expect(tuneMalloc()).toBe(false); // once per process
  });
});
