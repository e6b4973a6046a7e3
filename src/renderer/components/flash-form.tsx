// The flash form: an image (native dialog in Electron, a path in a browser) and where it goes — a partition from the
// devices' list, an address, or the whole device, as their family takes (Device.targets) — or a plan; the selected
// devices; a verify option; and the one button named Flash.
import { useEffect, useId, useMemo, useRef, useState, type FormEvent } from 'react';
import type { Device, StartFlashCommand, TargetKind } from '../../protocol/messages.js';
import { desktopBridge } from '../lib/desktop-bridge.js';
import { formatBytes } from '../lib/format.js';

export interface FlashFormProps {
  devices: readonly Device[];
  selected: ReadonlySet<string>;
  connected: boolean;
  onStart: (command: StartFlashCommand) => Promise<string>;
  /** Changes when a tile's "New job" was pressed: bring the form into view and focus what to fill in next. */
  focusRequest?: number;
}

/** Targets: the selected devices, or the only device when there is just one. */
export function effectiveTargets(devices: readonly Device[], selected: ReadonlySet<string>): string[] {
  const ids = devices.filter((d) => selected.has(d.id)).map((d) => d.id);
  if (ids.length === 0 && devices.length === 1 && devices[0]) return [devices[0].id];
  return ids;
}

/** What a device takes; a station that does not say (older ones, from before Device.targets) takes partitions. */
function kindsOf(device: Device): readonly TargetKind[] {
  return device.targets?.length ? device.targets : ['partition'];
}

/**
 * The targets every one of these devices takes, in the first one's order (its family's preference); empty when they
 * have none in common. With no device at all, a partition (the form as it always was). Devices that list no
 * partitions at all (an ESP board before its partition table is written) offer an address first.
 */
export function commonTargets(devices: readonly Device[]): TargetKind[] {
  const [first, ...rest] = devices;
  if (!first) return ['partition'];
  const common = kindsOf(first).filter((k) => rest.every((d) => kindsOf(d).includes(k)));
  const noPartitions = devices.every((d) => d.partitions !== undefined && d.partitions.length === 0);
  if (noPartitions && common.includes('address')) return ['address', ...common.filter((k) => k !== 'address')];
  return common;
}

/** An address as typed: `0x…` hex goes on the wire as that string, decimal as the integer; undefined when neither. */
export function parseAddress(text: string): number | string | undefined {
  const t = text.trim();
  if (/^0x[0-9a-f]{1,13}$/i.test(t)) return t;
  if (/^\d{1,15}$/.test(t)) return Number(t);
  return undefined;
}

const KIND_WORDS: Record<TargetKind, string> = { partition: 'a partition', address: 'an address', whole: 'the whole device' };

export function FlashForm({ devices, selected, connected, onStart, focusRequest = 0 }: FlashFormProps) {
  const id = useId();
  const bridge = desktopBridge();
  const [image, setImage] = useState('');
  const [partition, setPartition] = useState('');
  const [address, setAddress] = useState('');
  const [chosenKind, setChosenKind] = useState<TargetKind | ''>('');
  const [plan, setPlan] = useState('');
  const [verify, setVerify] = useState(false);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const targets = effectiveTargets(devices, selected);
  const targetDevices = useMemo(() => devices.filter((d) => targets.includes(d.id)), [devices, targets]);
  const kinds = useMemo(() => commonTargets(targetDevices), [targetDevices]);
  const kind: TargetKind | undefined = chosenKind !== '' && kinds.includes(chosenKind) ? chosenKind : kinds[0];
  const formRef = useRef<HTMLFormElement>(null);
  const targetFilled = kind === 'whole' || (kind === 'partition' && partition.trim() !== '') || (kind === 'address' && address.trim() !== '');
  const ready = plan.trim() !== '' || (image.trim() !== '' && targetFilled);
  const readyRef = useRef(ready);
  readyRef.current = ready;
  useEffect(() => {
    const form = formRef.current;
    if (!focusRequest || !form) return;
    form.scrollIntoView?.({ block: 'nearest', behavior: 'smooth' });
    // Ready to go: the Flash button (Enter or Space flashes); otherwise the first field still empty.
    const field = readyRef.current
      ? form.querySelector<HTMLElement>('button[type="submit"]')
      : ([...form.querySelectorAll<HTMLInputElement>('input[name="image"], input[name="partition"], input[name="address"]')].find((i) => i.value.trim() === '') ?? null);
    field?.focus({ preventScroll: true });
  }, [focusRequest]);
  // The selected devices' partitions, with the size when they agree on it.
  const partitions = useMemo(() => {
    const sizes = new Map<string, number | null>();
    for (const d of targetDevices) {
      for (const p of d.partitions ?? []) sizes.set(p.name, sizes.has(p.name) && sizes.get(p.name) !== p.size ? null : p.size);
    }
    return [...sizes].sort(([a], [b]) => a.localeCompare(b)).map(([name, size]) => ({ name, size }));
  }, [targetDevices]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setMessage(null);
    if (targets.length === 0) {
      setMessage({ kind: 'error', text: 'Select at least one device in the grid first.' });
      return;
    }
    const usePlan = plan.trim() !== '';
    if (!usePlan && !kind) {
      setMessage({ kind: 'error', text: 'The selected devices take different targets (see above): flash them separately, or give a plan file.' });
      return;
    }
    if (!usePlan && (!image.trim() || !targetFilled)) {
      const what = kind === 'address' ? 'an image path and an address' : kind === 'whole' ? 'an image path' : 'an image path and a partition';
      setMessage({ kind: 'error', text: `Give ${what} — or a plan file.` });
      return;
    }
    const at = kind === 'address' ? parseAddress(address) : undefined;
    if (!usePlan && kind === 'address' && at === undefined) {
      setMessage({ kind: 'error', text: `"${address.trim()}" is not an address: write it in hex (0x10000) or decimal (65536).` });
      return;
    }
    const command: StartFlashCommand = { type: 'start_flash' };
    if (targets.length === 1) command.deviceId = targets[0];
    else command.deviceIds = targets;
    if (usePlan) command.plan = plan.trim();
    else {
      command.image = image.trim();
      if (kind === 'partition') command.partition = partition.trim();
      if (kind === 'address') command.address = at;
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
            placeholder={kind === 'address' ? '/path/to/firmware.bin (raw, Intel HEX, S-record)' : '/path/to/boot.img (raw, sparse, .gz, .xz, .zst)'}
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
      {kinds.length > 1 ? (
        <div className="field">
          <label htmlFor={`${id}-kind`}>Write to</label>
          <select id={`${id}-kind`} name="target" value={kind} onChange={(e) => setChosenKind(e.target.value as TargetKind)}>
            {kinds.map((k) => (
              <option key={k} value={k}>
                {KIND_WORDS[k]}
              </option>
            ))}
          </select>
        </div>
      ) : null}
      {kind === 'partition' ? (
        <div className="field">
          <label htmlFor={`${id}-partition`}>Partition</label>
          <input
            id={`${id}-partition`}
            name="partition"
            type="text"
            autoComplete="off"
            spellCheck={false}
            list={`${id}-partitions`}
            aria-describedby={partitions.length ? `${id}-partition-list` : undefined}
            placeholder={partitions[0]?.name ?? 'boot'}
            value={partition}
            onChange={(e) => setPartition(e.target.value)}
          />
          <datalist id={`${id}-partitions`}>
            {partitions.map((p) => (
              <option key={p.name} value={p.name}>
                {p.size !== null ? formatBytes(p.size) : ''}
              </option>
            ))}
          </datalist>
          {partitions.length ? (
            <ul className="partition-list" id={`${id}-partition-list`} aria-label="Names the selected devices list">
              {partitions.map((p) => (
                <li key={p.name}>
                  <button type="button" className={`chip${partition.trim() === p.name ? ' on' : ''}`} aria-pressed={partition.trim() === p.name} onClick={() => setPartition(p.name)}>
                    {p.name}
                    {p.size !== null ? <span className="chip-size"> {formatBytes(p.size)}</span> : null}
                  </button>
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : null}
      {kind === 'address' ? (
        <div className="field">
          <label htmlFor={`${id}-address`}>Address</label>
          <input
            id={`${id}-address`}
            name="address"
            type="text"
            inputMode="text"
            autoComplete="off"
            spellCheck={false}
            aria-describedby={`${id}-address-hint`}
            placeholder="0x…"
            value={address}
            onChange={(e) => setAddress(e.target.value)}
          />
          <small id={`${id}-address-hint`}>Where the image starts: hex (0x10000, 0x08000000) or decimal.</small>
        </div>
      ) : null}
      {kind === 'whole' ? (
        <p className="whole-device" id={`${id}-whole`}>
          The image is written over the whole device, from its first byte.
        </p>
      ) : null}
      {!kind ? (
        <p className="whole-device" id={`${id}-mixed`}>
          These devices are written in different ways ({targetDevices.map((d) => `${d.id}: ${kindsOf(d).map((k) => KIND_WORDS[k]).join(' or ')}`).join('; ')}): select devices of one kind, or give a plan file.
        </p>
      ) : null}
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
            placeholder="bundle folder, manifest, factory zip or flasher_args.json"
            value={plan}
            onChange={(e) => setPlan(e.target.value)}
          />
          {bridge ? (
            <button type="button" className="btn" onClick={() => void browse(true)}>
              Folder…
            </button>
          ) : null}
        </div>
        <small id={`${id}-plan-hint`}>Instead of the fields above: several steps from one bundle.</small>
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
