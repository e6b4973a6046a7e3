// A JobContext for driving the fastboot driver directly in tests: records bytes moved, stages and device log lines,
// with a working pause gate, cancel signal and device wait (through a caller-supplied lookup).
import type { DeviceLink } from '../../../src/contracts/links.js';
import type { JobContext } from '../../../src/contracts/family.js';
import type { LogLevel } from '../../../src/protocol/messages.js';

export interface TestContext extends JobContext {
  readonly abort: AbortController;
  readonly logs: Array<{ level: LogLevel; message: string }>;
  readonly stages: string[];
  bytesMoved: number;
  pause(): void;
  resume(): void;
  /** Aborts once this many data bytes have moved. */
  cancelAfter(bytes: number): void;
}

export function testContext(waitFor?: (timeoutMs: number) => Promise<DeviceLink>): TestContext {
  const abort = new AbortController();
  let paused = false;
  let release: Array<() => void> = [];
  let cancelAt = Number.POSITIVE_INFINITY;
  const ctx: TestContext = {
    jobId: 'test-job',
    deviceId: 'test-device',
    abort,
    signal: abort.signal,
    logs: [],
    stages: [],
    bytesMoved: 0,
    gate: {
      pass(signal?: AbortSignal): Promise<void> {
        if (signal?.aborted) return Promise.reject(new Error('aborted'));
        if (!paused) return Promise.resolve();
        return new Promise((resolve, reject) => {
          release.push(resolve);
          signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
        });
      },
    },
    throttle: { take: async () => undefined },
    moved(n: number) {
      ctx.bytesMoved += n;
      if (ctx.bytesMoved >= cancelAt) abort.abort();
    },
    stage(text: string) {
      ctx.stages.push(text);
    },
    log(level: LogLevel, message: string) {
      ctx.logs.push({ level, message });
    },
    async waitForDevice(timeoutMs: number): Promise<DeviceLink> {
      if (!waitFor) throw new Error('this test does not expect a reboot');
      return waitFor(timeoutMs);
    },
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      const r = release;
      release = [];
      for (const f of r) f();
    },
    cancelAfter(bytes: number) {
      cancelAt = bytes;
    },
  };
  return ctx;
}
