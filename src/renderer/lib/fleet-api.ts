// The fleet view's HTTP API as its page uses it: GET /api/stations, and one command to a station with that station's
// token (the view's own token as Bearer), answered with the station's result or the view's error.
import type { StationSummary } from '../../fleet/fleet-store.js';
import { fetchJson, stationFetch } from './station-http.js';

export type FleetStation = StationSummary;

export type FleetCommand =
  | { type: 'start_flash'; deviceId: string; image: string; partition?: string }
  | { type: 'pause_flash' | 'resume_flash' | 'cancel_flash'; jobId: string };

export function fetchStations(): Promise<FleetStation[]> {
  return stationFetch<FleetStation[]>('/api/stations', undefined);
}

interface CommandAnswer {
  result?: { ok: boolean; jobId?: string; error?: { code: string; message: string } };
  error?: { code: string; message: string };
}

/** What to show after a command: `start_flash: ok (job …)`, `pause_flash: unauthorized — …`. */
export function describeAnswer(type: string, status: number, body: CommandAnswer): string {
  const r = body.result;
  if (r) return r.ok ? `${type}: ok${r.jobId ? ` (job ${r.jobId})` : ''}` : `${type}: ${r.error?.code ?? 'failed'} — ${r.error?.message ?? ''}`;
  return body.error ? `${body.error.code} — ${body.error.message}` : `HTTP ${status}`;
}

/** A command's outcome: `ok` only for the station's own success; `text` is what the page shows. */
export interface CommandOutcome {
  ok: boolean;
  text: string;
}

export async function sendCommand(fleetToken: string, stationId: string, stationToken: string, command: FleetCommand): Promise<CommandOutcome> {
  const { status, data } = await fetchJson(`/api/stations/${encodeURIComponent(stationId)}/commands`, fleetToken, {
    method: 'POST',
    body: { ...command, token: stationToken },
  });
  const body = (data ?? {}) as CommandAnswer;
  return { ok: body.result?.ok === true, text: describeAnswer(command.type, status, body) };
}
