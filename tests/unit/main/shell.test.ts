// The Electron shell's behaviour that needs no Electron: the tray's status line, and quitting asks first while jobs
// would be cancelled. Plus how main.ts wires them: the station runs in-process through the same launcher as
// `flash-station serve`, one instance only, the tray follows station events, close and quit both ask.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { JobState } from '../../../src/protocol/messages.js';
import { mustAskBeforeQuit, quitQuestion, statusLine, trayStatusOf, unfinishedJobs } from '../../../src/main/station-status.js';

const root = resolve(import.meta.dirname, '../../..');
const jobs = (...states: JobState[]) => states.map((state) => ({ state }));

describe('tray status', () => {
  it('counts flashing, waiting (queued or paused) and failed jobs', () => {
    const s = trayStatusOf(jobs('running', 'running', 'queued', 'paused', 'failed', 'completed', 'cancelled'), 3, 'ws://127.0.0.1:3001/flash-progress');
    expect(s).toEqual({ devices: 3, running: 2, queued: 2, failed: 1, url: 'ws://127.0.0.1:3001/flash-progress' });
    expect(statusLine(s)).toBe('Flash Station — 3 devices, 2 flashing, 2 waiting, 1 failed');
  });
  it('says idle when nothing runs, and one device in the singular', () => {
    expect(statusLine(trayStatusOf(jobs('completed'), 1, ''))).toBe('Flash Station — 1 device, idle');
  });
});

describe('quitting', () => {
  it('asks only while jobs would be cancelled, and not again once the user said yes', () => {
    expect(unfinishedJobs(jobs('running', 'paused', 'queued', 'completed', 'failed', 'cancelled'))).toBe(3);
    expect(mustAskBeforeQuit(0, false)).toBe(false);
    expect(mustAskBeforeQuit(2, false)).toBe(true);
    expect(mustAskBeforeQuit(2, true)).toBe(false);
  });
  it('the question keeps flashing by default (Enter, Esc) and says what quitting does', () => {
    const q = quitQuestion(1);
    expect(q.buttons[q.defaultId]).toBe('Keep flashing');
    expect(q.buttons[q.cancelId]).toBe('Keep flashing');
    expect(q.buttons[1]).toBe('Cancel jobs and quit');
    expect(q.message).toBe('1 job is still running or waiting.');
    expect(quitQuestion(4).message).toBe('4 jobs are still running or waiting.');
    expect(q.detail).toMatch(/cancels them cleanly between transfers/);
  });
});

describe('main.ts wiring', () => {
  const main = readFileSync(join(root, 'src/main/main.ts'), 'utf8');
  it('starts the station in-process with the launcher `serve` uses', () => {
    expect(main).toMatch(/from '\.\.\/server\/launch\.js'/);
    expect(main).toMatch(/await launchStation\(/);
    expect(readFileSync(join(root, 'src/cli/commands/serve.ts'), 'utf8')).toMatch(/launchStation\(/);
  });
  it('holds a single-instance lock and shows the first window when started again', () => {
    expect(main).toMatch(/if \(!app\.requestSingleInstanceLock\(\)\) \{\s*app\.quit\(\);/);
    expect(main).toMatch(/app\.on\('second-instance', \(\) => showWindow\(\)\)/);
  });
  it('opens its window on the station UI and keeps the tray up to date from station events', () => {
    expect(main).toMatch(/win\.loadURL\(`\$\{origin\}\/`\)/);
    expect(main).toMatch(/new StationTray\(/);
    expect(main).toMatch(/station\.station\.subscribe\([\s\S]{0,120}tray\?\.update\(trayStatus\(\)\)/);
  });
  it('asks before closing the window and before quitting while jobs run', () => {
    expect(main).toMatch(/win\.on\('close', [\s\S]{0,80}if \(!mustAskBeforeQuit\(activeJobs\(\), quitConfirmed\)\) return;\s*event\.preventDefault\(\);\s*void confirmQuit\(\);/);
    expect(main).toMatch(/app\.on\('before-quit', [\s\S]{0,200}event\.preventDefault\(\);\s*void confirmQuit\(\);/);
    expect(main).toMatch(/quitQuestion\(activeJobs\(\)\)/);
  });
});
