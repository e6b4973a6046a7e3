// Intel HEX and S-record files through openImage: counted by their data bytes (not their text), described by format
// and address range, and a damaged record refused when the image is opened, naming the line.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openImage } from '../../../src/images/open.js';
import { writeIntelHex } from '../../../src/images/intel-hex.js';
import { writeSrec } from '../../../src/images/srec.js';

const dir = mkdtempSync(join(tmpdir(), 'fs-addressed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const a = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7) & 0xff);
const b = Uint8Array.from({ length: 300 }, (_, i) => (i * 3 + 1) & 0xff);
const segments = [{ address: 0x0800_0000, bytes: a }, { address: 0x0800_4000, bytes: b }];

async function text(source: Awaited<ReturnType<typeof openImage>>): Promise<string> {
  let out = '';
  for await (const c of source.chunks()) if (c.kind === 'data') out += Buffer.from(c.bytes).toString('latin1');
  return out;
}

describe('openImage on addressed images', () => {
  it.each([
    ['fw.hex', writeIntelHex(segments), 'Intel HEX'],
    ['fw.s37', writeSrec(segments), 'S-record'],
  ])('%s: dataBytes are the records\' data bytes, the chunks its text', async (name, body, label) => {
    const path = join(dir, name);
    writeFileSync(path, body);
    const source = await openImage(path, { hash: false });
    expect(body.length).toBeGreaterThan(2 * (a.length + b.length)); // the text is much larger than the data
    expect(source.dataBytes).toBe(a.length + b.length);
    expect(source.exact).toBe(true);
    expect(source.description).toBe(`${name} (${label}, 5.18 KiB at 0x08000000-0x0800412b, 2 segments)`);
    expect(await text(source)).toBe(body); // drivers read the records themselves
  });

  it.each([
    ['changed.hex', writeIntelHex],
    ['changed.s37', writeSrec],
  ])('%s rewritten after it was opened: unchanged() says so (the job then fails with image_mismatch)', async (name, write) => {
    const path = join(dir, name);
    writeFileSync(path, write(segments));
    const source = await openImage(path);
    await expect(source.unchanged?.()).resolves.toBeUndefined();
    writeFileSync(path, write([{ address: 0x0800_0000, bytes: b }]));
    await expect(source.unchanged?.()).rejects.toMatchObject({ code: 'image_mismatch', message: expect.stringMatching(/changed while it was being flashed/) });
  });

  it('refuses a record with a bad checksum when opened, naming the file and line', async () => {
    const lines = writeIntelHex(segments).split('\n');
    const l = lines[3]!;
    lines[3] = l.slice(0, -2) + ((parseInt(l.slice(-2), 16) + 1) & 0xff).toString(16).padStart(2, '0').toUpperCase();
    const path = join(dir, 'bad.hex');
    writeFileSync(path, lines.join('\n'));
    await expect(openImage(path, { hash: false })).rejects.toMatchObject({ code: 'image_invalid', message: expect.stringMatching(/bad\.hex: line 4: checksum is 0x[0-9A-F]{2}.*damaged/) });
  });

  it('a raw binary is still raw', async () => {
    const path = join(dir, 'app.bin');
    writeFileSync(path, a);
    const source = await openImage(path, { hash: false });
    expect(source.dataBytes).toBe(a.length);
    expect(source.description).not.toMatch(/HEX/);
  });
});
