// The simulator's protocol core: every command, every FAIL path, modes, slots and logical partitions.
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { FastbootSimDevice, SimOfflineError } from '../../../src/sim/fastboot/device.js';
import { parseSimSpec } from '../../../src/sim/fastboot/spec.js';
import { makeHarness, readReply, sparseImage, type Harness } from './harness.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

const part = async (name: string): Promise<Buffer> => readFile(h.dev.partitionPath(name));

describe('getvar', () => {
  it('answers the variables hosts ask for, in the formats AOSP uses', async () => {
    h = await makeHarness();
    const v = async (name: string): Promise<string> => {
      const r = await h.cmd(`getvar:${name}`);
      return `${r.status}${r.text}`;
    };
    expect(await v('version')).toBe('OKAY0.4');
    expect(await v('product')).toBe('OKAYflashsim');
    expect(await v('serialno')).toBe('OKAYUNIT');
    expect(await v('max-download-size')).toBe('OKAY0x100000');
    expect(await v('partition-size:system')).toBe('OKAY0x400000');
    expect(await v('partition-type:boot')).toBe('OKAYraw');
    expect(await v('is-logical:boot')).toBe('OKAYno');
    expect(await v('is-userspace')).toBe('OKAYno');
    expect(await v('has-slot:boot')).toBe('OKAYno');
    expect(await v('slot-count')).toBe('OKAY0');
    expect(await v('unlocked')).toBe('OKAYyes');
    expect(await v('current-slot')).toMatch(/^FAIL/);
    expect(await v('partition-size:nosuch')).toBe('FAILUnknown partition "nosuch"');
    expect(await v('no-such-variable')).toBe('FAILUnknown variable');
    expect(await v('')).toMatch(/^FAILmissing variable name/);
  });

  it('getvar:all sends one INFO line per variable (partition ones per partition), then OKAY', async () => {
    h = await makeHarness('fastboot:ALL?partitions=boot:1M,userdata:2M&slots=1');
    const r = await h.cmd('getvar:all');
    expect(r.status).toBe('OKAY');
    expect(r.info).toEqual(
      expect.arrayContaining(['version:0.4', 'serialno:ALL', 'partition-size:boot_a:0x100000', 'partition-size:userdata:0x200000', 'has-slot:boot:yes', 'has-slot:userdata:no', 'current-slot:a', 'slot-successful:a:yes']),
    );
    for (const line of r.info) expect(line.length).toBeLessThanOrEqual(252);
  });
});

describe('commands', () => {
  it('FAILs unknown, non-ASCII and over-long commands (64 bytes in the bootloader, 4096 in fastbootd)', async () => {
    h = await makeHarness();
    expect(await h.cmd('frobnicate')).toMatchObject({ status: 'FAIL', text: 'unknown command frobnicate' });
    expect((await h.cmd('getvar:\u00e9')).status).toBe('FAIL');
    expect((await h.cmd(`getvar:${'x'.repeat(58)}`)).text).toMatch(/command too long \(65 bytes/);
    h.dev.unplug();
    await h.close();
    h = await makeHarness('fastboot:FBD?partitions=boot:1M&mode=fastbootd');
    expect((await h.cmd(`getvar:${'x'.repeat(300)}`)).text).toBe('Unknown variable');
  });

  it('download checks its size argument and the limit, then takes the bytes and answers OKAY', async () => {
    h = await makeHarness();
    expect((await h.cmd('download:1000')).text).toMatch(/8 hex digits/);
    expect((await h.cmd('download:0000100g')).text).toMatch(/8 hex digits/);
    expect((await h.cmd('download:00000000')).text).toMatch(/0 bytes/);
    expect((await h.cmd('download:00100001')).text).toMatch(/data too large: 1048577 bytes > max-download-size 1048576/);
    const data = randomBytes(5000);
    expect(await h.cmd('download:00001388')).toMatchObject({ status: 'DATA', text: '00001388' });
    await h.s.write(data.subarray(0, 3000));
    await h.s.write(data.subarray(3000));
    expect((await readReply(h.s)).status).toBe('OKAY');
    expect((await h.dev.readDownload())?.equals(data)).toBe(true);
  });

  it('flash writes raw data, leaves zero blocks as holes, and FAILs unknown partitions and oversize images', async () => {
    h = await makeHarness();
    expect((await h.cmd('flash:boot')).text).toMatch(/no image downloaded/);
    const img = Buffer.alloc(512 * 1024);
    randomBytes(4096).copy(img, 0);
    randomBytes(4096).copy(img, 256 * 1024);
    expect((await h.flash('boot', img)).status).toBe('OKAY');
    const file = await part('boot');
    expect(file.subarray(0, img.length).equals(img)).toBe(true);
    expect(h.dev.store.get('boot')!.bytesWritten).toBe(8192);
    expect((await h.flash('nosuch', img)).text).toBe('partition "nosuch" does not exist');
    h.dev.unplug();
    await h.close();
    h = await makeHarness('fastboot:SMALL?partitions=tiny:64K');
    expect((await h.flash('tiny', Buffer.alloc(65537))).text).toBe('image is 65537 bytes, larger than partition tiny (65536 bytes)');
  });

  it('flash applies sparse RAW, FILL and DONT_CARE chunks; DONT_CARE leaves what was there', async () => {
    h = await makeHarness();
    const old = randomBytes(1024 * 1024);
    await h.flash('boot', old);
    const raw = randomBytes(8192);
    const img = sparseImage(4096, [
      { type: 'raw', data: raw },
      { type: 'fill', blocks: 4, value: 0x11223344 },
      { type: 'skip', blocks: 10 },
      { type: 'fill', blocks: 100, value: 0 },
    ]);
    expect((await h.flash('boot', img)).status).toBe('OKAY');
    const f = await part('boot');
    expect(f.subarray(0, 8192).equals(raw)).toBe(true);
    expect(f.readUInt32LE(8192)).toBe(0x11223344);
    expect(f.readUInt32LE(8192 + 4 * 4096 - 4)).toBe(0x11223344);
    expect(f.subarray(6 * 4096, 16 * 4096).equals(old.subarray(6 * 4096, 16 * 4096))).toBe(true);
    expect(f.subarray(16 * 4096, 116 * 4096).every((b) => b === 0)).toBe(true);
    expect(f.subarray(116 * 4096).equals(old.subarray(116 * 4096))).toBe(true);
  });

  it.each([
    ['a block count that disagrees with the header', sparseImage(4096, [{ type: 'skip', blocks: 2 }], { totalBlocks: 3 }), /cover 2 blocks, header says 3/],
    ['a truncated chunk', sparseImage(4096, [{ type: 'raw', data: Buffer.alloc(4096) }]).subarray(0, 28 + 12 + 100), /truncated/],
    ['an unknown chunk type', (() => { const b = sparseImage(4096, [{ type: 'skip', blocks: 1 }]); b.writeUInt16LE(0xcac9, 28); return b; })(), /unknown type 0xcac9/],
    ['trailing bytes', Buffer.concat([sparseImage(4096, [{ type: 'skip', blocks: 1 }]), Buffer.alloc(3)]), /unexpected bytes/],
    ['a wrong major version', (() => { const b = sparseImage(4096, [{ type: 'skip', blocks: 1 }]); b.writeUInt16LE(2, 4); return b; })(), /major version 2/],
    ['more blocks than the partition', sparseImage(4096, [{ type: 'skip', blocks: 257 }]), /larger than partition boot/],
  ])('FAILs a sparse image with %s and writes nothing', async (_what, img, message) => {
    h = await makeHarness();
    const before = randomBytes(4096);
    await h.flash('boot', before);
    const r = await h.flash('boot', img);
    expect(r.status).toBe('FAIL');
    expect(r.text).toMatch(message);
    expect((await part('boot')).subarray(0, 4096).equals(before)).toBe(true);
  });

  it('erase leaves the partition reading zeros with no blocks allocated; a locked device refuses', async () => {
    h = await makeHarness();
    await h.flash('system', randomBytes(1024 * 1024));
    expect((await h.cmd('erase:system')).status).toBe('OKAY');
    expect((await part('system')).every((b) => b === 0)).toBe(true);
    expect((await stat(h.dev.partitionPath('system'))).blocks).toBe(0);
    expect((await h.cmd('erase:nosuch')).status).toBe('FAIL');
    expect((await h.cmd('flashing lock')).status).toBe('OKAY');
    expect((await h.cmd('erase:system')).text).toBe('Flashing is not allowed in Lock State');
    expect((await h.cmd('getvar:unlocked')).text).toBe('no');
    expect((await h.cmd('flashing unlock')).status).toBe('OKAY');
    expect((await h.cmd('flashing get_unlock_ability')).info).toEqual(['get_unlock_ability: 1']);
  });

  it('slots: set_active switches the current slot, and base names flash the current slot', async () => {
    h = await makeHarness('fastboot:AB?partitions=boot:1M,userdata:1M&slots=1');
    expect((await h.cmd('getvar:has-slot:boot')).text).toBe('yes');
    expect((await h.cmd('set_active:c')).status).toBe('FAIL');
    expect((await h.cmd('set_active:b')).status).toBe('OKAY');
    expect((await h.cmd('getvar:current-slot')).text).toBe('b');
    const img = randomBytes(4096);
    expect((await h.flash('boot', img)).status).toBe('OKAY');
    expect((await part('boot_b')).subarray(0, 4096).equals(img)).toBe(true);
    expect((await h.cmd('set_active:_a')).status).toBe('OKAY');
    expect((await h.cmd('getvar:current-slot')).text).toBe('a');
    h.dev.unplug();
    await h.close();
    h = await makeHarness();
    expect((await h.cmd('set_active:a')).text).toBe('Device does not support slots');
  });

  it('upload returns staged data (oem log), fetch reads a partition back; oem device-info prints INFO lines', async () => {
    h = await makeHarness();
    expect((await h.cmd('upload')).text).toMatch(/no data staged/);
    expect((await h.cmd('oem log')).status).toBe('OKAY');
    const up = await h.cmd('upload');
    expect(up.status).toBe('DATA');
    const size = Number.parseInt(up.text, 16);
    const data = Buffer.from(await h.s.read(size));
    expect(data.toString()).toContain('oem log');
    expect((await readReply(h.s)).status).toBe('OKAY');
    const img = randomBytes(8192);
    await h.flash('boot', img);
    const f = await h.cmd('fetch:boot:0x1000:4096');
    expect(f).toMatchObject({ status: 'DATA', text: '00001000' });
    expect(Buffer.from(await h.s.read(1 << 20)).equals(img.subarray(4096, 8192))).toBe(true);
    expect((await readReply(h.s)).status).toBe('OKAY');
    expect((await h.cmd('fetch:boot:0:2000000')).status).toBe('FAIL');
    const info = await h.cmd('oem device-info');
    expect(info.status).toBe('OKAY');
    expect(info.info).toContain('Device unlocked: true');
    expect((await h.cmd('oem frob')).text).toMatch(/unknown oem command/);
    await h.s.write(Buffer.from('oem text hello there'));
    expect(Buffer.from(await h.s.read()).toString()).toBe('TEXThello there');
    expect((await readReply(h.s)).status).toBe('OKAY');
  });
});

describe('power and modes', () => {
  it('reboot answers OKAY, ends the session once it is read, goes offline and comes back', async () => {
    h = await makeHarness('fastboot:RB?partitions=boot:1M&reboot-delay=50ms');
    const events: string[] = [];
    h.dev.onEvent((e) => events.push(e.type));
    expect((await h.cmd('reboot-bootloader')).status).toBe('OKAY');
    expect(await h.s.ended).toBe('reboot');
    expect(() => h.dev.connect()).toThrow(SimOfflineError);
    await new Promise((r) => setTimeout(r, 120));
    expect(events).toEqual(['offline', 'online']);
    h.s = h.dev.connect();
    expect((await h.cmd('getvar:product')).status).toBe('OKAY');
  });

  it('reboot-fastboot lands in userspace fastbootd, where logical partitions can be resized, created and deleted', async () => {
    h = await makeHarness('fastboot:LP?partitions=boot:1M,super:8M,system:2M,vendor:1M&logical=system,vendor&reboot-delay=10ms');
    expect((await h.cmd('getvar:is-logical:system')).text).toBe('yes');
    expect((await h.cmd('getvar:partition-size:system')).status).toBe('FAIL');
    expect((await h.flash('system', randomBytes(4096))).text).toMatch(/logical partition: reboot to fastbootd/);
    expect((await h.cmd('resize-logical-partition:system:4096')).text).toMatch(/unknown command/);
    await h.cmd('reboot-fastboot');
    await new Promise((r) => setTimeout(r, 60));
    h.s = h.dev.connect();
    expect((await h.cmd('getvar:is-userspace')).text).toBe('yes');
    expect((await h.cmd('getvar:super-partition-name')).text).toBe('super');
    expect((await h.cmd('resize-logical-partition:system:8192')).status).toBe('OKAY');
    expect((await h.cmd('getvar:partition-size:system')).text).toBe('0x2000');
    expect((await h.cmd('resize-logical-partition:system:8388608')).text).toMatch(/not enough space in super/);
    expect((await h.cmd('resize-logical-partition:boot:4096')).text).toMatch(/not a logical partition/);
    const img = randomBytes(8192);
    expect((await h.flash('system', img)).status).toBe('OKAY');
    expect((await part('system')).equals(img)).toBe(true);
    expect((await h.cmd('create-logical-partition:product:4096')).status).toBe('OKAY');
    expect((await h.cmd('getvar:partition-size:product')).text).toBe('0x1000');
    expect((await h.cmd('create-logical-partition:product:4096')).text).toMatch(/already exists/);
    expect((await h.cmd('delete-logical-partition:product')).status).toBe('OKAY');
    expect((await h.cmd('getvar:partition-size:product')).status).toBe('FAIL');
  });

  it('remembers the active slot, the lock state and logical partitions across a restart, as a real device does', async () => {
    const spec = 'fastboot:MEM?partitions=boot:1M,super:8M,system:2M&logical=system&slots=1&mode=fastbootd';
    h = await makeHarness(spec);
    await h.cmd('set_active:b');
    await h.cmd('resize-logical-partition:system_a:8192');
    await h.cmd('create-logical-partition:odm_b:4096');
    await h.cmd('delete-logical-partition:system_b');
    await h.cmd('flashing lock');
    const storeDir = h.dev.config.storeDir;
    await h.dev.close();
    const again = await FastbootSimDevice.create({ ...parseSimSpec(spec), storeDir });
    try {
      expect(again.currentSlot).toBe('b');
      expect(again.unlocked).toBe(false);
      const sizes = Object.fromEntries(again.partitions.map((p) => [p.name, p.size]));
      expect(sizes).toMatchObject({ system_a: 8192, odm_b: 4096 });
      expect(sizes.system_b).toBeUndefined();
      expect((await stat(again.partitionPath('system_a'))).size).toBe(8192);
    } finally {
      await again.close();
    }
  });

  it('records protocol violations a correct host never commits (zero-length packets)', async () => {
    h = await makeHarness();
    await h.s.write(new Uint8Array(0));
    expect(h.dev.violations).toEqual(['zero-length packet in the command phase']);
  });
});
