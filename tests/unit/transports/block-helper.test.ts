// The station side of the privilege helper: which way a disk is written (direct, helper, or a clear refusal), the
// command line pkexec gets, which installed helper is trusted, and what a refused or dismissed pkexec becomes.
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  chooseWriteAccess, helperCommand, HelperPool, HelperSession, installedBlockHelper, pkexecRefusal, PKEXEC,
} from '../../../src/transports/block-helper.js';
import { encodeHello } from '../../../src/transports/block-helper-protocol.js';

const HELPER = '/usr/lib/flash-station/flash-station-block-helper';
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A stand-in for pkexec or the helper: a node process running `code` (the command it was given is recorded). */
const fake = (code: string, seen: Array<{ file: string; args: string[] }> = []) => (file: string, args: string[]) => {
  seen.push({ file, args });
  return spawn(process.execPath, ['-e', code], { stdio: ['pipe', 'pipe', 'pipe'] });
};

describe('helperCommand', () => {
  it('runs the helper through pkexec for a user: absolute paths, no shell, no internal text agent, devices only', () => {
    expect(helperCommand(HELPER, ['/dev/sdb', '/dev/sdc'], 1000)).toEqual({
      file: '/usr/bin/pkexec', args: ['--disable-internal-agent', HELPER, '/dev/sdb', '/dev/sdc'],
    });
    expect(PKEXEC).toBe('/usr/bin/pkexec');
  });

  it('runs the helper itself when the station is root', () => {
    expect(helperCommand(HELPER, ['/dev/sdb'], 0)).toEqual({ file: HELPER, args: ['/dev/sdb'] });
  });

  it('refuses a relative helper, paths outside /dev, option-like or shell-like arguments, and empty or huge batches', () => {
    expect(() => helperCommand('flash-station-block-helper', ['/dev/sdb'], 1000)).toThrow(/absolute/);
    for (const bad of ['/etc/shadow', '--help', '/dev/../etc/passwd', '/dev/sdb; rm -rf /', 'sdb', '/dev/sd b']) {
      expect(() => helperCommand(HELPER, [bad], 1000)).toThrow(/not a device path/);
    }
    expect(() => helperCommand(HELPER, [], 1000)).toThrow(/1 to 16/);
    expect(() => helperCommand(HELPER, Array.from({ length: 17 }, (_, i) => `/dev/loop${i}`), 1000)).toThrow(/1 to 16/);
  });
});

describe('chooseWriteAccess', () => {
  it('root or a writable node (the disk group) writes directly; else the helper where there is one; else says what to do', () => {
    expect(chooseWriteAccess({ path: '/dev/sdb', uid: 0, writable: false, helper: true })).toBe('direct');
    expect(chooseWriteAccess({ path: '/dev/sdb', uid: 1000, writable: true, helper: true })).toBe('direct');
    expect(chooseWriteAccess({ path: '/dev/sdb', uid: 1000, writable: false, helper: true })).toBe('helper');
    expect(() => chooseWriteAccess({ path: '/dev/sdb', uid: 1000, writable: false, helper: false })).toThrow(
      expect.objectContaining({ code: 'permission_denied', message: expect.stringContaining('cannot write /dev/sdb') as string }) as Error,
    );
  });
});

describe('installedBlockHelper', () => {
  it('trusts only a root-owned executable nobody else may change', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fs-helper-'));
    dirs.push(dir);
    const p = join(dir, 'flash-station-block-helper');
    writeFileSync(p, '#!/bin/true\n');
    chmodSync(p, 0o755);
    if (process.getuid?.() !== 0) throw new Error('this test runs as root (it changes a file\'s owner)');
    expect(installedBlockHelper(p)).toBe(p);
    chmodSync(p, 0o775);
    expect(installedBlockHelper(p)).toBeUndefined();
    chmodSync(p, 0o755);
    chownSync(p, 1000, 1000);
    expect(installedBlockHelper(p)).toBeUndefined();
    expect(installedBlockHelper(join(dir, 'missing'))).toBeUndefined();
  });
});

describe('HelperSession and HelperPool', () => {
  it('a dismissed password dialog (pkexec exit 126) and a polkit refusal (127) are permission_denied saying so', async () => {
    const dismissed = new HelperSession({ file: PKEXEC, args: [] }, ['/dev/sdb'], fake('process.exit(126)'));
    await expect(dismissed.ready).rejects.toMatchObject({ code: 'permission_denied', message: expect.stringContaining('dismissed') as string });
    const refused = new HelperSession({ file: PKEXEC, args: [] }, ['/dev/sdb'], fake('process.stderr.write("Not authorized"); process.exit(127)'));
    await expect(refused.ready).rejects.toMatchObject({ code: 'permission_denied', message: expect.stringContaining('Not authorized') as string });
  });

  it('pkexec exit 127 names its cause: no polkit daemon, the action not installed, no agent, or a refusal', () => {
    const refusal = (stderr: string, installed: boolean): string => pkexecRefusal(127, stderr, installed).message;
    expect(refusal('Error getting authority: Error initializing authority: Could not connect: No such file or directory', true))
      .toMatch(/^polkit's daemon does not answer on the system bus \(pkexec: Error getting authority: .*\): start polkitd/);
    expect(refusal('Error executing command as another user: No authentication agent found.', false))
      .toMatch(/^the polkit action io\.flashstation\.block\.write is not installed \(\/usr\/share\/polkit-1\/actions\/io\.flashstation\.block\.policy is missing\)/);
    expect(refusal('Error executing command as another user: No authentication agent found.', true))
      .toMatch(/^no polkit authentication agent is running to ask for an administrator's password/);
    const no = pkexecRefusal(127, 'Error executing command as another user: Not authorized\n\nThis incident has been reported.\n', true);
    expect(no).toMatchObject({ code: 'permission_denied' });
    expect(no.message).toBe('polkit did not allow writing disks (action io.flashstation.block.write) (pkexec: Error executing command as another user: '
      + 'Not authorized This incident has been reported.): ask an administrator to allow it with a polkit rule (docs/block.md), or run the station '
      + 'as root or as a member of the "disk" group');
  });

  it('a helper that is not ours (no hello) or dies mid-request fails the pending requests with its reason', async () => {
    const other = new HelperSession({ file: HELPER, args: [] }, ['/dev/sdb'], fake('process.stdout.write("Password: "); setTimeout(() => {}, 5000)'));
    await expect(other.ready).rejects.toMatchObject({ code: 'internal', message: expect.stringContaining('hello') as string });
    const hello = encodeHello([{ status: 0, sectorSize: 512, size: 1 << 20 }]).toString('hex');
    const dies = new HelperSession({ file: HELPER, args: [] }, ['/dev/sdb'],
      fake(`process.stdout.write(Buffer.from('${hello}', 'hex')); process.stdin.once('data', () => { process.stderr.write('boom'); process.exit(3); })`));
    await dies.ready;
    await expect(dies.request(0, 'S', 0, 0)).rejects.toMatchObject({ code: 'device_error', message: expect.stringContaining('(exit 3): boom') as string });
  });

  it('opens within one window share one helper (one prompt per batch); a device it could not open is refused by errno', async () => {
    const seen: Array<{ file: string; args: string[] }> = [];
    const hello = encodeHello([{ status: 0, sectorSize: 512, size: 1 << 20 }, { status: -16, sectorSize: 512, size: 0 }]).toString('hex');
    // Answers every request with 0 (a 'C' closing the device, here).
    const answer = `process.stdin.on('data', (d) => { for (let i = 0; i + 24 <= d.length; i += 24) { const r = Buffer.alloc(12); r.writeUInt32LE(d.readUInt32LE(i + 4), 0); process.stdout.write(r); } })`;
    const pool = new HelperPool(HELPER, { uid: 1000, windowMs: 50, spawn: fake(`process.stdout.write(Buffer.from('${hello}', 'hex')); ${answer}`, seen) });
    const [a, b] = await Promise.allSettled([pool.open('/dev/sdb'), pool.open('/dev/sdc')]);
    expect(seen).toEqual([{ file: PKEXEC, args: ['--disable-internal-agent', HELPER, '/dev/sdb', '/dev/sdc'] }]);
    expect(a).toMatchObject({ status: 'fulfilled', value: { path: '/dev/sdb', size: 1 << 20, sectorSize: 512 } });
    expect(b).toMatchObject({ status: 'rejected', reason: { code: 'device_busy' } });
    if (a.status === 'fulfilled') await a.value.close(); // the helper's stdin ends: it exits
  });

  it('an open cancelled while it waits for its batch leaves it; the others still get their helper', async () => {
    const seen: Array<{ file: string; args: string[] }> = [];
    const hello = encodeHello([{ status: 0, sectorSize: 512, size: 1 << 20 }]).toString('hex');
    const pool = new HelperPool(HELPER, { uid: 0, windowMs: 50, spawn: fake(`process.stdout.write(Buffer.from('${hello}', 'hex')); process.stdin.on('data', (d) => { const r = Buffer.alloc(12); r.writeUInt32LE(d.readUInt32LE(4), 0); process.stdout.write(r); })`, seen) });
    const ac = new AbortController();
    const cancelled = pool.open('/dev/sdb', ac.signal);
    const kept = pool.open('/dev/sdc');
    ac.abort(new Error('cancelled by the job'));
    await expect(cancelled).rejects.toThrow('cancelled by the job');
    const io = await kept;
    expect(seen).toEqual([{ file: HELPER, args: ['/dev/sdc'] }]);
    await io.close();
  });
});
