// Hand-drawn SVG charts for the history page: throughput over time (bars = bytes, line = speed) and success-rate bars.
import type { RateRow, ThroughputPoint } from '../lib/history-stats.js';
import { formatBytes, formatSpeed } from '../lib/format.js';

const W = 640;
const H = 200;
const PAD = { l: 78, r: 84, t: 16, b: 30 };

export function ThroughputChart({ points, title }: { points: readonly ThroughputPoint[]; title: string }) {
  if (points.length === 0) return <p className="empty">No finished jobs in this range.</p>;
  const maxBytes = Math.max(1, ...points.map((p) => p.bytes));
  const maxSpeed = Math.max(1, ...points.map((p) => p.speed));
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const bw = iw / points.length;
  const x = (i: number) => PAD.l + i * bw;
  const yB = (b: number) => PAD.t + ih - (b / maxBytes) * ih;
  const yS = (s: number) => PAD.t + ih - (s / maxSpeed) * ih;
  const line = points
    .map((p, i) => (p.speed > 0 ? `${x(i) + bw / 2},${yS(p.speed)}` : null))
    .filter((v): v is string => v !== null)
    .join(' ');
  const first = points[0];
  const last = points[points.length - 1];
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={title}>
        <title>{title}</title>
        <line className="axis" x1={PAD.l} y1={PAD.t + ih} x2={W - PAD.r} y2={PAD.t + ih} />
        <text className="tick" x={PAD.l - 4} y={PAD.t + 12} textAnchor="end">
          {formatBytes(maxBytes)}
        </text>
        <text className="tick speed" x={W - PAD.r + 4} y={PAD.t + 12}>
          {formatSpeed(maxSpeed)}
        </text>
        {points.map((p, i) => (
          <rect key={p.t} className="bar" x={x(i) + 1} y={yB(p.bytes)} width={Math.max(1, bw - 2)} height={PAD.t + ih - yB(p.bytes)}>
            <title>{`${new Date(p.t).toLocaleString()}: ${formatBytes(p.bytes)} in ${p.jobs} job(s), ${formatSpeed(p.speed)}`}</title>
          </rect>
        ))}
        {line.includes(' ') ? <polyline className="speed-line" points={line} fill="none" /> : null}
        {/* A dot per bucket with a speed, so one bucket (or one among empty ones) still shows its average. */}
        {points.map((p, i) =>
          p.speed > 0 ? (
            <circle key={`s${p.t}`} className="speed-dot" cx={x(i) + bw / 2} cy={yS(p.speed)} r={4}>
              <title>{`average speed ${formatSpeed(p.speed)}`}</title>
            </circle>
          ) : null,
        )}
        {first ? (
          <text className="tick" x={PAD.l} y={H - 8}>
            {new Date(first.t).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'short' })}
          </text>
        ) : null}
        {last && last !== first ? (
          <text className="tick" x={W - PAD.r} y={H - 8} textAnchor="end">
            {new Date(last.t).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'short' })}
          </text>
        ) : null}
      </svg>
      <figcaption>
        <span className="legend bar-legend" /> bytes written <span className="legend line-legend" /> average speed of completed jobs
      </figcaption>
    </figure>
  );
}

export function RateChart({ rows, title }: { rows: readonly RateRow[]; title: string }) {
  if (rows.length === 0) return <p className="empty">No finished jobs.</p>;
  const shown = rows.slice(0, 12);
  const rowH = 28;
  const h = shown.length * rowH + 8;
  const labelW = 220;
  const barW = W - labelW - 110;
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${W} ${h}`} role="img" aria-label={title}>
        <title>{title}</title>
        {shown.map((r, i) => {
          const y = 4 + i * rowH;
          const total = r.completed + r.failed;
          return (
            <g key={r.key}>
              <text className="tick" x={labelW - 6} y={y + 19} textAnchor="end">
                {r.key.length > 24 ? `…${r.key.slice(-23)}` : r.key}
              </text>
              <rect className="rate-bg" x={labelW} y={y + 2} width={barW} height={rowH - 6} />
              <rect className="rate-ok" x={labelW} y={y + 2} width={barW * r.rate} height={rowH - 6}>
                <title>{`${r.key}: ${r.completed} completed, ${r.failed} failed, ${r.cancelled} cancelled`}</title>
              </rect>
              <text className="tick" x={labelW + barW + 6} y={y + 19}>
                {total ? `${Math.round(r.rate * 100)}% of ${total}` : `${r.cancelled} cancelled`}
              </text>
            </g>
          );
        })}
      </svg>
      {rows.length > shown.length ? <figcaption>{rows.length - shown.length} more not shown</figcaption> : null}
    </figure>
  );
}
