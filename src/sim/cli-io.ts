// What every standalone simulator command (`flash-station sim FAMILY …`) shares: its output lines, its error line,
// where its store lives by default, the common fault flags, and running until SIGINT/SIGTERM or the caller's signal.
import { join, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { SimCliIo, SimFaults } from '../contracts/simulator.js';
import { defaultDataDir } from '../core/data-dir.js';
import { applyFaultKey, FAULT_KEYS } from './spec.js';

export interface SimCliLines {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** The caller's line writers, or stdout/stderr. */
export function simCliLines(io: SimCliIo): SimCliLines {
  return {
    out: io.out ?? ((l: string) => process.stdout.write(`${l}\n`)),
    err: io.err ?? ((l: string) => process.stderr.write(`${l}\n`)),
  };
}

/** `flash-station sim FAMILY: what went wrong`. */
export function simCliError(family: string, e: unknown): string {
  return `flash-station sim ${family}: ${e instanceof Error ? e.message : String(e)}`;
}

/** A parseArgs failure (unknown flag, missing value): the usage should follow the message. */
export function isUsageError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return e instanceof RangeError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'));
}

/** The flags every simulator command takes besides its own. */
const COMMON_FLAGS = {
  store: { type: 'string' },
  'data-dir': { type: 'string' },
  'fail-after': { type: 'string' },
  'disconnect-after': { type: 'string' },
  'stall-after': { type: 'string' },
  'fail-command': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type SimFlags<O extends NonNullable<ParseArgsConfig['options']>> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O & typeof COMMON_FLAGS; strict: true; allowPositionals: false }>
>['values'];

/**
 * The flags of `flash-station sim FAMILY` (the family's `options` and the common ones: --store, --data-dir, the fault
 * flags, --help), after an optional leading family word. A bad flag prints the message and the usage: `{ status: 2 }`;
 * --help prints the usage: `{ status: 0 }`.
 */
export function parseSimFlags<const O extends NonNullable<ParseArgsConfig['options']>>(
  family: string,
  usage: string,
  argv: string[],
  options: O,
  lines: SimCliLines,
): { values: SimFlags<O> } | { status: number } {
  let values: SimFlags<O>;
  try {
    ({ values } = parseArgs({ args: argv[0] === family ? argv.slice(1) : argv, options: { ...options, ...COMMON_FLAGS }, strict: true, allowPositionals: false }));
  } catch (e) {
    lines.err(simCliError(family, e));
    lines.err(usage);
    return { status: 2 };
  }
  // The generic values type cannot be read inside; every command has --help (COMMON_FLAGS).
  if ((values as { help?: boolean }).help) {
    lines.out(usage);
    return { status: 0 };
  }
  return { values };
}

/** `--store DIR` if given, else `DATA_DIR/sim/NAME` with DATA_DIR from `--data-dir` or the station's default. */
export function simStoreDir(store: string | undefined, dataDir: string | undefined, name: string): string {
  return resolve(store ?? join(dataDir ?? defaultDataDir(), 'sim', name));
}

/** The fault flags every simulator takes (`--fail-after`, …), as given; throws RangeError naming the flag. */
export function faultFlags(values: Partial<Record<(typeof FAULT_KEYS)[number], string>>): SimFaults {
  const faults: SimFaults = {};
  for (const key of FAULT_KEYS) {
    const value = values[key];
    if (value !== undefined) applyFaultKey(faults, key, value, `--${key}`);
  }
  return faults;
}

/**
 * Resolves on SIGINT or SIGTERM, when `signal` aborts, or when `also` settles (the device went away), whichever comes
 * first; the process listeners are removed again.
 */
export function untilStopped(signal?: AbortSignal, also?: Promise<unknown>): Promise<void> {
  return new Promise<void>((done) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      signal?.removeEventListener('abort', stop);
      done();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (signal?.aborted) stop();
    else signal?.addEventListener('abort', stop, { once: true });
    also?.then(stop, stop);
  });
}
