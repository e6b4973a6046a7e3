// `flash-station sim stm32`: usage, and refusals of bad flags before anything opens.
import { describe, expect, it } from 'vitest';
import { runSimCli } from '../../../src/sim/cli.js';

function io(): { out: string[]; err: string[]; io: { out: (l: string) => void; err: (l: string) => void } } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l) => out.push(l), err: (l) => err.push(l) } };
}

describe('sim stm32 command line', () => {
  it('prints its usage', async () => {
    const r = io();
    expect(await runSimCli(['stm32', '--help'], r.io)).toBe(0);
    expect(r.out.join('\n')).toMatch(/--tty PATH/);
  });

  it('refuses a missing tty, an unknown chip, a bad flash size and a bad baud', async () => {
    for (const [args, why] of [
      [[], /give --tty PATH/],
      [['--tty', '/dev/null', '--chip', 'h7'], /chip "h7" is not known/],
      [['--tty', '/dev/null', '--flash-size', '1000'], /multiple of 1024 bytes up to 128K/],
      [['--tty', '/dev/null', '--baud', 'fast'], /--baud fast must be a whole number/],
    ] as const) {
      const r = io();
      expect(await runSimCli(['stm32', ...args], r.io)).toBe(2);
      expect(r.err.join('\n')).toMatch(why);
    }
  });

  it('leaves unknown families to the caller', async () => {
    expect(await runSimCli(['zigbee'])).toBeUndefined();
  });
});
