// A test double device for the core: a Family that really writes image bytes into partition files, at a modelled
// link speed, passing the job's gate and throttle like a real driver. Its provider attaches and detaches on demand.
import { open, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FlashError } from '../../../src/core/errors.js';
import type { Candidate, Family, JobContext, PlanStep, SerialCandidate } from '../../../src/contracts/family.js';
import type { DeviceLink, Transport } from '../../../src/contracts/links.js';
import type { CandidateProvider, CandidateSink } from '../../../src/contracts/provider.js';

export interface FileDeviceSpec {
  id: string;
  dir: string;
  partitions: Record<string, number>;
  /** Modelled link speed in bytes/s (sleeps for what the bytes would take). */
  speed?: number;
  /** Fail with a transient error this many times after ~half the data of a flash. */
  transientFailures?: number;
  product?: string;
  /** A reboot detaches the device and attaches it again after this many ms. */
  rebootMs?: number;
  /** A cancel mid-flash ends as a fastboot download that could not be finished: the error says where it stopped. */
  halfSentOnCancel?: boolean;
}

const TRANSFER = 256 * 1024;

function link(id: string): DeviceLink & { id: string } {
  return {
    id,
    open: async (): Promise<Transport> => {
      throw new FlashError('internal', 'the file device has no transport');
    },
    close: async () => undefined,
  };
}

export class FileDeviceProvider implements CandidateProvider {
  readonly name = 'file-devices';
  private sink: CandidateSink | undefined;
  readonly specs = new Map<string, FileDeviceSpec>();
  readonly failuresLeft = new Map<string, number>();
  /** Devices whose flash waits at the pause gate: a paused job stands still from the moment its device is here. */
  readonly parked = new Set<string>();
  /** The family that claims these devices: pass it to createStation's `families`. */
  readonly family: Family<DeviceLink>;

  constructor(specs: FileDeviceSpec[] = []) {
    for (const s of specs) this.specs.set(s.id, s);
    this.family = makeFamily(this);
  }

  async start(sink: CandidateSink): Promise<void> {
    this.sink = sink;
    for (const s of this.specs.values()) await this.plug(s);
  }

  async stop(): Promise<void> {
    this.sink = undefined;
  }

  async plug(spec: FileDeviceSpec): Promise<void> {
    this.specs.set(spec.id, spec);
    this.failuresLeft.set(spec.id, spec.transientFailures ?? 0);
    for (const [name, size] of Object.entries(spec.partitions)) {
      const path = join(spec.dir, `${spec.id}-${name}.img`);
      await writeFile(path, '', { flag: 'a' });
      await truncate(path, size);
    }
    this.sink?.offer(this.candidate(spec));
  }

  unplug(id: string): void {
    this.sink?.withdraw(`file:${id}`);
  }

  specOfLink(l: DeviceLink): FileDeviceSpec | undefined {
    return this.specs.get((l as DeviceLink & { id?: string }).id ?? '');
  }

  partitionFile(id: string, name: string): string {
    const spec = this.specs.get(id);
    if (!spec) throw new Error(`no device ${id}`);
    return join(spec.dir, `${spec.id}-${name}.img`);
  }

  candidate(spec: FileDeviceSpec): SerialCandidate {
    return { kind: 'serial', key: `file:${spec.id}`, transport: 'sim', path: spec.id, port: `port-${spec.id}`, serial: spec.id, protocol: 'fastboot', manufacturer: 'file-device' };
  }
}

function makeFamily(provider: FileDeviceProvider): Family<DeviceLink> {
  return {
    protocol: 'fastboot',
    title: 'File device',
    targets: ['partition'],
    match: (c: Candidate) => (c.kind === 'serial' && c.manufacturer === 'file-device' ? 100 : undefined),
    connect: (c: Candidate) => link(c.serial ?? ''),
    async probe(l: DeviceLink) {
      const spec = provider.specOfLink(l);
      return {
        name: `File device ${spec?.id ?? ''}`,
        info: { product: spec?.product ?? 'filedev' },
        partitions: Object.entries(spec?.partitions ?? {}).map(([name, size]) => ({ name, size })),
      };
    },
    async run(_link: DeviceLink, step: PlanStep, ctx: JobContext): Promise<void> {
      const spec = provider.specs.get(ctx.deviceId);
      if (!spec) throw new FlashError('device_not_found', 'gone');
      const partition = 'target' in step && 'partition' in step.target ? step.target.partition : '';
      if (step.op === 'flash') return flash(provider, spec, partition, step.source, ctx);
      if (step.op === 'erase') return truncate(provider.partitionFile(spec.id, partition), 0);
      if (step.op === 'reboot') {
        ctx.log('info', 'rebooting');
        provider.unplug(spec.id);
        setTimeout(() => void provider.plug(spec), spec.rebootMs ?? 200);
        return;
      }
      if (step.op === 'command' && step.name === 'getvar') {
        ctx.log('info', `${String((step.args as { name?: string } | undefined)?.name)}: filedev`);
        return;
      }
      throw new FlashError('bad_request', `the file device cannot ${step.op}`);
    },
  };
}

async function flash(
  provider: FileDeviceProvider,
  spec: FileDeviceSpec,
  partition: string,
  source: Extract<PlanStep, { op: 'flash' }>['source'],
  ctx: JobContext,
): Promise<void> {
  if (partition === 'locked') throw new FlashError('device_rejected', 'Partition locked is write-protected — unlock the bootloader first.');
  const size = spec.partitions[partition];
  if (size === undefined) throw new FlashError('partition_not_found', `no partition ${partition}`);
  const fh = await open(provider.partitionFile(spec.id, partition), 'r+');
  let moved = 0;
  try {
    for await (const chunk of source.chunks(ctx.signal)) {
      if (chunk.kind === 'skip') continue;
      if (chunk.kind === 'fill') {
        const word = Buffer.alloc(4);
        word.writeUInt32LE(chunk.value >>> 0);
        await fh.write(Buffer.alloc(chunk.length, word), 0, chunk.length, chunk.offset);
        continue;
      }
      for (let off = 0; off < chunk.bytes.length; off += TRANSFER) {
        provider.parked.add(spec.id);
        try {
          await ctx.gate.pass(ctx.signal);
        } finally {
          provider.parked.delete(spec.id);
        }
        if (ctx.signal.aborted) throw ctx.signal.reason;
        const piece = chunk.bytes.subarray(off, off + TRANSFER);
        await ctx.throttle.take(piece.length, ctx.signal);
        if (spec.speed) await new Promise((r) => setTimeout(r, (piece.length / spec.speed!) * 1000));
        await fh.write(piece, 0, piece.length, chunk.offset + off);
        ctx.moved(piece.length);
        moved += piece.length;
        const left = provider.failuresLeft.get(spec.id) ?? 0;
        if (left > 0 && moved >= source.dataBytes / 2) {
          provider.failuresLeft.set(spec.id, left - 1);
          throw new FlashError('disconnected', 'USB connection lost mid-transfer', { transient: true });
        }
      }
    }
  } catch (e) {
    if (ctx.signal.aborted && spec.halfSentOnCancel) {
      throw new FlashError('cancelled', `Cancelled — the download of ${partition} was left half-sent at byte ${moved} of ${source.dataBytes} (device stopped answering); reboot the device into fastboot before using it again`);
    }
    throw e;
  } finally {
    await fh.close();
  }
}
