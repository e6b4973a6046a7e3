// DeviceRegistry: attach/detach events, describe filling partitions (errors → state error, never a crash), locks,
// and waiting for a device to come back after a reboot.
import { describe, expect, it } from 'vitest';
import { DeviceRegistry } from '../../../src/devices/registry.js';
import { FlashError } from '../../../src/core/errors.js';
import type { DeviceLink } from '../../../src/contracts/links.js';
import type { Candidate, DeviceDescription, Family } from '../../../src/contracts/family.js';
import type { AttachedDevice } from '../../../src/devices/registry.js';
import type { ServerMessage } from '../../../src/protocol/messages.js';

const link: DeviceLink = { open: async () => Promise.reject(new Error('no transport')), close: async () => undefined };

function driver(describe: () => Promise<DeviceDescription>): Family {
  return { protocol: 'fastboot', title: 'test', targets: ['partition'], match: () => 1, connect: () => link, probe: describe, run: async () => undefined };
}

function dev(id: string, d: Family, serial = id): AttachedDevice {
  const candidate: Candidate = { kind: 'network', key: `k:${id}`, transport: 'tcp', scheme: 'tcp', host: id };
  return { device: { id, protocol: 'fastboot', transport: 'sim', name: id, serial, info: {} }, family: d, link, candidate };
}

const ok = driver(async () => ({ info: { product: 'p' }, partitions: [{ name: 'boot', size: 1024 }] }));
const tick = (ms = 5): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('DeviceRegistry', () => {
  it('announces a device, fills it from describe(), and removes it on detach', async () => {
    const events: ServerMessage[] = [];
    const r = new DeviceRegistry({ emit: (m) => events.push(m) });
    r.sink.attach(dev('A', ok));
    expect(events[0]).toMatchObject({ type: 'device_attached', device: { id: 'A', state: 'busy' } });
    await r.entry('A')!.ready;
    expect(r.get('A')).toMatchObject({ state: 'idle', partitions: [{ name: 'boot', size: 1024 }], info: { product: 'p' } });
    expect(events.some((e) => e.type === 'device_updated' && e.device.state === 'idle')).toBe(true);
    r.sink.detach('A');
    expect(r.get('A')).toBeUndefined();
    expect(events[events.length - 1]).toMatchObject({ type: 'device_detached', deviceId: 'A' });
  });

  it('merges what a job saw change (redescribe) into the listing and announces it; unknown ids are ignored', async () => {
    const events: ServerMessage[] = [];
    const r = new DeviceRegistry({ emit: (m) => events.push(m) });
    r.sink.attach(dev('R', ok));
    await r.entry('R')!.ready;
    const before = events.length;
    r.redescribe('R', { partitions: [{ name: 'factory', size: 0x100000 }], info: { partition_table: true } });
    expect(r.get('R')).toMatchObject({ partitions: [{ name: 'factory', size: 0x100000 }], info: { product: 'p', partition_table: true } });
    expect(events.slice(before)).toEqual([expect.objectContaining({ type: 'device_updated', device: expect.objectContaining({ id: 'R', partitions: [{ name: 'factory', size: 0x100000 }] }) })]);
    r.redescribe('nobody', { info: { x: 1 } });
    expect(events).toHaveLength(before + 1);
  });

  it('puts a device whose describe() fails in state error with the reason in info', async () => {
    const r = new DeviceRegistry({ emit: () => undefined });
    r.sink.attach(dev('B', driver(async () => Promise.reject(new FlashError('timeout', 'no answer to getvar')))));
    await r.entry('B')!.ready;
    expect(r.get('B')?.state).toBe('error');
    expect(String(r.get('B')?.info.error)).toMatch(/no answer to getvar/);
  });

  it('gives up describing after the timeout', async () => {
    const r = new DeviceRegistry({ emit: () => undefined, describeTimeoutMs: 50 });
    r.sink.attach(dev('C', driver(() => new Promise(() => undefined))));
    await r.entry('C')!.ready;
    expect(r.get('C')?.state).toBe('error');
  });

  it('shows busy while a job holds the device, and keeps the lock across a detach', async () => {
    const r = new DeviceRegistry({ emit: () => undefined });
    r.sink.attach(dev('D', ok));
    await r.entry('D')!.ready;
    expect(r.lock('D', 'job1')).toBe(true);
    expect(r.lock('D', 'job2')).toBe(false);
    expect(r.get('D')?.state).toBe('busy');
    r.sink.detach('D');
    r.sink.attach(dev('D', ok));
    expect(r.lockedBy('D')).toBe('job1');
    r.unlock('D', 'job1');
    expect(r.get('D')?.state).toBe('idle');
  });

  it('waits for a rebooting device to come back (by serial), not for the one already there', async () => {
    const r = new DeviceRegistry({ emit: () => undefined });
    r.sink.attach(dev('E', ok, 'SER-E'));
    await r.entry('E')!.ready;
    const gen = r.entry('E')!.generation;
    let back = false;
    const p = r.waitFor('SER-E', 2000, undefined, { newerThan: gen, settleMs: 1000 }).then((e) => {
      back = true;
      return e;
    });
    await tick(20);
    expect(back).toBe(false);
    r.sink.detach('E');
    await tick(20);
    r.sink.attach(dev('E', ok, 'SER-E'));
    const e = await p;
    expect(e.generation).toBeGreaterThan(gen);
  });

  it('takes a device that never went away as back after the settle time, and times out when none comes', async () => {
    const r = new DeviceRegistry({ emit: () => undefined });
    r.sink.attach(dev('F', ok));
    await r.entry('F')!.ready;
    const e = await r.waitFor('F', 2000, undefined, { newerThan: r.entry('F')!.generation, settleMs: 50 });
    expect(e.attached.device.id).toBe('F');
    await expect(r.waitFor('NOPE', 50)).rejects.toMatchObject({ code: 'device_not_found', transient: true });
    const ac = new AbortController();
    const waiting = r.waitFor('NOPE', 5000, ac.signal);
    ac.abort(new Error('cancelled'));
    await expect(waiting).rejects.toThrow('cancelled');
  });
});

describe('candidate intake', () => {
  const serialCandidate = (key: string, serial?: string, protocol?: 'fastboot'): Candidate => ({
    kind: 'serial', key, transport: 'serial', path: key, ...(serial ? { serial } : {}), ...(protocol ? { protocol } : {}),
  });
  function family(probe: (c: Candidate) => Promise<DeviceDescription>, claims = (c: Candidate) => c.key.startsWith('/dev/ok')): Family & { connected: string[] } {
    const connected: string[] = [];
    return {
      protocol: 'fastboot', title: 'Test', targets: ['partition'], connected,
      match: (c) => (claims(c) ? 1 : undefined),
      connect: (c) => {
        connected.push(c.key);
        return link;
      },
      probe: (_l, c) => probe(c),
      run: async () => undefined,
    };
  }

  it('never connects a candidate no family claims; lists claimed ones by unique serial, else by key', async () => {
    const f = family(async () => ({ info: {} }));
    const r = new DeviceRegistry({ emit: () => undefined, families: [f] });
    r.candidates.offer(serialCandidate('/dev/other', 'X1'));
    r.candidates.offer(serialCandidate('/dev/ok1', 'SAME'));
    await tick();
    r.candidates.offer(serialCandidate('/dev/ok2', 'SAME'));
    await tick();
    expect(f.connected).toEqual(['/dev/ok1', '/dev/ok2']);
    expect(r.list().map((d) => d.id).sort()).toEqual(['/dev/ok2', 'SAME']);
    expect(r.get('SAME')?.targets).toEqual(['partition']);
    r.candidates.withdraw('/dev/ok1');
    expect(r.get('SAME')).toBeUndefined();
  });

  it('leaves an unnamed candidate whose probe fails unclaimed, but shows a named one as an error device', async () => {
    const logs: string[] = [];
    const f = family(async () => Promise.reject(new FlashError('protocol_error', 'not me')));
    const r = new DeviceRegistry({ emit: () => undefined, families: [f], log: (m) => logs.push(m) });
    r.candidates.offer(serialCandidate('/dev/ok-unnamed'));
    r.candidates.offer(serialCandidate('/dev/ok-named', 'N1', 'fastboot'));
    await tick(20);
    expect(r.get('/dev/ok-unnamed')).toBeUndefined();
    expect(logs.some((l) => /ok-unnamed.*not me/.test(l))).toBe(true);
    await r.entry('N1')!.ready;
    expect(r.get('N1')?.state).toBe('error');
  });
});
