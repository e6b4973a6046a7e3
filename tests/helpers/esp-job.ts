// A JobContext for driving a family directly in tests: records moved bytes, stages and logs; gate and throttle open.
import type { JobContext } from '../../src/contracts/family.js';

export interface RecordingContext extends JobContext {
  movedTotal: number;
  stages: string[];
  logs: string[];
  controller: AbortController;
  /** While true, gate.pass waits (a paused job). */
  paused: boolean;
  gateCalls: number;
}

export function recordingContext(): RecordingContext {
  const controller = new AbortController();
  const ctx: RecordingContext = {
    jobId: 'job-1',
    deviceId: 'dev-1',
    signal: controller.signal,
    controller,
    movedTotal: 0,
    stages: [],
    logs: [],
    paused: false,
    gateCalls: 0,
    gate: {
      pass: async () => {
        ctx.gateCalls++;
        while (ctx.paused && !controller.signal.aborted) await new Promise((r) => setTimeout(r, 10));
      },
    },
    throttle: { take: async () => undefined },
    moved: (n) => {
      ctx.movedTotal += n;
    },
    stage: (t) => ctx.stages.push(t),
    log: (level, m) => ctx.logs.push(`${level}: ${m}`),
    waitForDevice: async () => {
      throw new Error('not in this test');
    },
  };
  return ctx;
}
