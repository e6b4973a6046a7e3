// `flash-station sim FAMILY`: dispatch through the simulator factories, and the helpers every family's command shares.
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SimCliIo, SimulatorFactory } from '../../../src/contracts/simulator.js';
import { faultFlags, isUsageError, parseSimFlags, simStoreDir, untilStopped } from '../../../src/sim/cli-io.js';
import { runSimCli, simCliFamilies } from '../../../src/sim/cli.js';

function factory(protocol: 'fastboot' | 'esp', withCli: boolean, seen: Array<{ argv: string[]; io?: SimCliIo }>): SimulatorFactory {
  return {
    protocol,
    keys: [],
    create: () => Promise.reject(new Error('not used')),
    ...(withCli
      ? { loadCli: () => Promise.resolve({ usage: `usage of ${protocol}`, run: (argv: string[], io?: SimCliIo) => (seen.push({ argv, io }), Promise.resolve(7)) }) }
      : {}),
  };
}

describe('runSimCli', () => {
  it('hands the words after the family to that family\'s command and returns its status', async () => {
    const seen: Array<{ argv: string[]; io?: SimCliIo }> = [];
    const io = { out: () => undefined };
    expect(await runSimCli(['esp', '--tty', '/dev/x'], io, [factory('fastboot', true, seen), factory('esp', true, seen)])).toBe(7);
    expect(seen).toEqual([{ argv: ['--tty', '/dev/x'], io }]);
  });

  it('returns undefined for an unknown word, no word, or a family without a standalone simulator', async () => {
    const seen: Array<{ argv: string[] }> = [];
    const factories = [factory('fastboot', false, seen), factory('esp', true, seen)];
    expect(await runSimCli(['zigbee'], {}, factories)).toBeUndefined();
    expect(await runSimCli([], {}, factories)).toBeUndefined();
    expect(await runSimCli(['fastboot', '--tcp', '0'], {}, factories)).toBeUndefined();
    expect(seen).toEqual([]);
    expect(simCliFamilies(factories)).toEqual(['esp']);
  });

  it('lists the registered families that have a command', () => {
    expect(simCliFamilies()).toEqual(expect.arrayContaining(['fastboot', 'esp', 'stm32']));
  });
});

describe('sim command helpers', () => {
  it('parses a family\'s flags with the common ones; --help and bad flags end with the usage', () => {
    const lines = { out: [] as string[], err: [] as string[] };
    const io = { out: (l: string) => void lines.out.push(l), err: (l: string) => void lines.err.push(l) };
    const ok = parseSimFlags('esp', 'USAGE', ['esp', '--tty', '/dev/x', '--fail-after', '1M', '--store', '/s'], { tty: { type: 'string' } }, io);
    expect(ok).toEqual({ values: { tty: '/dev/x', 'fail-after': '1M', store: '/s' } });
    expect(parseSimFlags('esp', 'USAGE', ['-h'], {}, io)).toEqual({ status: 0 });
    expect(lines.out).toEqual(['USAGE']);
    expect(parseSimFlags('esp', 'USAGE', ['--bogus'], {}, io)).toEqual({ status: 2 });
    expect(lines.err[0]).toMatch(/^flash-station sim esp: .*--bogus/);
    expect(lines.err[1]).toBe('USAGE');
  });

  it('parses the common fault flags and names the flag in a bad value', () => {
    expect(faultFlags({ 'fail-after': '1M', 'stall-after': '0x10', 'fail-command': 'flash' })).toEqual({ failAfter: 1 << 20, stallAfter: 16, failCommand: 'flash' });
    expect(faultFlags({})).toEqual({});
    expect(() => faultFlags({ 'disconnect-after': 'lots' })).toThrow(/--disconnect-after/);
    expect(() => faultFlags({ 'fail-command': '' })).toThrow(/--fail-command needs a command name/);
  });

  it('puts the store under DATA_DIR/sim/NAME unless --store is given', () => {
    expect(simStoreDir('/s', '/d', 'X')).toBe(resolve('/s'));
    expect(simStoreDir(undefined, '/d', 'X')).toBe(join('/d', 'sim', 'X'));
    expect(simStoreDir(undefined, undefined, 'X')).toMatch(/flash-station[/\\]sim[/\\]X$/);
  });

  it('tells usage errors from others', () => {
    expect(isUsageError(new RangeError('x'))).toBe(true);
    expect(isUsageError(Object.assign(new TypeError('x'), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' }))).toBe(true);
    expect(isUsageError(new Error('EACCES'))).toBe(false);
    expect(isUsageError(null)).toBe(false);
  });

  it('stops on the caller\'s signal or when the device goes, and leaves no signal listeners', async () => {
    const before = process.listenerCount('SIGINT');
    const ac = new AbortController();
    const stopped = untilStopped(ac.signal);
    expect(process.listenerCount('SIGINT')).toBe(before + 1);
    ac.abort();
    await stopped;
    expect(process.listenerCount('SIGINT')).toBe(before);
    await untilStopped(undefined, Promise.reject(new Error('line gone')));
    expect(process.listenerCount('SIGTERM')).toBe(process.listenerCount('SIGINT'));
    await untilStopped(AbortSignal.abort());
    expect(process.listenerCount('SIGINT')).toBe(before);
  });
});
