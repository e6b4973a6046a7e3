// Many-device starts at a glance: one line per batch with done, failed, running and waiting counts.
import type { BatchSummaryMessage } from '../../protocol/messages.js';

export function BatchBar({ batches, onDismiss }: { batches: readonly BatchSummaryMessage[]; onDismiss(batchId: string): void }) {
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
              Batch of {b.total}: {b.succeeded} done{b.failed ? `, ${b.failed} failed` : ''}
              {b.cancelled ? `, ${b.cancelled} stopped` : ''}
              {b.running ? `, ${b.running} writing` : ''}
              {b.queued ? `, ${b.queued} waiting` : ''}
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
