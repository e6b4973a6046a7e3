// DFU files against Debian's dfu-util tools: what dfu-suffix, dfuse-pack and dfu-prefix write we accept (and read as
// they do); what `dfu-suffix -c` rejects we refuse; what we build, they accept. The tools must be installed (CI installs
// dfu-util): a missing tool fails the test, it is never skipped.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { FlashError } from '../../../src/contracts/errors.js';
import { buildDfuseFile, buildDfuSuffix, dfuCrc32, parseDfuFile, type DfuseTarget } from '../../../src/drivers/dfu/file.js';

const dir = mkdtempSync(join(tmpdir(), 'fs-dfu-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const p = (name: string): string => join(dir, name);

interface Run {
  status: number | null;
  out: string;
}

/** Runs one of dfu-util's tools; a tool that is not installed fails the test with what to install. */
function tool(name: 'dfu-suffix' | 'dfu-prefix' | 'dfuse-pack', args: string[]): Run {
  const r = spawnSync(name, args, { cwd: dir, encoding: 'utf8' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error(`${name} is not installed: these tests need Debian's dfu-util package (apt-get install dfu-util), which CI installs`);
  }
  if (r.error) throw r.error;
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** What `dfu-suffix -c` says of a file: its fields when it accepts it, its complaint when it does not. */
function check(file: string): { ok: true; fields: Record<string, number> } | { ok: false; why: string } {
  const r = tool('dfu-suffix', ['-c', file]);
  if (r.status !== 0) return { ok: false, why: r.out.split('\n').filter((l) => l.startsWith('dfu-suffix:')).join(' | ') };
  const fields: Record<string, number> = {};
  for (const m of r.out.matchAll(/^(BCD device|Product ID|Vendor ID|BCD DFU|Length|CRC):\s+(\S+)$/gm)) fields[m[1]!] = Number(m[2]);
  expect(Object.keys(fields)).toHaveLength(6);
  return { ok: true, fields };
}

function firmware(seed: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  let x = seed * 2654435761;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  if (b[0] === 0x44) b[0] = 0; // never "DfuSe" by chance
  return b;
}

function refused(bytes: Uint8Array, name?: string): FlashError {
  try {
    parseDfuFile(bytes, name);
  } catch (e) {
    expect(e).toBeInstanceOf(FlashError);
    expect((e as FlashError).code).toBe('image_invalid');
    return e as FlashError;
  }
  throw new Error(`${name ?? 'the file'} was accepted; dfu-suffix -c rejects it`);
}

describe('files made by dfu-suffix', () => {
  it.each([
    ['-v/-p/-d', ['-v', '1234', '-p', 'abcd', '-d', '0100'], { idVendor: 0x1234, idProduct: 0xabcd, bcdDevice: 0x0100, bcdDFU: 0x0100 }],
    ['-v only (wildcards)', ['-v', '0483'], { idVendor: 0x0483, idProduct: 0xffff, bcdDevice: 0xffff, bcdDFU: 0x0100 }],
    ['-S 011a', ['-v', '0483', '-p', 'df11', '-S', '011a'], { idVendor: 0x0483, idProduct: 0xdf11, bcdDevice: 0xffff, bcdDFU: 0x011a }],
  ])('are accepted with the fields dfu-suffix -c reads (%s)', (_label, args, ids) => {
    const fw = firmware(args.length, 5000);
    writeFileSync(p('s.dfu'), fw);
    expect(tool('dfu-suffix', [...args, '-a', 's.dfu']).status).toBe(0);
    const bytes = readFileSync(p('s.dfu'));
    const f = parseDfuFile(bytes, 's.dfu');
    expect(f.kind).toBe('dfu');
    expect(Buffer.from(f.payload).equals(fw)).toBe(true);
    expect(f.suffix).toMatchObject({ ...ids, length: 16 });
    const c = check('s.dfu');
    if (!c.ok) throw new Error(c.why);
    expect(c.fields).toEqual({
      'BCD device': ids.bcdDevice,
      'Product ID': ids.idProduct,
      'Vendor ID': ids.idVendor,
      'BCD DFU': ids.bcdDFU,
      Length: 16,
      CRC: f.suffix!.crc,
    });
  });

  it('gives the same bytes as our buildDfuSuffix, which dfu-suffix -c accepts and -D strips back to the payload', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 70_000 }),
        fc.integer({ min: 0, max: 0xfffe }),
        fc.integer({ min: 0, max: 0xfffe }),
        fc.integer({ min: 0, max: 0xfffe }),
        (size, vid, pid, did) => {
          const fw = firmware(size, size);
          const ours = buildDfuSuffix(fw, { idVendor: vid, idProduct: pid, bcdDevice: did });
          writeFileSync(p('theirs.dfu'), fw);
          const hex = (n: number): string => n.toString(16);
          expect(tool('dfu-suffix', ['-v', hex(vid), '-p', hex(pid), '-d', hex(did), '-a', 'theirs.dfu']).status).toBe(0);
          expect(Buffer.from(ours).equals(readFileSync(p('theirs.dfu')))).toBe(true);
          writeFileSync(p('ours.dfu'), ours);
          const c = check('ours.dfu');
          if (!c.ok) throw new Error(`dfu-suffix -c rejects our file: ${c.why}`);
          expect(c.fields.CRC).toBe(dfuCrc32(ours.subarray(0, ours.length - 4)));
          expect(tool('dfu-suffix', ['-D', 'ours.dfu']).status).toBe(0);
          expect(readFileSync(p('ours.dfu')).equals(fw)).toBe(true);
        },
      ),
      { numRuns: 8 },
    );
  });
});

describe('files dfu-suffix -c rejects are refused', () => {
  function made(seed: number, size = 3000): Buffer {
    writeFileSync(p('m.dfu'), firmware(seed, size));
    expect(tool('dfu-suffix', ['-v', '1d50', '-p', '6089', '-a', 'm.dfu']).status).toBe(0);
    return readFileSync(p('m.dfu'));
  }

  it.each([0, 1, 1500, 2999, 3000, 3005, 3008, 3011, 3012, 3015])('a damaged byte at offset %i (CRC)', (at) => {
    const bytes = made(at);
    bytes[at] = bytes[at]! ^ 0x21;
    writeFileSync(p('bad.dfu'), bytes);
    const c = check('bad.dfu');
    expect(c.ok).toBe(false);
    const e = refused(bytes, 'bad.dfu');
    if (!c.ok && /CRC does not match/.test(c.why)) expect(e.message).toContain('CRC does not match');
  });

  it.each([1, 2, 3, 4, 5, 8, 12, 15, 16, 17])('a suffix cut short by %i byte(s)', (cut) => {
    const bytes = made(cut).subarray(0, 3016 - cut);
    writeFileSync(p('cut.dfu'), bytes);
    expect(check('cut.dfu').ok).toBe(false);
    refused(bytes, 'cut.dfu');
    if (cut <= 5) refused(bytes); // the cut-off "UFD" gives it away whatever the name
  });

  it('bytes appended after the suffix', () => {
    const bytes = Buffer.concat([made(7), Buffer.alloc(512, 0xff)]);
    writeFileSync(p('pad.dfu'), bytes);
    expect(check('pad.dfu').ok).toBe(false);
    expect(refused(bytes).message).toContain('ends at offset 3016, but 512 more bytes follow it');
  });

  it.each([
    [8, 'Unsupported DFU suffix length'],
    [250, 'Invalid DFU suffix length'],
  ])('a suffix whose bLength is %i (with a matching CRC)', (len, theirs) => {
    const bytes = made(3, 100);
    bytes[bytes.length - 5] = len;
    bytes.writeUInt32LE(dfuCrc32(bytes.subarray(0, bytes.length - 4)), bytes.length - 4);
    writeFileSync(p('len.dfu'), bytes);
    const c = check('len.dfu');
    expect(c.ok).toBe(false);
    if (!c.ok) expect(c.why).toContain(theirs);
    expect(refused(bytes).message).toContain(`bLength is ${len}`);
  });
});

describe('DfuSe files', () => {
  it('made by dfuse-pack are read as it dumps them (targets, alts, addresses, ids)', () => {
    writeFileSync(p('a.bin'), firmware(1, 4000));
    writeFileSync(p('b.bin'), firmware(2, 301));
    writeFileSync(p('c.bin'), firmware(3, 17));
    const r = tool('dfuse-pack', ['-b', '0x08000000:a.bin', '-b', '0x08010000:b.bin', '-b', '0x1fff7800@1:c.bin', '-D', '0x0483:0xdf11', 'pack.dfu']);
    expect(r.status, r.out).toBe(0);
    const bytes = readFileSync(p('pack.dfu'));
    const f = parseDfuFile(bytes, 'pack.dfu');
    expect(f.kind).toBe('dfuse');
    expect(f.suffix).toMatchObject({ idVendor: 0x0483, idProduct: 0xdf11, bcdDFU: 0x011a });
    expect(f.targets.map((t) => [t.alt, t.name, t.elements.map((e) => [e.address, e.data.length])])).toEqual([
      [0, 'ST...', [[0x0800_0000, 4000], [0x0801_0000, 301]]],
      [1, 'ST...', [[0x1fff_7800, 17]]],
    ]);
    expect(Buffer.from(f.targets[0]!.elements[1]!.data).equals(readFileSync(p('b.bin')))).toBe(true);
    expect(check('pack.dfu').ok).toBe(true);
  });

  it('built by us are accepted by dfu-suffix -c and dumped by dfuse-pack to our elements', () => {
    const targets: DfuseTarget[] = [
      { alt: 0, name: 'Internal Flash', elements: [{ address: 0x0800_0000, data: firmware(4, 2048) }, { address: 0x0800_4000, data: firmware(5, 100) }] },
      { alt: 2, name: null, elements: [{ address: 0x1fff_c000, data: firmware(6, 16) }] },
    ];
    writeFileSync(p('ours-se.dfu'), buildDfuseFile(targets, { idVendor: 0x0483, idProduct: 0xdf11 }));
    const c = check('ours-se.dfu');
    if (!c.ok) throw new Error(`dfu-suffix -c rejects our DfuSe file: ${c.why}`);
    expect(c.fields['BCD DFU']).toBe(0x011a);
    for (const old of readdirSync(dir).filter((n) => n.includes('.target'))) rmSync(p(old));
    const r = tool('dfuse-pack', ['-d', 'ours-se.dfu']);
    expect(r.status, r.out).toBe(0);
    expect(r.out).not.toMatch(/ERROR/);
    expect(r.out).toContain('alt setting: 0, name: "b\'Internal Flash\'"');
    expect(r.out).toContain('address: 0x1fffc000, size: 16');
    targets.forEach((t, ti) =>
      t.elements.forEach((e, ei) => expect(readFileSync(p(`ours-se.dfu.target${ti}.image${ei}.bin`)).equals(Buffer.from(e.data))).toBe(true)),
    );
  });

  it('from dfuse-pack, damaged anywhere, are refused (its CRC, then our size checks)', () => {
    writeFileSync(p('d.bin'), firmware(9, 999));
    expect(tool('dfuse-pack', ['-b', '0x08000000:d.bin', 'dmg.dfu']).status).toBe(0);
    const good = readFileSync(p('dmg.dfu'));
    for (const at of [3, 6, 10, 11, 17, 280, 285, 289, 500, good.length - 10, good.length - 1]) {
      const bytes = Buffer.from(good);
      bytes[at] = bytes[at]! ^ 0x08;
      writeFileSync(p('dmg-x.dfu'), bytes);
      expect(check('dmg-x.dfu').ok, `offset ${at}`).toBe(false);
      refused(bytes, 'dmg-x.dfu');
    }
  });
});

describe('files with a dfu-prefix prefix', () => {
  it.each([
    ['TI Stellaris (-s)', ['-s', '0x2000'], 8, [0x01, 0x00, 0x08, 0x00]],
    ['NXP LPC (-L)', ['-L'], 16, [0x1a, 0x3f]],
  ])('are accepted: %s, the prefix stays in the payload as dfu-util sends it', (_label, flags, prefixLength, head) => {
    const fw = firmware(11, 1024);
    writeFileSync(p('pre.dfu'), fw);
    expect(tool('dfu-suffix', ['-v', '1cbe', '-p', '00ff', '-a', 'pre.dfu']).status).toBe(0);
    const r = tool('dfu-prefix', [...flags, '-a', 'pre.dfu']);
    expect(r.status, r.out).toBe(0);
    const bytes = readFileSync(p('pre.dfu'));
    expect(bytes.length).toBe(fw.length + prefixLength + 16);
    expect(check('pre.dfu').ok).toBe(true);
    const f = parseDfuFile(bytes, 'pre.dfu');
    expect(f.kind).toBe('dfu');
    expect(f.suffix).toMatchObject({ idVendor: 0x1cbe, idProduct: 0x00ff });
    expect(Array.from(f.payload.subarray(0, head.length))).toEqual(head);
    expect(Buffer.from(f.payload.subarray(prefixLength)).equals(fw)).toBe(true);
  });
});
