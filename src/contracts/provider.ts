/**
 * Providers find candidates (USB devices, serial ports, network endpoints, block devices, simulators) and hand them to
 * the device registry, which asks the families which one claims each (src/families.ts) and only then probes it.
 */
import type { Candidate } from './family.js';
import type { Link } from './links.js';

/** Where a provider offers the candidates it finds and withdraws the ones that vanished (the registry). */
export interface CandidateSink {
  /** A candidate is present (again). Offering the same key again replaces it (a replug in the same socket). */
  offer(candidate: Candidate): void;
  /** The candidate under `key` went away. */
  withdraw(key: string): void;
  /**
   * The link the claiming family would use for this candidate (the same one the registry will use), or undefined when
   * no family claims it. For providers that learn presence only by talking (network endpoints): they poll its `open()`
   * and offer the candidate once it answers. Does no I/O itself.
   */
  linkFor?(candidate: Candidate): Link | undefined;
}

export interface CandidateProvider {
  readonly name: string;
  start(sink: CandidateSink): Promise<void>;
  stop(): Promise<void>;
}
