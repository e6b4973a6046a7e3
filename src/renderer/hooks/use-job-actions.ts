// Job commands (pause, resume, cancel, start) over the shared connection, turning `ok: false` results into errors.
import { useCallback } from 'react';
import type { ClientCommand, ResultOk } from '../../protocol/messages.js';
import type { StationConnection } from '../lib/station-connection.js';
import type { JobAction } from '../components/job-card.js';

/** What the page has to do about a refusal, in the page's own terms where the station's message speaks to tools. */
export const NO_TOKEN_MESSAGE =
  'This page can only watch: it has no station token. Open the address the station printed on its "ui" line (it carries the token), or paste the token under Settings → Access token.';

export function explain(code: string, message: string): string {
  if (code === 'unauthorized') return NO_TOKEN_MESSAGE;
  return `${message} (${code})`;
}

/** Send a command and resolve with its ok result; reject with the station's message (or what to do) otherwise. */
export async function command(connection: StationConnection, cmd: ClientCommand): Promise<ResultOk> {
  const answer = await connection.request(cmd);
  if (answer.type === 'result') {
    if (answer.ok) return answer;
    throw new Error(explain(answer.error.code, answer.error.message));
  }
  return { type: 'result', ok: true, snapshot: answer };
}

export function useJobActions(connection: StationConnection) {
  const onAction = useCallback(async (action: JobAction, jobId: string) => {
    await command(connection, { type: action, jobId });
  }, [connection]);
  return { onAction };
}
