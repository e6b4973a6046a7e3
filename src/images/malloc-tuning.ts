// Opt-in glibc malloc tuning (FLASH_STATION_MALLOC=reuse): keep freed MiB-sized buffers for reuse instead of handing
// them back to the kernel, so a fresh Buffer does not fault in a new zeroed page every 4 KiB. Measured on the 2-core VM:
// sparse expand of a 4 GiB image holding 1 GiB, 1.5-2.0 s -> 0.6 s CPU; but peak RSS +10-20 MB (freed buffers stay, koffi
// loads), which puts flashing a 4 GiB compressed image over 150 MB — so it is off by default. Linux with glibc only.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

const M_TRIM_THRESHOLD = -1;
const M_MMAP_THRESHOLD = -3;
/** Allocations below this come from the heap, where freed memory is reused (glibc's own cap for the dynamic value). */
const MMAP_THRESHOLD = 32 << 20;
/** Free memory kept at the top of the heap before it is returned: about one GC cycle of external buffers. */
const TRIM_THRESHOLD = 64 << 20;

let done = false;

/** Apply the tuning once (a no-op where it does not apply); returns whether it was applied. */
export function tuneMalloc(): boolean {
  if (done) return false;
  done = true;
  if (process.platform !== 'linux' || process.env.FLASH_STATION_MALLOC !== 'reuse') return false;
  try {
    // (musl has no libc.so.6: the load fails and nothing changes)
    const koffi = require('koffi') as { load(path: string): { func(signature: string): (...args: number[]) => number } };
    const mallopt = koffi.load('libc.so.6').func('int mallopt(int param, int value)');
    return mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) === 1 && mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) === 1;
  } catch {
    return false;
  }
}
