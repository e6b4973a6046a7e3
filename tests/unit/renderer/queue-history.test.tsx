// @vitest-environment happy-dom
// Queue and history say what their columns say: the queue's # is the station's queue position, a waiting job's size
// is its image's (not "0 B"); history is ordered by when jobs ended, exports CSV with the filters; the speed line of
// the throughput chart shows even with one bucket.
import { afterEach, describe, expect, it } from 'vitest';
import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { ThroughputChart } from '../../../src/renderer/components/charts.js';
import { historyCsvHref, newestEndedFirst } from '../../../src/renderer/lib/history-stats.js';
import { formatJobBytes } from '../../../src/renderer/lib/format.js';
import type { ActiveJob } from '../../../src/renderer/lib/station-state.js';
import { jobSize, queueMark } from '../../../src/renderer/views/queue-view.js';
import { job } from './ws-fixture.js';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;
const roots: Root[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) act(() => r.unmount());
  document.body.innerHTML = '';
});

const queued = (patch: Partial<ActiveJob> = {}): ActiveJob => ({ ...job('q', 'D', { state: 'queued', totalBytes: 0, bytesTransferred: 0 }), updatedAt: 0, ...patch });

describe('queue columns', () => {
  it('# is the queue position, not the row', () => {
    expect(queueMark(queued({ queuePosition: 1 }))).toBe('1');
    expect(queueMark(queued())).toBe('—');
    expect(queueMark({ ...queued(), state: 'running' })).toBe('▶');
    expect(queueMark({ ...queued(), state: 'paused' })).toBe('⏸');
  });

  it('a waiting job shows its image size or —, never 0 B', () => {
    expect(jobSize(queued({ imageBytes: 60 * 1024 * 1024 }))).toBe('60.0 MiB');
    expect(jobSize(queued())).toBe('—');
    expect(formatJobBytes(queued())).toBe('—');
    expect(formatJobBytes(queued({ imageBytes: 1024 }))).toBe('— / 1.00 KiB image');
    expect(formatJobBytes({ bytesTransferred: 512, totalBytes: 1024 })).toBe('512 B / 1.00 KiB');
  });
});

describe('history', () => {
  it('orders rows by when they ended, newest first', () => {
    const rows = [
      job('a', 'D', { state: 'failed', createdAt: 30, endedAt: 100 }),
      job('b', 'D', { state: 'completed', createdAt: 10, endedAt: 500 }),
      job('c', 'D', { state: 'completed', createdAt: 20, endedAt: 300 }),
    ];
    expect(newestEndedFirst(rows).map((j) => j.jobId)).toEqual(['b', 'c', 'a']);
  });

  it('exports CSV with the device and outcome filters', () => {
    expect(historyCsvHref({})).toBe('/api/history.csv');
    expect(historyCsvHref({ deviceId: 'SIM 1', state: 'failed' })).toBe('/api/history.csv?deviceId=SIM+1&state=failed');
  });

  it('draws the average speed with a single bucket', () => {
    const el = document.createElement('div');
    document.body.append(el);
    const root = createRoot(el);
    roots.push(root);
    act(() => root.render(<ThroughputChart points={[{ t: 0, bytes: 1 << 20, speed: 5 << 20, jobs: 1 }]} title="t" />));
    expect(el.querySelectorAll('.speed-dot')).toHaveLength(1);
  });
});
