// Job commands (pause, resume, cancel, start) over the shared connection, turning `ok: false` results into errors.
import { useCallback } from 'react';
import type { ClientCommand, ResultOk } from '../../protocol/messages.js';
import type { StationConnection } from '../lib/station-connection.js';
import type { JobAction } from '../components/job-card.js';

/** Send a command and resolve with its ok result; reject with the station's own message otherwise. */
export async function command(connection: StationConnection, cmd: ClientCommand): Promise<ResultOk> {
  const answer = await connection.request(cmd);
  if (answer.type === 'result') {
    if (answer.ok) return answer;
    throw new Error(`${answer.error.message} (${answer.error.code})`);
  }
  return { type: 'result', ok: true, snapshot: answer };
}

export function useJobActions(connection: StationConnection) {
  const onAction = useCallback(async (action: JobAction, jobId: string) => {
    await command(connection, { type: action, jobId });
  }, [connection]);
  return { onAction };
}
