// @vitest-environment happy-dom
// Words for technicians: a refused command says what to do in the page's terms (not query strings and headers); a
// failed card leads with the human message, its code small after it; a finished card shows the average speed and how
// long it took instead of dashes for speed and ETA.
import { afterEach, describe, expect, it } from 'vitest';
import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { JobCard } from '../../../src/renderer/components/job-card.js';
import { explain } from '../../../src/renderer/hooks/use-job-actions.js';
import type { ActiveJob } from '../../../src/renderer/lib/station-state.js';
import { job } from './ws-fixture.js';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;
const roots: Root[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) act(() => r.unmount());
  document.body.innerHTML = '';
});

function card(j: ActiveJob): HTMLElement {
  const el = document.createElement('div');
  document.body.append(el);
  const root = createRoot(el);
  roots.push(root);
  act(() => root.render(<JobCard job={j} logs={undefined} onAction={async () => undefined} onClear={() => undefined} />));
  return el;
}

const stat = (el: HTMLElement, name: string) =>
  [...el.querySelectorAll('.job-stats > div')].find((d) => d.querySelector('dt')?.textContent === name)?.querySelector('dd')?.textContent;

describe('wording', () => {
  it('tells a page without the token what to do, in its own terms', () => {
    const text = explain('unauthorized', '"start_flash" needs the station token: connect with ?token=, Authorization: Bearer, or send {"type":"auth","token":…} first.');
    expect(text).not.toMatch(/Authorization|\?token=|"type"/);
    expect(text).toMatch(/Settings/);
    expect(explain('image_not_found', 'No image at /x.')).toBe('No image at /x. (image_not_found)');
  });

  it('leads a failed card with the message; the code is small and after it', () => {
    const el = card({ ...job('f', 'D', { state: 'failed', error: 'The device refused "flash:boot"', errorCode: 'device_rejected', startedAt: 1000, endedAt: 6000 }), updatedAt: 0 });
    const error = el.querySelector('.job-error') as HTMLElement;
    expect(error.textContent?.startsWith('The device refused')).toBe(true);
    expect(error.querySelector('small')?.textContent).toContain('device_rejected');
  });

  it('shows average speed and duration on a completed card', () => {
    const el = card({
      ...job('c', 'D', { state: 'completed', progress: 100, bytesTransferred: 10 << 20, totalBytes: 10 << 20, startedAt: 1000, endedAt: 6000, averageSpeed: 2 << 20 }),
      updatedAt: 0,
    });
    expect(stat(el, 'Avg speed')).toBe('2.00 MiB/s');
    expect(stat(el, 'Took')).toBe('5 s');
    expect(el.textContent).not.toMatch(/ETA/);
    // Without the station's figure, bytes over the wall time.
    const old = card({ ...job('o', 'D', { state: 'completed', bytesTransferred: 10 << 20, totalBytes: 10 << 20, startedAt: 0, endedAt: 5000 }), updatedAt: 0 });
    expect(stat(old, 'Avg speed')).toBe('2.00 MiB/s');
  });
});
