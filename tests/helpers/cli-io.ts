// A captured CliIo for driving `main()` in-process: collects stdout/stderr, fakes a TTY and delivers Ctrl-C on demand.
import type { CliIo } from '../../src/cli/io.js';

export type TestIo = CliIo & { out: string; err: string; signal(): void };

export function captureIo(options: { tty?: boolean; env?: Record<string, string> } = {}): TestIo {
  const handlers = new Set<(s: 'SIGINT') => void>();
  const o: TestIo = {
    out: '', err: '',
    stdout: { write: (t: string) => { o.out += t; return true; }, isTTY: options.tty ?? false, columns: 120 },
    stderr: { write: (t: string) => { o.err += t; return true; } },
    env: options.env ?? {},
    onSignal: (fn) => { handlers.add(fn); return () => handlers.delete(fn); },
    signal: () => { for (const fn of [...handlers]) fn('SIGINT'); },
  };
  return o;
}
