import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import type { SimFaults } from '../../../../src/contracts/simulator.js';
import { chipPersonality } from '../../../../src/sim/esp/chips.js';
import { dataChecksum, md5, OP } from '../../../../src/sim/esp/commands.js';
import { EspSimDevice, type ResetWiring } from '../../../../src/sim/esp/device.js';
import { FlashStore } from '../../../../src/sim/esp/flash-store.js';
import { SlipDecoder, slipEncode } from '../../../../src/sim/esp/slip.js';

const u32 = (...ns: number[]): Uint8Array => {
  const out = new Uint8Array(ns.length * 4);
  ns.forEach((n, i) => new DataView(out.buffer).setUint32(i * 4, n >>> 0, true));
  return out;
};

function command(op: number, data: Uint8Array, chk = 0): Uint8Array {
  const out = new Uint8Array(8 + data.length);
  out[1] = op;
  new DataView(out.buffer).setUint16(2, data.length, true);
  new DataView(out.buffer).setUint32(4, chk, true);
  out.set(data, 8);
  return slipEncode(out);
}

const dataCmd = (op: number, seq: number, payload: Uint8Array): Uint8Array =>
  command(op, Uint8Array.from([...u32(payload.length, seq, 0, 0), ...payload]), dataChecksum(payload));

describe('simulated ESP loader', () => {
  let dir = '';
  let flash: FlashStore | undefined;
  afterEach(async () => {
    await flash?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function device(chip = 'esp32', faults: SimFaults = {}, wiring: ResetWiring = 'none') {
    dir = mkdtempSync(join(tmpdir(), 'fs-espdev-'));
    flash = await FlashStore.open(dir, 0x100000);
    const dev = new EspSimDevice({ chip: chipPersonality(chip), flash, mac: Uint8Array.from([1, 2, 3, 4, 5, 6]), wiring, faults });
    const frames: Uint8Array[] = [];
    const dec = new SlipDecoder();
    const text: string[] = [];
    dev.on({
      output: (b) => {
        text.push(Buffer.from(b).toString('latin1'));
        frames.push(...dec.push(b));
      },
    });
    const send = async (bytes: Uint8Array): Promise<Uint8Array[]> => {
      frames.length = 0;
      dev.receive(bytes);
      await dev.idle();
      return [...frames];
    };
    return { dev, send, text };
  }

  it('answers SYNC eight times in the ROM, with 4 status bytes on ESP32 and 2 on ESP8266', async () => {
    const { send } = await device('esp32');
    const sync = command(OP.SYNC, Uint8Array.from([7, 7, 0x12, 0x20, ...new Array<number>(32).fill(0x55)]));
    const r = await send(sync);
    expect(r).toHaveLength(8);
    expect(Buffer.from(r[0] ?? []).toString('hex')).toBe('010804000707122000000000');
    const e = await device('esp8266');
    expect((await e.send(sync))[0]?.length).toBe(10);
  });

  it('answers a command its ROM lacks with invalid-message frames under another op', async () => {
    const { send } = await device('esp32');
    const r = await send(command(OP.GET_SECURITY_INFO, new Uint8Array(0)));
    expect(r.length).toBe(8);
    expect(r[0]?.[1]).not.toBe(OP.GET_SECURITY_INFO);
    expect([r[0]?.[8], r[0]?.[9]]).toEqual([1, 5]);
  });

  it('writes plain and deflated data, answers MD5 as hex in the ROM', async () => {
    const { send } = await device('esp32');
    const data = Uint8Array.from({ length: 0x1800 }, (_, i) => (i * 7) & 0xff);
    await send(command(OP.FLASH_BEGIN, u32(0x1800, 2, 0x1000, 0x4000, 0)));
    expect((await send(dataCmd(OP.FLASH_DATA, 0, data.subarray(0, 0x1000))))[0]?.[8]).toBe(0);
    await send(dataCmd(OP.FLASH_DATA, 1, data.subarray(0x1000)));
    const z = deflateSync(data);
    await send(command(OP.FLASH_DEFL_BEGIN, u32(0x2000, 1, 0x4000, 0x8000, 0)));
    expect((await send(dataCmd(OP.FLASH_DEFL_DATA, 0, z)))[0]?.[8]).toBe(0);
    const md = await send(command(OP.SPI_FLASH_MD5, u32(0x8000, data.length, 0, 0)));
    expect(new TextDecoder().decode(md[0]?.subarray(8, 40))).toBe(Buffer.from(md5(data)).toString('hex'));
    expect(Buffer.from(flash?.read(0x4000, data.length) ?? []).equals(Buffer.from(data))).toBe(true);
  });

  it('refuses a data block with a bad checksum, and fails the named command (fail-command)', async () => {
    const { send } = await device('esp32', { failCommand: 'FLASH_BEGIN' });
    const bad = command(OP.FLASH_DATA, Uint8Array.from([...u32(4, 0, 0, 0), 1, 2, 3, 4]), 0);
    expect((await send(bad))[0]?.[9]).toBe(0x07);
    expect((await send(command(OP.FLASH_BEGIN, u32(0x1000, 1, 0x1000, 0, 0))))[0]?.[8]).toBe(1);
  });

  it('enters the stub after MEM_END and says OHAI; resets into the ROM through DTR/RTS on a classic board', async () => {
    const { dev, send, text } = await device('esp32', {}, 'classic');
    dev.setLines({ dtr: false, rts: true });
    expect(dev.mode).toBe('reset');
    dev.setLines({ dtr: true, rts: false });
    expect(dev.mode).toBe('rom');
    expect(text.join('')).toMatch(/waiting for download/);
    await send(command(OP.MEM_BEGIN, u32(64, 1, 0x1800, 0x40080000)));
    await send(dataCmd(OP.MEM_DATA, 0, new Uint8Array(64)));
    const r = await send(command(OP.MEM_END, u32(0, 0x40080010)));
    expect(new TextDecoder().decode(r[1])).toBe('OHAI');
    expect(dev.mode).toBe('stub');
    dev.setLines({ dtr: false, rts: true });
    dev.setLines({ dtr: false, rts: false });
    expect(dev.mode).toBe('app');
  });

  it('follows CHANGE_BAUDRATE after answering at the old rate', async () => {
    const { dev, send } = await device('esp32');
    const bauds: number[] = [];
    dev.on({ baud: (b) => bauds.push(b) });
    await send(command(OP.CHANGE_BAUDRATE, u32(921600, 0)));
    expect(dev.baud).toBe(921600);
    expect(bauds).toEqual([921600]);
  });
});
