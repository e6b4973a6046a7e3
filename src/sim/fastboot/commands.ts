// The fastboot command set of the simulated device: what each command does and how it answers.
import { setTimeout as sleep } from 'node:timers/promises';
import type { SimPartition } from './config.js';
import type { SimSession } from './connection.js';
import type { FastbootSimDevice } from './device.js';
import type { ByteReader } from './download-store.js';
import type { PartitionFile } from './partition-store.js';
import { isSparse, parseSparse, SparseError } from './sparse.js';
import { updateSuper } from './update-super.js';
import { allVariables, getVar, visiblePartitions } from './variables.js';

type Dev = FastbootSimDevice;

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');
const COPY_PIECE = 4 * 1024 * 1024;

/** Run one command (already received whole) and queue its responses. */
export async function runCommand(dev: Dev, s: SimSession, bytes: Uint8Array): Promise<void> {
  const limit = dev.mode === 'fastbootd' ? 4096 : 64;
  if (bytes.length > limit) {
    dev.reply(s, 'FAIL', `command too long (${bytes.length} bytes; this ${dev.mode} takes at most ${limit})`);
    return;
  }
  const text = Buffer.from(bytes).toString('latin1');
  dev.logCommand(text);
  if (/[^\x20-\x7e]/.test(text)) {
    dev.reply(s, 'FAIL', 'command is not printable ASCII');
    return;
  }
  if (dev.commandFaultFires(text, 'stallCommand')) {
    s.stall();
    return;
  }
  if (dev.commandFaultFires(text)) {
    dev.reply(s, 'FAIL', `simulated failure of "${text}" (fail-command)`);
    return;
  }
  const colon = text.indexOf(':');
  const space = text.indexOf(' ');
  const verb = colon >= 0 ? text.slice(0, colon) : space >= 0 ? text.slice(0, space) : text;
  const arg = colon >= 0 ? text.slice(colon + 1) : space >= 0 ? text.slice(space + 1) : '';
  const handler = Object.hasOwn(COMMANDS, verb) ? COMMANDS[verb] : undefined;
  if (!handler) {
    dev.reply(s, 'FAIL', `unknown command ${verb}`);
    return;
  }
  await handler(dev, s, arg);
}

type Handler = (dev: Dev, s: SimSession, arg: string) => void | Promise<void>;

/** A name as the host sends it: exact, or a slotted partition's base name meaning the current slot. */
function resolvePartition(dev: Dev, name: string): SimPartition | undefined {
  const all = dev.partitions;
  const exact = all.find((p) => p.name === name);
  if (exact) return exact;
  return dev.slots ? all.find((p) => p.name === `${name}_${dev.currentSlot}`) : undefined;
}

/** Partition for flash/erase, or a FAIL already sent. */
function writablePartition(dev: Dev, s: SimSession, name: string): SimPartition | undefined {
  if (!name) {
    dev.reply(s, 'FAIL', 'missing partition name');
    return undefined;
  }
  const p = resolvePartition(dev, name);
  if (!p) {
    dev.reply(s, 'FAIL', `partition "${name}" does not exist`);
    return undefined;
  }
  if (p.logical && dev.mode !== 'fastbootd') {
    dev.reply(s, 'FAIL', `${p.name} is a logical partition: reboot to fastbootd (fastboot reboot fastboot) to write it`);
    return undefined;
  }
  if (!dev.unlocked) {
    dev.reply(s, 'FAIL', 'Flashing is not allowed in Lock State');
    return undefined;
  }
  return p;
}

async function flash(dev: Dev, s: SimSession, name: string): Promise<void> {
  const p = writablePartition(dev, s, name);
  if (!p) return;
  if (dev.downloads.size === undefined) {
    dev.reply(s, 'FAIL', 'no image downloaded: send download:SIZE first');
    return;
  }
  const image = dev.downloads.reader();
  const file = dev.store.get(p.name);
  if (!file) {
    dev.reply(s, 'FAIL', `partition "${p.name}" has no backing file`);
    return;
  }
  if (await isSparse(image)) {
    let sparse;
    try {
      sparse = await parseSparse(image);
    } catch (e) {
      if (e instanceof SparseError) {
        dev.reply(s, 'FAIL', `invalid sparse image: ${e.message}`);
        return;
      }
      throw e;
    }
    if (sparse.size > file.size) {
      dev.reply(s, 'FAIL', `sparse image expands to ${sparse.size} bytes, larger than partition ${p.name} (${file.size} bytes)`);
      return;
    }
    let written = 0;
    try {
      for (const op of sparse.ops) {
        if (op.kind === 'raw') await copy(image, op.at, op.length, file, op.offset);
        else if (op.kind === 'fill' && op.value === 0) file.zeroLater(op.offset, op.length);
        else if (op.kind === 'fill') await file.fill(op.offset, op.length, op.value);
        if (op.kind !== 'skip') written += op.length;
      }
    } finally {
      await file.flushZeros(); // one spawned shell punches every zero run of the image
    }
    await flashTime(dev, written);
  } else {
    if (image.size > file.size) {
      dev.reply(s, 'FAIL', `image is ${image.size} bytes, larger than partition ${p.name} (${file.size} bytes)`);
      return;
    }
    await copy(image, 0, image.size, file, 0);
    await flashTime(dev, image.size);
  }
  dev.stats.flashes++;
  dev.reply(s, 'OKAY');
}

/** Stream `length` bytes of the download at `at` into the partition at `offset`, a window at a time. */
async function copy(image: ByteReader, at: number, length: number, file: PartitionFile, offset: number): Promise<void> {
  for (let done = 0; done < length; ) {
    const piece = await image.read(at + done, Math.min(COPY_PIECE, length - done));
    if (!piece.length) throw new Error('download shorter than expected');
    await file.write(offset + done, piece);
    done += piece.length;
  }
}

/** `flash-speed`: a real device's flash takes time; hosts must wait for it. */
async function flashTime(dev: Dev, bytes: number): Promise<void> {
  const rate = dev.config.flashBytesPerSecond;
  if (rate > 0 && bytes > 0) await sleep((bytes * 1000) / rate);
}

async function erase(dev: Dev, s: SimSession, name: string): Promise<void> {
  const p = writablePartition(dev, s, name);
  if (!p) return;
  await dev.store.get(p.name)?.erase();
  dev.stats.erases++;
  dev.reply(s, 'OKAY');
}

async function download(dev: Dev, s: SimSession, arg: string): Promise<void> {
  if (!/^[0-9a-fA-F]{8}$/.test(arg)) {
    dev.reply(s, 'FAIL', `download needs exactly 8 hex digits (got "${arg}")`);
    return;
  }
  const size = Number.parseInt(arg, 16);
  if (size === 0) {
    dev.reply(s, 'FAIL', 'download of 0 bytes');
    return;
  }
  if (size > dev.maxDownloadSize) {
    dev.reply(s, 'FAIL', `data too large: ${size} bytes > max-download-size ${dev.maxDownloadSize}`);
    return;
  }
  await dev.beginDownload(s, size);
  dev.reply(s, 'DATA', hex8(size));
}

function sendData(dev: Dev, s: SimSession, data: Uint8Array): void {
  dev.reply(s, 'DATA', hex8(data.length));
  s.send(data);
  dev.reply(s, 'OKAY');
}

function upload(dev: Dev, s: SimSession): void {
  const data = dev.staged;
  if (!data?.length) {
    dev.reply(s, 'FAIL', 'no data staged for upload');
    return;
  }
  dev.staged = undefined;
  sendData(dev, s, data);
}

/** `fetch:NAME[:OFFSET[:SIZE]]` (numbers decimal or 0x hex): read a partition back. */
async function fetch(dev: Dev, s: SimSession, arg: string): Promise<void> {
  const [name = '', offText, sizeText] = arg.split(':');
  const p = resolvePartition(dev, name);
  const file = p && dev.store.get(p.name);
  if (!p || !file || (p.logical && dev.mode !== 'fastbootd')) {
    dev.reply(s, 'FAIL', `partition "${name}" does not exist`);
    return;
  }
  const num = (t: string | undefined, dflt: number): number => (t === undefined || t === '' ? dflt : Number(t));
  const offset = num(offText, 0);
  const size = num(sizeText, file.size - offset);
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(size) || offset < 0 || size <= 0 || offset + size > file.size) {
    dev.reply(s, 'FAIL', `fetch range ${offText ?? ''}:${sizeText ?? ''} is outside ${p.name} (${file.size} bytes)`);
    return;
  }
  if (size > dev.maxDownloadSize) {
    dev.reply(s, 'FAIL', `fetch of ${size} bytes exceeds max-download-size ${dev.maxDownloadSize}`);
    return;
  }
  sendData(dev, s, await file.read(offset, size));
}

function getvar(dev: Dev, s: SimSession, arg: string): void {
  const [name = '', ...args] = arg.split(':');
  if (!name) {
    dev.reply(s, 'FAIL', 'missing variable name');
    return;
  }
  if (name === 'all') {
    for (const line of allVariables(dev)) dev.reply(s, 'INFO', line);
    dev.reply(s, 'OKAY');
    return;
  }
  const r = getVar(dev, name, args);
  dev.reply(s, r.ok ? 'OKAY' : 'FAIL', r.ok ? r.value : r.message);
}

function setActive(dev: Dev, s: SimSession, arg: string): void {
  if (!dev.slots) {
    dev.reply(s, 'FAIL', 'Device does not support slots');
    return;
  }
  const slot = arg.replace(/^_/, '');
  if (slot !== 'a' && slot !== 'b') {
    dev.reply(s, 'FAIL', `Invalid slot "${arg}" (this device has slots a and b)`);
    return;
  }
  dev.setActiveSlot(slot);
  dev.reply(s, 'OKAY');
}

function requireFastbootd(dev: Dev, s: SimSession, command: string): boolean {
  if (dev.mode === 'fastbootd') return true;
  dev.reply(s, 'FAIL', `unknown command ${command} (logical partitions are handled by fastbootd: fastboot reboot fastboot)`);
  return false;
}

function superSpaceLeft(dev: Dev, except: string): number {
  const sup = dev.partitions.find((p) => p.name === 'super');
  if (!sup) return Number.MAX_SAFE_INTEGER;
  const used = dev.partitions.filter((p) => p.logical && p.name !== except).reduce((n, p) => n + p.size, 0);
  return sup.size - used;
}

function parseCount(text: string | undefined): number | undefined {
  if (text === undefined || !/^(0x[0-9a-f]+|\d+)$/i.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

async function resizeLogical(dev: Dev, s: SimSession, arg: string): Promise<void> {
  if (!requireFastbootd(dev, s, 'resize-logical-partition')) return;
  const [name = '', sizeText] = arg.split(':');
  const size = parseCount(sizeText);
  const p = dev.partitions.find((q) => q.name === name && q.logical);
  if (!p) return dev.reply(s, 'FAIL', `"${name}" is not a logical partition`);
  if (size === undefined) return dev.reply(s, 'FAIL', `invalid size "${sizeText ?? ''}"`);
  if (size > superSpaceLeft(dev, p.name)) return dev.reply(s, 'FAIL', `not enough space in super for ${p.name} (${size} bytes)`);
  await dev.store.get(p.name)?.resize(size);
  dev.resizePartition(p.name, size);
  dev.reply(s, 'OKAY');
}

async function createLogical(dev: Dev, s: SimSession, arg: string): Promise<void> {
  if (!requireFastbootd(dev, s, 'create-logical-partition')) return;
  const [name = '', sizeText] = arg.split(':');
  const size = parseCount(sizeText);
  if (!/^[A-Za-z0-9_.-]{1,36}$/.test(name)) return dev.reply(s, 'FAIL', `invalid partition name "${name}"`);
  if (dev.partitions.some((p) => p.name === name)) return dev.reply(s, 'FAIL', `partition "${name}" already exists`);
  if (size === undefined) return dev.reply(s, 'FAIL', `invalid size "${sizeText ?? ''}"`);
  if (size > superSpaceLeft(dev, name)) return dev.reply(s, 'FAIL', `not enough space in super for ${name} (${size} bytes)`);
  await dev.store.add(name, size);
  const slot = /_([ab])$/.exec(name)?.[1] as 'a' | 'b' | undefined;
  dev.addPartition({ name, base: slot ? name.slice(0, -2) : name, size, type: 'raw', logical: true, ...(slot ? { slot } : {}) });
  dev.reply(s, 'OKAY');
}

async function deleteLogical(dev: Dev, s: SimSession, arg: string): Promise<void> {
  if (!requireFastbootd(dev, s, 'delete-logical-partition')) return;
  const p = dev.partitions.find((q) => q.name === arg && q.logical);
  if (!p) return dev.reply(s, 'FAIL', `"${arg}" is not a logical partition`);
  await dev.store.remove(p.name);
  dev.removePartition(p.name);
  dev.reply(s, 'OKAY');
}

function oem(dev: Dev, s: SimSession, arg: string): void {
  const cmd = arg.trim();
  switch (cmd) {
    case 'device-info':
      dev.reply(s, 'INFO', 'Verity mode: true');
      dev.reply(s, 'INFO', `Device unlocked: ${dev.unlocked}`);
      dev.reply(s, 'INFO', `Device critical unlocked: ${dev.unlocked}`);
      dev.reply(s, 'INFO', 'Charger screen enabled: false');
      dev.reply(s, 'INFO', `Serial number: ${dev.serial}`);
      dev.reply(s, 'INFO', `Partitions: ${visiblePartitions(dev).length}`);
      return dev.reply(s, 'OKAY');
    case 'help':
      for (const line of ['oem device-info', 'oem log (stage the command log; fetch it with get_staged)', 'oem text MESSAGE (answer with a TEXT packet)', 'oem unlock', 'oem lock']) {
        dev.reply(s, 'INFO', line);
      }
      return dev.reply(s, 'OKAY');
    case 'log':
      dev.staged = Buffer.from(dev.commandLog.join('\n') + '\n', 'latin1');
      dev.reply(s, 'INFO', `staged ${dev.staged.length} bytes: read them with upload (fastboot get_staged FILE)`);
      return dev.reply(s, 'OKAY');
    case 'unlock':
    case 'lock':
      dev.unlocked = cmd === 'unlock';
      return dev.reply(s, 'OKAY');
    default:
      if (cmd.startsWith('text ')) {
        // TEXT (newer protocol): printed raw by hosts that know it. Only on request: AOSP fastboot 29 does not.
        dev.reply(s, 'TEXT', cmd.slice(5));
        return dev.reply(s, 'OKAY');
      }
      return dev.reply(s, 'FAIL', `unknown oem command "${cmd}"`);
  }
}

function flashing(dev: Dev, s: SimSession, arg: string): void {
  switch (arg.trim()) {
    case 'unlock':
    case 'unlock_critical':
      dev.unlocked = true;
      return dev.reply(s, 'OKAY');
    case 'lock':
    case 'lock_critical':
      dev.unlocked = false;
      return dev.reply(s, 'OKAY');
    case 'get_unlock_ability':
      dev.reply(s, 'INFO', 'get_unlock_ability: 1');
      return dev.reply(s, 'OKAY');
    default:
      return dev.reply(s, 'FAIL', `unknown flashing command "${arg}"`);
  }
}

/** Says OKAY and reboots; synchronous, so `boot` can end with it. */
function rebootTo(mode: 'bootloader' | 'fastbootd', reason: 'reboot' | 'powerdown' = 'reboot'): (dev: Dev, s: SimSession) => void {
  return (dev, s) => {
    dev.reply(s, 'OKAY');
    dev.reboot(s, mode, reason);
  };
}

const COMMANDS: Record<string, Handler> = {
  getvar,
  download,
  upload: (dev, s) => upload(dev, s),
  fetch,
  flash,
  erase,
  set_active: setActive,
  oem,
  flashing,
  'resize-logical-partition': resizeLogical,
  'create-logical-partition': createLogical,
  'delete-logical-partition': deleteLogical,
  'update-super': updateSuper,
  reboot: rebootTo('bootloader'),
  'reboot-bootloader': rebootTo('bootloader'),
  'reboot-fastboot': rebootTo('fastbootd'),
  'reboot-recovery': rebootTo('bootloader'),
  continue: rebootTo('bootloader'),
  powerdown: rebootTo('bootloader', 'powerdown'),
  boot: (dev, s) => {
    if (dev.downloads.size === undefined) return dev.reply(s, 'FAIL', 'no image downloaded: send download:SIZE first');
    rebootTo('bootloader')(dev, s);
  },
};
