// `flash-station sim fastboot …`: a standalone simulated fastboot device on real TCP/UDP sockets (contract §1).
import type { SimCli, SimCliIo } from '../../contracts/simulator.js';
import { parseSimFlags, simCliError, simCliLines, simStoreDir, untilStopped } from '../cli-io.js';
import { formatBytes } from '../units.js';
import { defaultSpec } from './config.js';
import { FastbootSimDevice } from './device.js';
import { applySimOption, parsePartitionList } from './spec.js';
import { startTcpFace, type SimSocketServer } from './tcp-face.js';
import { startUdpFace } from './udp-face.js';

export const FASTBOOT_SIM_USAGE = `usage: flash-station sim fastboot (--tcp PORT | --udp PORT)… [options]

A simulated fastboot device that AOSP fastboot and Flash Station flash like a phone.
  --tcp PORT                 serve fastboot over TCP (0 = any free port)
  --udp PORT                 serve fastboot over UDP (0 = any free port)
  --host ADDR                bind address (default 127.0.0.1)
  --serial S                 serial number (default SIM0001)
  --partition NAME=SIZE      a partition, repeatable; NAME=SIZE:TYPE sets partition-type
                             (default boot=64M, system=2G, vendor=512M, userdata=4G)
  --max-download SIZE        reported max-download-size (default 256M)
  --store DIR                partition NAME lives in DIR/NAME.img (default DATA_DIR/sim/SERIAL)
  --data-dir DIR             the station's data dir, for the default store
  --slots                    A/B partitions (NAME_a, NAME_b, current-slot)
  --logical NAME[,NAME…]     logical partitions in super (writable from fastbootd)
  --mode bootloader|fastbootd  start in the bootloader (default) or userspace fastbootd
  --speed BYTES_PER_SECOND   limit ingest to model a real link
  --latency DURATION         turnaround per transfer, e.g. 100us
  --reboot-delay DURATION    time a reboot keeps the device away (default 1s)
  --flash-speed BYTES_PER_SECOND  how fast flash writes the partition (default: disk speed)
  --product NAME             reported product (default flashsim)
  --fail-after BYTES, --disconnect-after BYTES, --stall-after BYTES, --fail-command NAME, --stall-command NAME,
  --repeat-faults
                             fault injection (docs/simulator.md)
Sizes take K, M, G suffixes (powers of 1024) or 0x hex. Prints "listening tcp:HOST:PORT" per socket; stops on
SIGINT/SIGTERM.`;

function parsePort(text: string, flag: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 65535) throw new RangeError(`${flag}: "${text}" is not a port number (0-65535)`);
  return Number(text);
}

/** Run `flash-station sim fastboot` with `argv` after `sim fastboot`. Resolves with the exit status. */
export async function runFastbootSimCli(argv: string[], io: SimCliIo = {}): Promise<number> {
  const { out, err } = simCliLines(io);
  const str = { type: 'string' } as const;
  const multi = { type: 'string', multiple: true } as const;
  const flags = parseSimFlags('fastboot', FASTBOOT_SIM_USAGE, argv, {
    tcp: multi, udp: multi, host: str, serial: str, partition: multi, 'max-download': str, slots: { type: 'boolean' },
    logical: str, mode: str, speed: str, latency: str, 'reboot-delay': str, 'flash-speed': str, product: str,
    'stall-command': str, 'repeat-faults': { type: 'boolean' }, 'udp-packet': str,
  }, { out, err });
  if ('status' in flags) return flags.status;
  const { values } = flags;
  const tcpPorts = values.tcp ?? [];
  const udpPorts = values.udp ?? [];
  let spec;
  try {
    if (!tcpPorts.length && !udpPorts.length) throw new RangeError('give --tcp PORT and/or --udp PORT');
    const serial = values.serial ?? 'SIM0001';
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(serial)) throw new RangeError(`--serial "${serial}" must be 1-64 letters, digits, '.', '_' or '-'`);
    spec = defaultSpec(serial);
    if (values.partition?.length) spec.partitions = parsePartitionList(values.partition.join(','));
    const keys: Array<[string, string | undefined]> = [
      ['max-download', values['max-download']], ['speed', values.speed], ['latency', values.latency],
      ['reboot-delay', values['reboot-delay']], ['flash-speed', values['flash-speed']], ['product', values.product], ['logical', values.logical],
      ['mode', values.mode], ['fail-after', values['fail-after']], ['disconnect-after', values['disconnect-after']],
      ['stall-after', values['stall-after']], ['fail-command', values['fail-command']], ['stall-command', values['stall-command']], ['udp-packet', values['udp-packet']],
    ];
    for (const [k, v] of keys) if (v !== undefined) applySimOption(spec, k, v);
    if (values.slots) spec.slots = true;
    if (values['repeat-faults']) spec.faults.repeat = true;
  } catch (e) {
    err(simCliError('fastboot', e));
    return 2;
  }
  const storeDir = simStoreDir(values.store, values['data-dir'], spec.serial);
  const host = values.host ?? '127.0.0.1';

  let device: FastbootSimDevice;
  const servers: SimSocketServer[] = [];
  try {
    device = await FastbootSimDevice.create({ ...spec, storeDir });
  } catch (e) {
    err(`flash-station sim fastboot: cannot open the partition store ${storeDir}: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
  try {
    for (const p of tcpPorts) servers.push(await startTcpFace(device, { host, port: parsePort(p, '--tcp') }));
    for (const p of udpPorts) servers.push(await startUdpFace(device, { host, port: parsePort(p, '--udp') }));
  } catch (e) {
    err(simCliError('fastboot', e));
    await Promise.all(servers.map((s) => s.close()));
    await device.close();
    return e instanceof RangeError ? 2 : 1;
  }
  const parts = device.partitions.map((p) => `${p.name}=${formatBytes(p.size)}`).join(' ');
  err(`simulated fastboot device ${spec.serial}: ${parts}; max-download-size ${formatBytes(spec.maxDownloadSize)}; store ${storeDir}`);
  for (const s of servers) out(`listening ${s.uri}`);

  await untilStopped(io.signal);
  await Promise.all(servers.map((s) => s.close()));
  await device.close();
  return 0;
}

export const fastbootSimCli: SimCli = { usage: FASTBOOT_SIM_USAGE, run: runFastbootSimCli };
