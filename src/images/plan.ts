// Flash plans: bundles (folder or zip with a manifest), manifests and inline plans; families add their own formats.
import { stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import type { Ajv } from 'ajv';
import type { PlanStep, StepOptions, Target } from '../contracts/family.js';
import { parseAddress, type LoadedPlan, type LoadedStep, type PlanImage } from '../contracts/plan.js';
import type { BlockSource } from '../contracts/source.js';
import type { PlanInput } from '../protocol/messages.js';
import { FlashError } from '../contracts/errors.js';
import { fileByteSource, fileError } from './byte-source.js';
import { fileIdentity, unchangedCheck } from './file-identity.js';
import { MANIFEST_FILES, manifestSchema } from './manifest-schema.js';
import { peek } from './open.js';
import { parseErrorPlace } from './parse-place.js';
import { folderResolver, PlanSpools, readSmall, zipResolver, type ImageResolver } from './plan-images.js';
import { readSmallFile, SMALL_FILE_MAX } from './small-file.js';
import { sniff } from './sniff.js';
import { openZip } from './zip.js';

const DEFAULT_WAIT_MS = 60_000;
let validate: ReturnType<Ajv['compile']> | null = null;
// ajv and yaml load on the first manifest only: a single-image flash never needs them, and imports cost every process.
const require = createRequire(import.meta.url);

/** A manifest as written (see manifest-schema.ts). */
interface Manifest {
  name?: string;
  steps: ManifestStep[];
}
/** One step as written; manifest-schema.ts says which fields each op takes (a family's own ops become commands). */
type ManifestStep = PlanInput['steps'][number] | ({ op: string } & Record<string, unknown>);

/** Check a manifest object against the schema; FlashError `image_invalid` naming the first problem. */
export function checkManifest(value: unknown, where: string): Manifest {
  validate ??= new (require('ajv') as typeof import('ajv')).Ajv({ allErrors: false, strict: false }).compile(manifestSchema);
  if (!validate(value)) {
    const e = validate.errors?.[0];
    const at = e?.instancePath ? ` at ${e.instancePath}` : '';
    throw new FlashError('image_invalid', `${where}: invalid plan${at}: ${e?.message ?? 'does not match the manifest schema'}`);
  }
  return value as Manifest;
}

/** Parse manifest text: JSON, or YAML (a superset). */
export function parseManifestText(text: string, where: string): Manifest {
  let value: unknown;
  const json = text.trimStart().startsWith('{');
  try {
    value = json ? JSON.parse(text) : (require('yaml') as typeof import('yaml')).parse(text);
  } catch (e) {
    // Name the place, never the text: a manifest may hold secrets, and parser messages quote the offending line.
    throw new FlashError('image_invalid', `${where}: not valid ${json ? 'JSON' : 'YAML'} (${parseErrorPlace(e, text)})`);
  }
  return checkManifest(value, where);
}

type Fields = Record<string, unknown>;

/** `partition`, `address` or neither (the whole device) of a manifest step, as a Target. */
function targetOf(s: Fields, where: string): Target {
  if (typeof s.partition === 'string') return { partition: s.partition };
  if (s.address !== undefined) {
    const address = parseAddress(s.address);
    if (address === undefined) throw new FlashError('image_invalid', `${where}: address ${JSON.stringify(s.address)} is not an integer or "0x…"`);
    return { address };
  }
  return { whole: true };
}

/** A step's family knobs: its `options`, plus any key the generic shape does not know (e.g. a flash step's `slot`). */
function optionsOf(s: Fields): StepOptions | undefined {
  const out: Record<string, string | number | boolean> = {};
  const given = (s.options ?? {}) as Record<string, string | number | boolean>;
  for (const [k, v] of Object.entries({ ...given, ...s })) {
    if (['op', 'partition', 'address', 'image', 'options'].includes(k)) continue;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
  }
  return Object.keys(out).length ? out : undefined;
}

/**
 * Turns manifest steps into LoadedSteps. The generic ops are flash, verify, erase, reboot, wait_for_device and
 * command; any other op (a family's own, e.g. set_active, oem, getvar, require, update_super) becomes a
 * `command` step of that name whose args are the step's other fields, with an `image` resolved to a PlanImage. The
 * device's family checks command steps before a job is created.
 */
async function resolveSteps(m: Manifest, images: ImageResolver): Promise<{ steps: LoadedStep[]; declaredBytes: number }> {
  const steps: LoadedStep[] = [];
  const missing: string[] = [];
  let declaredBytes = 0;
  // A missing image is collected (all are named at once after the loop); any other failure is thrown.
  const resolveOrMiss = (name: string): Promise<PlanImage | null> =>
    images.resolve(name).catch((e: unknown) => {
      if (e instanceof FlashError && e.code === 'image_not_found') {
        missing.push(name);
        return null;
      }
      throw e;
    });
  for (const [i, step] of m.steps.entries()) {
    const s = step as Fields & { op: string };
    const where = `step ${i + 1} (${s.op})`;
    const options = optionsOf(s);
    const withOptions = <T extends object>(x: T): T => (options ? { ...x, options } : x);
    switch (s.op) {
      case 'flash':
      case 'verify': {
        const image = await resolveOrMiss(String(s.image));
        if (!image) break;
        if (s.op === 'flash') declaredBytes += image.declaredSize ?? 0;
        steps.push(withOptions({ op: s.op, target: targetOf(s, where), image }));
        break;
      }
      case 'erase':
        steps.push(withOptions({ op: 'erase' as const, target: targetOf(s, where) }));
        break;
      case 'reboot': {
        // `target` is the older name of `mode` (older manifests wrote `target: bootloader`).
        const mode = s.mode ?? s.target;
        steps.push(typeof mode === 'string' ? { op: 'reboot', mode } : { op: 'reboot' });
        break;
      }
      case 'wait_for_device':
        steps.push({ op: 'wait_for_device', timeoutMs: typeof s.timeoutMs === 'number' ? s.timeoutMs : DEFAULT_WAIT_MS });
        break;
      default: {
        const { op, name, args, ...rest } = s;
        const commandName = op === 'command' ? String(name) : op;
        const fields: Fields = op === 'command' ? { ...(args as Fields | undefined) } : { ...(name !== undefined ? { name } : {}), ...rest };
        if (typeof fields.image === 'string') {
          const image = await resolveOrMiss(fields.image);
          if (!image) break;
          fields.image = image;
        }
        steps.push({ op: 'command', name: commandName, args: fields });
      }
    }
  }
  if (missing.length > 0) {
    throw new FlashError('image_not_found', `the plan names ${missing.length === 1 ? 'an image that is' : 'images that are'} missing: ${missing.join(', ')}`);
  }
  return { steps, declaredBytes };
}

function loaded(name: string, origin: string, r: { steps: LoadedStep[]; declaredBytes: number }, close: () => Promise<void> | void): LoadedPlan {
  let closed = false;
  return {
    name,
    origin,
    steps: r.steps,
    declaredBytes: r.declaredBytes,
    async close() {
      if (closed) return;
      closed = true;
      await close();
    },
  };
}

/** Largest manifest read (a plan names its images; it does not hold them). */
const MAX_MANIFEST = SMALL_FILE_MAX;

/** A manifest through readSmallFile (regular file, bounded). `optional`: null when it does not exist. */
async function readManifestFile(path: string, optional: boolean): Promise<string | null> {
  try {
    return await readSmallFile(path, { maxBytes: MAX_MANIFEST, what: 'a manifest' });
  } catch (e) {
    if (optional && e instanceof FlashError && e.code === 'image_not_found') return null;
    throw e;
  }
}

/** A family's reader of its own plan formats (Family.readPlan): undefined when `path` is not one of them. */
export type PlanReader = (path: string) => Promise<LoadedPlan | undefined>;

/**
 * Load a plan: an inline plan, or a path to a bundle folder, bundle zip or manifest (.json/.yaml) — or any format a
 * family reads (`readers`, tried first: an Android factory zip, ESP-IDF's flasher_args.json).
 */
export async function loadPlan(input: string | PlanInput, readers: readonly PlanReader[] = [], options: LoadPlanOptions = {}): Promise<LoadedPlan> {
  const spools = options.spoolDir !== undefined ? new PlanSpools(options.spoolDir) : undefined;
  const plan = await loadAnyPlan(input, readers, spools);
  if (!spools) return plan;
  return {
    name: plan.name,
    origin: plan.origin,
    steps: plan.steps,
    declaredBytes: plan.declaredBytes,
    close: async () => {
      await plan.close();
      await spools.close();
    },
  };
}

export interface LoadPlanOptions {
  /**
   * Where the plan's images that must be decoded before writing are decoded once (DATA_DIR/spool): their jobs show
   * it as a first stage; the files go when the plan is closed. Without it, such an image is decoded to count its size.
   */
  spoolDir?: string;
}

async function loadAnyPlan(input: string | PlanInput, readers: readonly PlanReader[], spools: PlanSpools | undefined): Promise<LoadedPlan> {
  if (typeof input !== 'string') {
    const m = checkManifest(input, 'inline plan');
    return loaded(m.name ?? 'inline plan', 'inline', await resolveSteps(m, folderResolver(undefined, spools)), () => undefined);
  }
  const path = resolve(input);
  const st = await stat(path).catch((e: unknown) => {
    throw fileError(e, path);
  });
  for (const read of readers) {
    const plan = await read(path);
    if (plan) return plan;
  }
  if (st.isDirectory()) {
    for (const f of MANIFEST_FILES) {
      const p = join(path, f);
      const text = await readManifestFile(p, true);
      if (text === null) continue;
      const m = parseManifestText(text, p);
      return loaded(m.name ?? basename(path), path, await resolveSteps(m, folderResolver(path, spools)), () => undefined);
    }
    throw new FlashError('image_invalid', `${path} is a folder without a manifest (${MANIFEST_FILES.slice(0, 2).join(' or ')})`);
  }
  if (!st.isFile()) throw new FlashError('image_unreadable', `${path} is not a regular file or folder; a plan is a manifest, bundle or factory zip.`);
  const file = fileByteSource(path, 0, st.size, basename(path));
  if (sniff(await peek(file, 8)) === 'zip') {
    const zip = await openZip(file, basename(path), unchangedCheck(path, fileIdentity(st)));
    try {
      const files = zip.entries.filter((e) => !e.isDirectory);
      const manifest = files
        .filter((e) => MANIFEST_FILES.includes(e.name.split('/').pop() ?? ''))
        .sort((a, b) => a.name.split('/').length - b.name.split('/').length)[0];
      if (manifest) {
        const prefix = manifest.name.includes('/') ? manifest.name.slice(0, manifest.name.lastIndexOf('/') + 1) : '';
        const m = parseManifestText(await readSmall(zip.entry(manifest.name)), `${zip.description}!${manifest.name}`);
        return loaded(m.name ?? basename(path), path, await resolveSteps(m, zipResolver(zip, prefix, spools)), () => zip.close());
      }
    } catch (e) {
      zip.close();
      throw e;
    }
    zip.close();
    throw new FlashError('image_invalid', `${path} is a zip without a manifest (flash.json/flash.yaml) in a format no device family reads`);
  }
  if (st.size > MAX_MANIFEST) throw new FlashError('image_invalid', `${path} is not a plan (a manifest, bundle or factory zip); flash it as an image`);
  const m = parseManifestText((await readManifestFile(path, false)) ?? '', path);
  return loaded(m.name ?? basename(path), path, await resolveSteps(m, folderResolver(dirname(path), spools)), () => undefined);
}

/** Open a loaded step's image (if any), giving the PlanStep a driver runs. Call once per step, when it runs. */
export async function openPlanStep(step: LoadedStep, signal?: AbortSignal): Promise<PlanStep> {
  if (step.op !== 'flash' && step.op !== 'verify') return step;
  return withSource(step, await step.image.open({ signal }));
}

/** The PlanStep of a flash or verify step whose image is open. */
export function withSource(step: Extract<LoadedStep, { op: 'flash' | 'verify' }>, source: BlockSource): PlanStep {
  const { image: _image, ...rest } = step;
  return { ...rest, source };
}
