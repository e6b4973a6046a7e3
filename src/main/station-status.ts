// What the shell says about the station without Electron: the tray's status line and the quit question while jobs run.
import { isFinished } from '../client/job-state.js';
import type { Job } from '../protocol/messages.js';

export interface TrayStatus {
  devices: number;
  running: number;
  queued: number;
  failed: number;
  url: string;
}

/** Jobs that quitting would cancel: running, paused or waiting. */
export function unfinishedJobs(jobs: readonly Pick<Job, 'state'>[]): number {
  return jobs.filter((j) => !isFinished(j)).length;
}

export function trayStatusOf(jobs: readonly Pick<Job, 'state'>[], devices: number, url: string): TrayStatus {
  return {
    devices,
    running: jobs.filter((j) => j.state === 'running').length,
    queued: jobs.filter((j) => j.state === 'queued' || j.state === 'paused').length,
    failed: jobs.filter((j) => j.state === 'failed').length,
    url,
  };
}

export function statusLine(s: TrayStatus): string {
  const jobs = s.running || s.queued ? `${s.running} flashing, ${s.queued} waiting` : 'idle';
  return `Flash Station — ${s.devices} device${s.devices === 1 ? '' : 's'}, ${jobs}${s.failed ? `, ${s.failed} failed` : ''}`;
}

/** Quit at once, or ask first: only when jobs would be cancelled and the user has not already said yes. */
export function mustAskBeforeQuit(unfinished: number, confirmed: boolean): boolean {
  return !confirmed && unfinished > 0;
}

/** The question asked before quitting mid-flash; button 1 quits, anything else (Esc, closing it) keeps flashing. */
export function quitQuestion(unfinished: number): {
  type: 'warning';
  buttons: string[];
  defaultId: number;
  cancelId: number;
  title: string;
  message: string;
  detail: string;
} {
  return {
    type: 'warning',
    buttons: ['Keep flashing', 'Cancel jobs and quit'],
    defaultId: 0,
    cancelId: 0,
    title: 'Jobs are running',
    message: `${unfinished} job${unfinished === 1 ? ' is' : 's are'} still running or waiting.`,
    detail: 'Quitting cancels them cleanly between transfers; a cancelled partition is left partly written and must be flashed again.',
  };
}
