// The flash form: an image (native dialog in Electron, a path in a browser) and a partition, or a plan; the selected
// devices as targets; a verify option; and the one button named Flash.
import { useEffect, useId, useMemo, useRef, useState, type FormEvent } from 'react';
import type { Device, StartFlashCommand } from '../../protocol/messages.js';
import { desktopBridge } from '../lib/desktop-bridge.js';

export interface FlashFormProps {
  devices: readonly Device[];
  selected: ReadonlySet<string>;
  connected: boolean;
  onStart(command: StartFlashCommand): Promise<string>;
  /** Changes when a tile's "New job" was pressed: bring the form into view and focus what to fill in next. */
  focusRequest?: number;
}

/** Targets: the selected devices, or the only device when there is just one. */
export function effectiveTargets(devices: readonly Device[], selected: ReadonlySet<string>): string[] {
  const ids = devices.filter((d) => selected.has(d.id)).map((d) => d.id);
  if (ids.length === 0 && devices.length === 1 && devices[0]) return [devices[0].id];
  return ids;
}

export function FlashForm({ devices, selected, connected, onStart, focusRequest = 0 }: FlashFormProps) {
  const id = useId();
  const bridge = desktopBridge();
  const [image, setImage] = useState('');
  const [partition, setPartition] = useState('');
  const [plan, setPlan] = useState('');
  const [verify, setVerify] = useState(false);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const targets = effectiveTargets(devices, selected);
  const formRef = useRef<HTMLFormElement>(null);
  const ready = plan.trim() !== '' || (image.trim() !== '' && partition.trim() !== '');
  const readyRef = useRef(ready);
  readyRef.current = ready;
  useEffect(() => {
    const form = formRef.current;
    if (!focusRequest || !form) return;
    form.scrollIntoView?.({ block: 'nearest', behavior: 'smooth' });
    // Ready to go: the Flash button (Enter or Space flashes); otherwise the first field still empty.
    const field = readyRef.current
      ? form.querySelector<HTMLElement>('button[type="submit"]')
      : ([...form.querySelectorAll<HTMLInputElement>('input[name="image"], input[name="partition"]')].find((i) => i.value.trim() === '') ?? null);
    field?.focus({ preventScroll: true });
  }, [focusRequest]);
  const partitions = useMemo(() => {
    const names = new Set<string>();
    for (const d of devices) if (targets.includes(d.id)) for (const p of d.partitions ?? []) names.add(p.name);
    return [...names].sort();
  }, [devices, targets]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setMessage(null);
    if (targets.length === 0) {
      setMessage({ kind: 'error', text: 'Select at least one device in the grid first.' });
      return;
    }
    const usePlan = plan.trim() !== '';
    if (!usePlan && (!image.trim() || !partition.trim())) {
      setMessage({ kind: 'error', text: 'Give an image path and a partition — or a plan file.' });
      return;
    }
    const command: StartFlashCommand = { type: 'start_flash' };
    if (targets.length === 1) command.deviceId = targets[0];
    else command.deviceIds = targets;
    if (usePlan) command.plan = plan.trim();
    else {
      command.image = image.trim();
      command.partition = partition.trim();
    }
    if (verify) command.verify = true;
    setBusy(true);
    onStart(command)
      .then((text) => setMessage({ kind: 'ok', text }))
      .catch((err: unknown) => setMessage({ kind: 'error', text: err instanceof Error ? err.message : String(err) }))
      .finally(() => setBusy(false));
  };

  const browse = async (directory: boolean) => {
    if (!bridge) return;
    const path = await bridge.openImageDialog({ title: directory ? 'Choose a plan bundle' : 'Choose an image', directory });
    if (path) (directory ? setPlan : setImage)(path);
  };

  return (
    <form ref={formRef} className="flash-form" onSubmit={submit} aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>New job</h2>
      <p className="targets" id={`${id}-targets`}>
        {targets.length === 0
          ? 'No target yet: select devices in the grid.'
          : `Target${targets.length > 1 ? 's' : ''}: ${targets.join(', ')}`}
      </p>
      <div className="field">
        <label htmlFor={`${id}-image`}>Image</label>
        <div className="with-button">
          <input
            id={`${id}-image`}
            name="image"
            type="text"
            autoComplete="off"
            spellCheck={false}
            placeholder="/path/to/boot.img (raw, sparse, .gz, .xz, .zst)"
            value={image}
            onChange={(e) => setImage(e.target.value)}
          />
          {bridge ? (
            <button type="button" className="btn" onClick={() => void browse(false)}>
              Browse…
            </button>
          ) : null}
        </div>
      </div>
      <div className="field">
        <label htmlFor={`${id}-partition`}>Partition</label>
        <input
          id={`${id}-partition`}
          name="partition"
          type="text"
          autoComplete="off"
          spellCheck={false}
          list={`${id}-partitions`}
          placeholder={partitions[0] ?? 'boot'}
          value={partition}
          onChange={(e) => setPartition(e.target.value)}
        />
        <datalist id={`${id}-partitions`}>
          {partitions.map((p) => (
            <option key={p} value={p} />
          ))}
        </datalist>
      </div>
      <div className="field">
        <label htmlFor={`${id}-plan`}>Plan file</label>
        <div className="with-button">
          <input
            id={`${id}-plan`}
            name="plan"
            type="text"
            autoComplete="off"
            spellCheck={false}
            aria-describedby={`${id}-plan-hint`}
            placeholder="bundle folder, manifest or factory zip"
            value={plan}
            onChange={(e) => setPlan(e.target.value)}
          />
          {bridge ? (
            <button type="button" className="btn" onClick={() => void browse(true)}>
              Folder…
            </button>
          ) : null}
        </div>
        <small id={`${id}-plan-hint`}>Instead of the two fields above: several steps from one bundle.</small>
      </div>
      <label className="check">
        <input type="checkbox" checked={verify} onChange={(e) => setVerify(e.target.checked)} /> Verify after writing
      </label>
      <div className="form-actions">
        <button type="submit" className="btn primary" disabled={busy || !connected} aria-describedby={`${id}-targets`}>
          Flash
        </button>
      </div>
      {message ? (
        <p className={message.kind === 'ok' ? 'form-ok' : 'form-error'} role={message.kind === 'ok' ? 'status' : 'alert'}>
          {message.text}
        </p>
      ) : null}
    </form>
  );
}
