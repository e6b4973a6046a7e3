// Entering and leaving the bootloader by DTR/RTS (BOOT0/RESET wiring), as a sequence like `stm32flash -i`.
import { FlashError } from '../../contracts/errors.js';
import type { Transport } from '../../contracts/links.js';

export interface SignalStep {
  signal: 'dtr' | 'rts';
  /** true asserts the line, false releases it (`-dtr`). */
  level: boolean;
  /** Pause after this step, in ms (`,` = 100 ms, `&` = none). */
  pauseMs: number;
}

export interface EntrySequence {
  entry: SignalStep[];
  exit: SignalStep[];
}

function parsePart(text: string, whole: string): SignalStep[] {
  if (text === '') return [];
  const steps: SignalStep[] = [];
  const re = /(-?)(dtr|rts)([,&]|$)/gy;
  let m: RegExpExecArray | null;
  let at = 0;
  while (at < text.length && (m = re.exec(text)) !== null) {
    steps.push({ signal: m[2] as 'dtr' | 'rts', level: m[1] !== '-', pauseMs: m[3] === ',' ? 100 : 0 });
    at = re.lastIndex;
    if (m[3] === '') break;
  }
  if (at !== text.length) {
    throw new FlashError('bad_request', `Bootloader entry sequence "${whole}": write signals dtr or rts (prefix - to release), joined by ',' (100 ms pause) or '&' (none), entry and exit separated by ':', e.g. "-dtr&rts,dtr:-dtr&-rts,dtr"`);
  }
  return steps;
}

/** `ENTRY[:EXIT]`, e.g. `rts&-dtr,dtr:-rts&-dtr,dtr` (stm32flash -i, serial signals only). */
export function parseEntrySequence(text: string): EntrySequence {
  const [entry = '', exit = '', extra] = text.trim().split(':');
  if (extra !== undefined) throw new FlashError('bad_request', `Bootloader entry sequence "${text}" has more than one ':'`);
  return { entry: parsePart(entry, text), exit: parsePart(exit, text) };
}

/** Play a sequence on the port's modem lines (a pty has none: nothing happens there). */
export async function playSignals(t: Transport, steps: readonly SignalStep[], signal?: AbortSignal): Promise<void> {
  if (!t.serial) return;
  for (const s of steps) {
    signal?.throwIfAborted();
    await t.serial.setSignals(s.signal === 'dtr' ? { dtr: s.level } : { rts: s.level });
    if (s.pauseMs) await new Promise((r) => setTimeout(r, s.pauseMs));
  }
  // Let the bootloader start before the sync byte.
  if (steps.length) await new Promise((r) => setTimeout(r, 50));
}
