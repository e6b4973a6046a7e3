// The candidate intake: providers offer candidates; every family's match() is asked (cheap, no I/O); only a claimed
// candidate is connected and probed; a device is listed under its serial when unique, else its port key (§2.2).
import { toFlashError } from '../contracts/errors.js';
import type { Candidate, DeviceDescription, Family } from '../contracts/family.js';
import type { Link } from '../contracts/links.js';
import type { CandidateSink } from '../contracts/provider.js';
import type { Device } from '../protocol/messages.js';
import type { AttachedSink } from './registry.js';

export interface IntakeOptions {
  families: readonly Family[];
  /** Bound of a probe of a candidate nobody named (it is then left unclaimed). */
  probeTimeoutMs: number;
  log: (message: string) => void;
}

/** What the intake needs of the registry: its sink, and which device ids are taken or held by a job. */
export interface IntakeRegistry {
  readonly sink: AttachedSink;
  lockedBy(id: string): string | undefined;
}

interface Claim {
  readonly candidate: Candidate;
  /** The family that holds it now; while unnamed candidates are probed, the next one that matched takes over. */
  family: Family;
  link: Link;
  /** Every family that matched, best first (only the named one for a named candidate). */
  readonly ranked: readonly Family[];
  /** The device id while it is listed. */
  id?: string;
  /** A probe in progress (candidates nobody named are probed before they are listed). */
  probing?: AbortController;
}

/** Serials that may become ids: printable, no spaces, at most 64 characters. */
const SERIAL_RE = /^[\x21-\x7e]{1,64}$/;

/**
 * The families that match a candidate, highest `match()` first (ties keep FAMILIES' order); empty when none does (or
 * the user named another). A USB-UART bridge matches both ESP and STM32: the probes decide, in this order.
 */
export function matchingFamilies(families: readonly Family[], candidate: Candidate): Family[] {
  const scored: Array<{ family: Family; score: number }> = [];
  for (const family of families) {
    if (candidate.protocol !== undefined && family.protocol !== candidate.protocol) continue;
    let score: number | undefined;
    try {
      score = family.match(candidate);
    } catch {
      score = undefined; // a family's fault must not stop discovery
    }
    if (score !== undefined) scored.push({ family, score });
  }
  return scored.sort((a, b) => b.score - a.score).map((s) => s.family);
}

/** The family that claims a candidate first: the highest `match()`; undefined when none does. */
export function claimingFamily(families: readonly Family[], candidate: Candidate): Family | undefined {
  return matchingFamilies(families, candidate)[0];
}

export class CandidateIntake implements CandidateSink {
  private readonly claims = new Map<string, Claim>();
  /** Protected candidates (a system disk, contract §7): never listed, but a start_flash naming one is refused. */
  private readonly protectedOnes = new Map<string, Candidate & { readonly protected: string }>();
  private closed = false;

  constructor(
    private readonly registry: IntakeRegistry,
    private readonly options: IntakeOptions,
  ) {}

  offer(candidate: Candidate): void {
    if (this.closed) return;
    if (candidate.protected !== undefined) {
      if (this.claims.has(candidate.key)) this.withdraw(candidate.key); // listed until now: it became protected
      this.protectedOnes.set(candidate.key, { ...candidate, protected: candidate.protected });
      return;
    }
    this.protectedOnes.delete(candidate.key);
    const claim = this.claim(candidate);
    if (!claim) {
      this.options.log(`${candidate.key}: no device family claims it; left alone`);
      return;
    }
    if (claim.id !== undefined || claim.probing) return; // already listed or being probed: a repeated offer
    const id = this.idFor(candidate);
    // A named candidate (--sim, --connect, ?protocol=) is listed at once and probed there (an error device if it
    // fails); a device a job holds comes back without a probe; anything else is probed first and listed only if it
    // answers as its family's.
    if (candidate.protocol !== undefined || this.registry.lockedBy(id) !== undefined) {
      claim.id = id;
      this.registry.sink.attach({ device: wireDevice(id, claim.family, candidate), family: claim.family, link: claim.link, candidate });
      return;
    }
    void this.probeThenAttach(claim, id);
  }

  withdraw(key: string): void {
    this.protectedOnes.delete(key);
    const claim = this.claims.get(key);
    if (!claim) return;
    this.claims.delete(key);
    claim.probing?.abort();
    // The link is left to whoever holds it: a job's transfer ends with its own error (naming the byte), not "closed".
    if (claim.id !== undefined) this.registry.sink.detach(claim.id);
  }

  linkFor(candidate: Candidate): Link | undefined {
    return this.claim(candidate)?.link;
  }

  /** The protected candidate a start_flash names by key (a block device's path), port or serial, if any. */
  protectedCandidate(name: string): (Candidate & { readonly protected: string }) | undefined {
    for (const c of this.protectedOnes.values()) if (c.key === name || c.port === name || c.serial === name) return c;
    return undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.claims.values()];
    this.claims.clear();
    for (const c of all) c.probing?.abort();
    await Promise.allSettled(all.map((c) => c.link.close()));
  }

  /** The claim for this candidate's key: kept while the same family claims it (a replug reuses its link). */
  private claim(candidate: Candidate): Claim | undefined {
    const existing = this.claims.get(candidate.key);
    if (existing && existing.candidate === candidate) return existing;
    const ranked = matchingFamilies(this.options.families, candidate);
    if (existing && ranked.includes(existing.family) && sameDevice(existing.candidate, candidate)) return existing;
    if (existing) this.withdraw(candidate.key);
    const family = ranked[0];
    if (!family) return undefined;
    const claim: Claim = { candidate, family, link: family.connect(candidate), ranked };
    this.claims.set(candidate.key, claim);
    return claim;
  }

  /** Serial when it reports one that no other listed device uses, else its port key (contract §2.2). */
  private idFor(candidate: Candidate): string {
    const serial = candidate.serial?.trim();
    if (!serial || !SERIAL_RE.test(serial)) return candidate.key;
    for (const c of this.claims.values()) {
      if (c.candidate.key !== candidate.key && c.id === serial) return candidate.key;
    }
    return serial;
  }

  /**
   * Probes an unnamed candidate with each family that matched, best first, each within the probe bound; the first that
   * answers claims it. One family's link is closed before the next family opens its own, and after the last refusal
   * the candidate is left unclaimed with its link closed: nothing is sent to it again (until it is offered anew).
   */
  private async probeThenAttach(claim: Claim, id: string): Promise<void> {
    const whole = new AbortController();
    claim.probing = whole;
    const current = (): boolean => this.claims.get(claim.candidate.key) === claim && !this.closed && !whole.signal.aborted;
    let description: DeviceDescription | undefined;
    try {
      for (const [i, family] of claim.ranked.entries()) {
        if (i > 0) {
          await claim.link.close().catch(() => undefined);
          if (!current()) return;
          claim.family = family;
          claim.link = family.connect(claim.candidate);
        }
        const attempt = new AbortController();
        const stop = (): void => attempt.abort();
        whole.signal.addEventListener('abort', stop, { once: true });
        const timer = setTimeout(stop, this.options.probeTimeoutMs);
        try {
          description = await family.probe(claim.link, claim.candidate, attempt.signal);
        } catch (e) {
          if (current()) {
            const why = attempt.signal.aborted ? 'no answer in time' : toFlashError(e).message;
            const next = claim.ranked[i + 1];
            this.options.log(`${claim.candidate.key}: not a ${family.title} device (${why}); ${next ? `trying ${next.title}` : 'left unclaimed'}`);
          }
        } finally {
          clearTimeout(timer);
          whole.signal.removeEventListener('abort', stop);
        }
        if (description || !current()) break;
      }
    } catch (e) {
      // connect() of a later family threw: report it, and leave the candidate alone like any refusal.
      this.options.log(`${claim.candidate.key}: ${toFlashError(e).message}; left unclaimed`);
    } finally {
      delete claim.probing;
    }
    if (this.claims.get(claim.candidate.key) !== claim || this.closed) {
      // Withdrawn (unplugged) or closing while probed: it was never listed, so no job holds its link.
      await claim.link.close().catch(() => undefined);
      return;
    }
    if (!description) {
      this.claims.delete(claim.candidate.key);
      await claim.link.close().catch(() => undefined);
      return;
    }
    claim.id = id;
    const device = wireDevice(id, claim.family, claim.candidate);
    this.registry.sink.attach({ device, family: claim.family, link: claim.link, candidate: claim.candidate, description });
  }
}

/** Same physical device behind a key (a fresh object for the same device keeps its link). */
function sameDevice(a: Candidate, b: Candidate): boolean {
  if (a.kind === 'usb' && b.kind === 'usb') return a.device === b.device;
  return a.kind === b.kind && a.serial === b.serial;
}

/** What the wire shows of a claimed candidate before any probe. */
function wireDevice(id: string, family: Family, c: Candidate): Omit<Device, 'state'> {
  const info: Record<string, string | number | boolean> = {};
  let name: string | undefined;
  if (c.kind === 'usb') {
    info.vendorId = c.vendorId;
    info.productId = c.productId;
    if (c.device.manufacturerName) info.manufacturer = c.device.manufacturerName;
    name = c.device.productName ?? undefined;
  } else if (c.kind === 'network') {
    info.host = c.host;
    if (c.netPort !== undefined) info.port = c.netPort;
  } else if (c.kind === 'serial') {
    if (c.vendorId !== undefined) info.vendorId = c.vendorId;
    if (c.productId !== undefined) info.productId = c.productId;
    if (c.manufacturer) info.manufacturer = c.manufacturer;
  } else {
    info.capacity = c.size;
    info.removable = c.removable;
    name = [c.vendor, c.model].filter(Boolean).join(' ') || undefined;
  }
  return {
    id,
    protocol: family.protocol,
    transport: c.transport,
    name: name ?? `${family.title} ${c.port ?? c.key}`,
    serial: c.serial ?? '',
    ...(c.port !== undefined ? { port: c.port } : {}),
    info,
    targets: [...family.targets],
  };
}
