// Many-device starts at a glance: one line per batch with done, failed, writing, paused and waiting counts.
import type { BatchSummaryMessage } from '../../protocol/messages.js';

/** `Batch of 10: 3 done, 1 failed, 4 writing, 1 paused, 1 waiting` (running counts paused ones; shown apart). */
export function batchLine(b: BatchSummaryMessage): string {
  const paused = Math.min(b.paused ?? 0, b.running);
  const parts = [`${b.succeeded} done`];
  if (b.failed) parts.push(`${b.failed} failed`);
  if (b.cancelled) parts.push(`${b.cancelled} stopped`);
  if (b.running - paused) parts.push(`${b.running - paused} writing`);
  if (paused) parts.push(`${paused} paused`);
  if (b.queued) parts.push(`${b.queued} waiting`);
  return `Batch of ${b.total}: ${parts.join(', ')}`;
}

export function BatchBar({ batches, onDismiss }: { batches: readonly BatchSummaryMessage[]; onDismiss: (batchId: string) => void }) {
  if (batches.length === 0) return null;
  return (
    <ul className="batches" aria-label="Batches">
      {batches.map((b) => {
        const ended = b.succeeded + b.failed + b.cancelled;
        const done = ended === b.total;
        return (
          <li key={b.batchId} className="batch" data-done={done}>
            <div className="mini-bar" aria-hidden="true">
              <div style={{ transform: `scaleX(${b.total ? ended / b.total : 0})` }} />
            </div>
            <span>
              {batchLine(b)}
            </span>
            {done ? (
              <button type="button" className="btn small subtle" onClick={() => onDismiss(b.batchId)}>
                Dismiss batch
              </button>
            ) : null}
          </li>
        );
      })}
    </ul>
  );
}
