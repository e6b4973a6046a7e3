// The simulator's liblp reader: a super_empty image parses to its partitions; bad magic, checksums and sizes fail
// with a message naming what is wrong, and update-super acts on it only in fastbootd.
import { afterEach, describe, expect, it } from 'vitest';
import { LpMetadataError, parseSuperEmpty } from '../../../src/sim/fastboot/liblp.js';
import { makeHarness, type Harness } from './harness.js';
import { resealSuperEmpty, superEmpty, SUPER_EMPTY_LAYOUT } from './super-empty.js';

const MiB = 1024 * 1024;
const H = SUPER_EMPTY_LAYOUT.header;

function failsWith(img: Buffer, pattern: RegExp): void {
  let caught: unknown;
  try {
    parseSuperEmpty(img);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(LpMetadataError);
  expect((caught as Error).message).toMatch(pattern);
}

describe('parseSuperEmpty', () => {
  it('reads the partitions, groups and super block device of an A/B super_empty image', () => {
    const img = superEmpty({ superSize: 64 * MiB, partitions: ['system', 'vendor', 'product'], slots: true });
    const md = parseSuperEmpty(img);
    expect(md.major).toBe(10);
    expect(md.partitions.map((p) => p.name)).toEqual(['system_a', 'vendor_a', 'product_a', 'system_b', 'vendor_b', 'product_b']);
    expect(md.partitions.every((p) => p.size === 0)).toBe(true);
    expect(md.partitions[0]?.group).toBe('flashsim_dynamic_a');
    expect(md.partitions[3]?.group).toBe('flashsim_dynamic_b');
    expect(md.blockDevices).toEqual([expect.objectContaining({ partitionName: 'super', size: 64 * MiB })]);
    expect(md.geometry).toEqual({ metadataMaxSize: 65536, metadataSlotCount: 2, logicalBlockSize: 4096 });
  });

  it('reads the 256-byte header of metadata 10.2', () => {
    const md = parseSuperEmpty(superEmpty({ superSize: 32 * MiB, partitions: ['system'], minor: 2 }));
    expect(md.minor).toBe(2);
    expect(md.partitions.map((p) => p.name)).toEqual(['system']);
  });

  it('refuses a bad geometry magic, then a geometry whose SHA-256 does not match', () => {
    const img = superEmpty({ superSize: 32 * MiB, partitions: ['system'] });
    const badMagic = Buffer.from(img);
    badMagic.writeUInt32LE(0x12345678, 0);
    failsWith(badMagic, /invalid geometry magic 0x12345678 \(expected 0x616c4467\)/);
    const badSum = Buffer.from(img);
    badSum.writeUInt32LE(131072, 40); // metadata_max_size changed, checksum left as it was
    failsWith(badSum, /invalid geometry checksum/);
    expect(parseSuperEmpty(resealSuperEmpty(badSum)).geometry.metadataMaxSize).toBe(131072);
  });

  it('refuses a bad header magic, a header checksum and a tables checksum that do not match', () => {
    const img = superEmpty({ superSize: 32 * MiB, partitions: ['system', 'vendor'] });
    const badMagic = Buffer.from(img);
    badMagic.writeUInt32LE(0x30504c41, H); // byte-swapped
    failsWith(badMagic, /invalid metadata header magic 0x30504c41 \(expected 0x414c5030\)/);
    const badHeader = Buffer.from(img);
    badHeader[H + 12] = (badHeader[H + 12] ?? 0) ^ 0xff;
    failsWith(badHeader, /invalid metadata header checksum/);
    const badTables = Buffer.from(img);
    badTables.write('systen', H + 128, 'latin1'); // first partition name, header untouched
    failsWith(badTables, /invalid metadata tables checksum/);
    expect(parseSuperEmpty(resealSuperEmpty(badTables)).partitions[0]?.name).toBe('systen');
  });

  it('refuses truncated images, other versions and wrong table entry sizes even with valid checksums', () => {
    const img = superEmpty({ superSize: 32 * MiB, partitions: ['system'] });
    failsWith(img.subarray(0, 4000), /smaller than the 4096-byte geometry block/);
    failsWith(img.subarray(0, img.length - 10), /ends before its tables/);
    const v9 = Buffer.from(img);
    v9.writeUInt16LE(9, H + 4);
    failsWith(resealSuperEmpty(v9), /incompatible metadata version 9\.0/);
    const entry = Buffer.from(img);
    entry.writeUInt32LE(56, H + 88); // partitions entry_size
    failsWith(resealSuperEmpty(entry), /partitions table .* outside|invalid partitions table entry size 56/);
    const attrs = superEmpty({ superSize: 32 * MiB, partitions: ['system'], attributes: 0x4 }); // UPDATED needs 10.1
    failsWith(attrs, /partition "system" has invalid attributes 0x00000004/);
    expect(parseSuperEmpty(superEmpty({ superSize: 32 * MiB, partitions: ['system'], attributes: 0x4, minor: 1 })).partitions[0]?.attributes).toBe(4);
  });
});

describe('update-super on the simulator', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });
  const spec = 'fastboot:UPSUP?partitions=boot:1M,super:32M,system:2M,vendor:1M&logical=system,vendor&slots=1&max-download=1M&reboot-delay=10ms';

  it('fails from the bootloader, as a real bootloader does, and changes nothing', async () => {
    h = await makeHarness(spec);
    expect((await h.download(superEmpty({ superSize: 32 * MiB, partitions: ['product'], slots: true }))).status).toBe('OKAY');
    const r = await h.cmd('update-super:super:wipe');
    expect(r.status).toBe('FAIL');
    expect(r.text).toMatch(/unknown command update-super.*fastbootd/);
    expect(h.dev.partitions.filter((p) => p.logical).map((p) => p.name).sort()).toEqual(['system_a', 'system_b', 'vendor_a', 'vendor_b']);
  });

  it('with :wipe replaces the logical partitions by the ones the image names, each empty', async () => {
    h = await makeHarness(`${spec}&mode=fastbootd`);
    await h.cmd('resize-logical-partition:system_b:8192');
    expect((await h.download(superEmpty({ superSize: 32 * MiB, partitions: ['system', 'product'], slots: true }))).status).toBe('OKAY');
    const r = await h.cmd('update-super:super:wipe');
    expect(r).toMatchObject({ status: 'OKAY', text: 'Successfully flashed partition table' });
    const logical = h.dev.partitions.filter((p) => p.logical);
    expect(logical.map((p) => `${p.name}=${p.size}`).sort()).toEqual(['product_a=0', 'product_b=0', 'system_a=0', 'system_b=0']);
    expect((await h.cmd('getvar:partition-size:vendor_a')).status).toBe('FAIL');
    expect((await h.cmd('getvar:is-logical:product_b')).text).toBe('yes');
    // A new partition is written after a resize, as a host does it.
    expect((await h.cmd('resize-logical-partition:product_a:4096')).status).toBe('OKAY');
    expect((await h.flash('product_a', Buffer.alloc(4096, 7))).status).toBe('OKAY');
  });

  it('without :wipe keeps the other slot\'s partitions and their contents, replacing the current slot\'s', async () => {
    h = await makeHarness(`${spec}&mode=fastbootd`);
    await h.cmd('resize-logical-partition:system_b:4096');
    expect((await h.flash('system_b', Buffer.alloc(4096, 9))).status).toBe('OKAY');
    await h.cmd('resize-logical-partition:system_a:4096');
    await h.download(superEmpty({ superSize: 32 * MiB, partitions: ['system', 'product'], slots: true }));
    expect(await h.cmd('update-super:super')).toMatchObject({ status: 'OKAY', text: 'Successfully updated partition table' });
    const sizes = Object.fromEntries(h.dev.partitions.filter((p) => p.logical).map((p) => [p.name, p.size]));
    expect(sizes).toEqual({ system_b: 4096, vendor_b: 1 * MiB, system_a: 0, product_a: 0, product_b: 0 });
    expect((await h.cmd('fetch:system_b:0:4096')).status).toBe('DATA');
  });

  it('gives SLOT_SUFFIXED partitions the current slot\'s suffix, and refuses a locked device', async () => {
    h = await makeHarness(`${spec}&mode=fastbootd`);
    await h.download(superEmpty({ superSize: 32 * MiB, partitions: ['system', 'odm'], attributes: 0x3 }));
    expect((await h.cmd('update-super:super:wipe')).status).toBe('OKAY');
    expect(h.dev.partitions.filter((p) => p.logical).map((p) => p.name)).toEqual(['system_a', 'odm_a']);
    expect((await h.cmd('flashing lock')).status).toBe('OKAY');
    await h.download(superEmpty({ superSize: 32 * MiB, partitions: ['system'], slots: true }));
    expect(await h.cmd('update-super:super:wipe')).toMatchObject({ status: 'FAIL', text: 'Command not available on locked devices' });
  });

  it('fails with a clear message on a corrupt image, a wrong super size or an unknown super name', async () => {
    h = await makeHarness(`${spec}&mode=fastbootd`);
    const good = superEmpty({ superSize: 32 * MiB, partitions: ['system'], slots: true });
    const bad = Buffer.from(good);
    bad[100] = 1; // inside the zero padding of the geometry block: harmless
    bad[H + 200] = (bad[H + 200] ?? 0) ^ 1; // in the tables
    await h.download(bad);
    const r = await h.cmd('update-super:super:wipe');
    expect(r.status).toBe('FAIL');
    expect(r.text).toMatch(/^Data is not a valid logical partition metadata image: invalid metadata tables checksum/);
    await h.download(superEmpty({ superSize: 16 * MiB, partitions: ['system'], slots: true }));
    expect((await h.cmd('update-super:super:wipe')).text).toMatch(/size mismatch \(metadata says 16777216 bytes, super is 33554432\)/);
    await h.download(good);
    expect((await h.cmd('update-super:super_x')).text).toMatch(/Cannot find super_x/);
    expect(h.dev.partitions.filter((p) => p.logical).map((p) => p.name).sort()).toEqual(['system_a', 'system_b', 'vendor_a', 'vendor_b']);
  });
});
