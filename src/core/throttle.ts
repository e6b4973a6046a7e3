// Throttle: the bandwidth limits a job's bytes pass through — its own bucket, then the station-wide one.
import type { JobContext } from '../contracts/family.js';
import { TokenBucket } from './token-bucket.js';

export function createJobThrottle(job: TokenBucket, station: TokenBucket): JobContext['throttle'] {
  return {
    async take(n: number, signal?: AbortSignal): Promise<void> {
      await job.take(n, signal);
      await station.take(n, signal);
    },
  };
}
