import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseFlasherArgs, readEspPlan } from '../../../../src/drivers/esp/plan.js';

const ARGS = {
  flash_files: { '0x10000': 'app.bin', '0x1000': 'bootloader/bootloader.bin', '0x8000': 'partition_table/partition-table.bin' },
  extra_esptool_args: { chip: 'esp32', after: 'hard_reset' },
};

describe('flasher_args.json plans', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('orders the files by offset and keeps the chip', () => {
    const p = parseFlasherArgs(JSON.stringify(ARGS), 'x');
    expect(p.files.map((f) => f.address)).toEqual([0x1000, 0x8000, 0x10000]);
    expect(p.chip).toBe('esp32');
    expect(p.reboot).toBe(true);
  });

  it.each([
    ['not json', /not valid JSON/],
    ['{}', /no "flash_files"/],
    ['{"flash_files":{}}', /lists no flash_files/],
    ['{"flash_files":{"zz":"a.bin"}}', /must map a hex offset/],
    ['{"flash_files":{"0x1000":"a.bin","4096":"b.bin"}}', /two files at 0x1000/],
  ])('refuses %s', (text, why) => {
    expect(() => parseFlasherArgs(text, 'f')).toThrow(why);
  });

  it('names where flasher_args.json goes wrong, never its text', () => {
    const place = (text: string): string => {
      try {
        parseFlasherArgs(text, 'f');
      } catch (e) {
        return (e as Error).message;
      }
      return 'parsed';
    };
    const notJson = place('{\n  "api_key": SECRETKEY-XYZ\n}');
    expect(notJson).toMatch(/not valid JSON \(line 2, column 14\)/);
    expect(notJson).not.toMatch(/SECRETKEY|api_key/);
    const badEntry = place('{"flash_files":{"0x1000":"a.bin","SECRETKEY-XYZ":{"token":"hunter2"}}}');
    expect(badEntry).toMatch(/flash_files entry 2 \(its key is not an offset\)/);
    expect(badEntry).not.toMatch(/SECRETKEY|hunter2/);
  });

  it('reads a build folder into flash steps at their addresses, then a hard reset; declines other paths', async () => {
    dir = mkdtempSync(join(tmpdir(), 'fs-espplan-'));
    const build = join(dir, 'build');
    mkdirSync(join(build, 'bootloader'), { recursive: true });
    mkdirSync(join(build, 'partition_table'), { recursive: true });
    writeFileSync(join(build, 'app.bin'), new Uint8Array(100));
    writeFileSync(join(build, 'bootloader/bootloader.bin'), new Uint8Array(50));
    writeFileSync(join(build, 'partition_table/partition-table.bin'), new Uint8Array(0xc00));
    writeFileSync(join(build, 'flasher_args.json'), JSON.stringify(ARGS));
    const plan = await readEspPlan(dir);
    expect(plan?.steps.map((s) => (s.op === 'flash' ? s.target : s.op))).toEqual([{ address: 0x1000 }, { address: 0x8000 }, { address: 0x10000 }, 'reboot']);
    expect(plan?.declaredBytes).toBe(100 + 50 + 0xc00);
    expect(await readEspPlan(join(build, 'app.bin'))).toBeUndefined();
    expect(await readEspPlan(join(dir, 'missing'))).toBeUndefined();
    writeFileSync(join(build, 'flasher_args.json'), JSON.stringify({ flash_files: { '0x0': 'gone.bin' } }));
    await expect(readEspPlan(build)).rejects.toMatchObject({ code: 'image_not_found' });
  });

  it('refuses a flasher_args.json over 1 MiB, and declines one that is not a regular file', async () => {
    dir = mkdtempSync(join(tmpdir(), 'fs-espplan-'));
    const big = join(dir, 'big');
    mkdirSync(big);
    writeFileSync(join(big, 'flasher_args.json'), ' '.repeat((1 << 20) + 1));
    await expect(readEspPlan(big)).rejects.toMatchObject({ code: 'image_invalid', message: expect.stringMatching(/a flasher_args\.json is at most 1048576 bytes/) });
    const fifo = join(dir, 'fifo');
    mkdirSync(fifo);
    execFileSync('mkfifo', [join(fifo, 'flasher_args.json')]);
    await expect(readEspPlan(fifo)).resolves.toBeUndefined();
  });

  it('takes an Arduino/PlatformIO merged binary as one image at 0, and leaves other .bin files alone', async () => {
    dir = mkdtempSync(join(tmpdir(), 'fs-espplan-'));
    const merged = new Uint8Array(0x20000).fill(0xff);
    merged[0x1000] = 0xe9;
    merged.set([0xaa, 0x50], 0x8000);
    writeFileSync(join(dir, 'firmware.merged.bin'), merged);
    const plan = await readEspPlan(join(dir, 'firmware.merged.bin'));
    expect(plan?.steps.map((s) => (s.op === 'flash' ? s.target : s.op))).toEqual([{ address: 0 }, 'reboot']);
    merged[0x8000] = 0xff;
    writeFileSync(join(dir, 'app.bin'), merged);
    expect(await readEspPlan(join(dir, 'app.bin'))).toBeUndefined();
  });
});
