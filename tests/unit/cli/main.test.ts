// The command dispatcher: help, version, unknown commands and bad flags give the documented exit statuses.
import { describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { captureIo as io } from '../../helpers/cli-io.js';


describe('main', () => {
  it('prints help and the version', async () => {
    const a = io();
    expect(await main(['--help'], a)).toBe(0);
    for (const cmd of ['serve', 'flash', 'devices', 'jobs', 'watch', 'sim fastboot']) expect(a.out).toContain(cmd);
    expect(a.out).toContain('--url wss://HOST:PORT/flash-progress and --ca FILE');
    const b = io();
    expect(await main(['--version'], b)).toBe(0);
    expect(b.out).toMatch(/^\d+\.\d+\.\d+/);
  });
  it('prints each command\'s help', async () => {
    for (const [cmd, word] of [['serve', '--allow-origin'], ['flash', 'Exit status'], ['devices', '--json'], ['jobs', '--limit'], ['watch', 'Ctrl-C']] as const) {
      const a = io();
      expect(await main([cmd, '--help'], a)).toBe(0);
      expect(a.out).toContain(word);
    }
    const d = io();
    expect(await main(['serve', '--help'], d)).toBe(0);
    expect(d.out).toMatch(/--demo +add simulated devices[^\n]*fastboot, ESP, STM32,\n +DFU\), each at its usual link speed/);
    expect(d.out).not.toContain('at their serial baud, …');
    const s = io();
    expect(await main(['sim', 'fastboot', '--help'], s)).toBe(0);
    expect(s.out).toContain('--max-download');
    const t = io();
    expect(await main(['sim', '--help'], t)).toBe(0);
    expect(t.out).toMatch(/sim FAMILY[\s\S]*Families: .*fastboot/);
    const u = io();
    expect(await main(['sim', 'zigbee'], u)).toBe(2);
    expect(u.err).toContain('Families:');
  });
  it('exits 2 on an unknown command, an unknown flag or missing arguments', async () => {
    const a = io();
    expect(await main(['frobnicate'], a)).toBe(2);
    expect(a.err).toContain('unknown command');
    const b = io();
    expect(await main(['devices', '--bogus'], b)).toBe(2);
    expect(b.err).toContain('--bogus');
    for (const cmd of ['serve', 'fleet']) {
      const p = io();
      expect(await main([cmd, '--mqtt', 'mqtt://127.0.0.1:1', '--mqtt-password', 'hunter2'], p)).toBe(2);
      expect(p.err).toContain("Unknown option '--mqtt-password'");
      expect(p.err).toContain('put it in a file and pass --mqtt-password-file FILE');
      expect(p.err).not.toContain('hunter2');
    }
    const c = io();
    expect(await main(['flash', 'boot', 'boot.img'], c)).toBe(2);
    expect(c.err).toContain('--device');
    const d = io();
    expect(await main(['flash', '--device', 'X', 'boot'], d)).toBe(2);
    const e = io();
    expect(await main(['serve', '--port', '70000'], e)).toBe(2);
  });
  it('exits 2 when the station is unreachable', async () => {
    const a = io();
    expect(await main(['devices', '--url', 'ws://127.0.0.1:1/flash-progress'], a)).toBe(2);
    expect(a.err).toMatch(/Cannot use the station/);
    const b = io();
    expect(await main(['flash', '--url', 'ws://127.0.0.1:1/flash-progress', '--token', 't', '--device', 'X', 'boot', '/x.img'], b)).toBe(2);
  });
});
