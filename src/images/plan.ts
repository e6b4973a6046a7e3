// Flash plans: bundles (folder or zip with a manifest), manifests, Android factory images and inline plans.
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import type { Ajv } from 'ajv';
import type { PlanStep } from '../core/types.js';
import type { PlanInput } from '../protocol/messages.js';
import { FlashError } from '../core/errors.js';
import { fileByteSource, fileError } from './byte-source.js';
import { isFactoryZip, planFactory } from './factory.js';
import { MANIFEST_FILES, manifestSchema } from './manifest-schema.js';
import { peek } from './open.js';
import { folderResolver, readSmall, zipResolver, type ImageResolver } from './plan-images.js';
import { sniff } from './sniff.js';
import { SUPER_EMPTY_MAX_BYTES, type LoadedPlan, type LoadedStep, type PlanImage, type Requirement } from './types.js';
import { openZip } from './zip.js';

const DEFAULT_WAIT_MS = 60_000;
let validate: ReturnType<Ajv['compile']> | null = null;
// ajv and yaml load on the first manifest only: a single-image flash never needs them, and imports cost every process.
const require = createRequire(import.meta.url);

/** A manifest as written (see manifest-schema.ts): PlanInput plus `require` and `verify` steps. */
interface Manifest {
  name?: string;
  steps: ManifestStep[];
}
type ManifestStep =
  | PlanInput['steps'][number]
  | { op: 'verify'; partition: string; image: string }
  | { op: 'require'; name: string; values: string[]; forProduct?: string }
  | { op: 'update_super'; image: string; wipe?: boolean };

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
  try {
    value = text.trimStart().startsWith('{') ? JSON.parse(text) : (require('yaml') as typeof import('yaml')).parse(text);
  } catch (e) {
    throw new FlashError('image_invalid', `${where}: not valid JSON or YAML (${(e as Error).message})`, { cause: e });
  }
  return checkManifest(value, where);
}

async function resolveSteps(m: Manifest, images: ImageResolver): Promise<{ steps: LoadedStep[]; declaredBytes: number; requirements: Requirement[] }> {
  const steps: LoadedStep[] = [];
  const requirements: Requirement[] = [];
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
  for (const s of m.steps) {
    switch (s.op) {
      case 'flash':
      case 'verify': {
        const image = await resolveOrMiss(s.image);
        if (!image) break;
        declaredBytes += s.op === 'flash' ? image.declaredSize ?? 0 : 0;
        if (s.op === 'verify') steps.push({ op: 'verify', partition: s.partition, image });
        else steps.push(s.slot ? { op: 'flash', partition: s.partition, image, slot: s.slot } : { op: 'flash', partition: s.partition, image });
        break;
      }
      case 'update_super': {
        const image = await resolveOrMiss(s.image);
        if (image) steps.push({ op: 'update_super', image: await superEmptyBytes(image), location: image.location, wipe: s.wipe ?? false });
        break;
      }
      case 'reboot':
        steps.push({ op: 'reboot', target: s.target ?? 'system' });
        break;
      case 'wait_for_device':
        steps.push({ op: 'wait_for_device', timeoutMs: s.timeoutMs ?? DEFAULT_WAIT_MS });
        break;
      case 'require':
        requirements.push(s.forProduct ? { name: s.name, values: s.values, forProduct: s.forProduct } : { name: s.name, values: s.values });
        steps.push(s);
        break;
      default:
        steps.push(s);
    }
  }
  if (missing.length > 0) {
    throw new FlashError('image_not_found', `the plan names ${missing.length === 1 ? 'an image that is' : 'images that are'} missing: ${missing.join(', ')}`);
  }
  return { steps, declaredBytes, requirements };
}

/** The expanded bytes of a small image (a super_empty image is a few KiB; any supported format). */
async function superEmptyBytes(image: PlanImage): Promise<Uint8Array> {
  const max = SUPER_EMPTY_MAX_BYTES;
  if (image.declaredSize !== undefined && image.declaredSize > max) {
    throw new FlashError('image_invalid', `${image.location} is ${image.declaredSize} bytes: too large for a super_empty image (at most ${max})`);
  }
  const source = await image.open();
  if (source.size > max) throw new FlashError('image_invalid', `${source.description} expands to ${source.size} bytes: too large for a super_empty image (at most ${max})`);
  const out = new Uint8Array(source.size);
  const view = new DataView(out.buffer);
  for await (const c of source.chunks()) {
    if (c.kind === 'data') out.set(c.bytes, c.offset);
    else if (c.kind === 'fill' && c.value !== 0) for (let at = c.offset; at < c.offset + c.length; at += 4) view.setUint32(at, c.value, true);
  }
  return out;
}

function loaded(name: string, origin: string, r: { steps: LoadedStep[]; declaredBytes: number; requirements: Requirement[] }, close: () => Promise<void> | void): LoadedPlan {
  let closed = false;
  return {
    name,
    origin,
    steps: r.steps,
    requirements: r.requirements,
    declaredBytes: r.declaredBytes,
    async close() {
      if (closed) return;
      closed = true;
      await close();
    },
  };
}

/** Load a plan: a path to a bundle folder, bundle zip, manifest (.json/.yaml) or factory zip, or an inline plan. */
export async function loadPlan(input: string | PlanInput): Promise<LoadedPlan> {
  if (typeof input !== 'string') {
    const m = checkManifest(input, 'inline plan');
    return loaded(m.name ?? 'inline plan', 'inline', await resolveSteps(m, folderResolver(undefined)), () => undefined);
  }
  const path = resolve(input);
  const st = await stat(path).catch((e: unknown) => {
    throw fileError(e, path);
  });
  if (st.isDirectory()) {
    for (const f of MANIFEST_FILES) {
      const p = join(path, f);
      const text = await readFile(p, 'utf8').catch(() => null);
      if (text === null) continue;
      const m = parseManifestText(text, p);
      return loaded(m.name ?? basename(path), path, await resolveSteps(m, folderResolver(path)), () => undefined);
    }
    throw new FlashError('image_invalid', `${path} is a folder without a manifest (${MANIFEST_FILES.slice(0, 2).join(' or ')})`);
  }
  const file = fileByteSource(path, 0, st.size, basename(path));
  if (sniff(await peek(file, 8)) === 'zip') {
    const zip = await openZip(file, basename(path));
    try {
      const files = zip.entries.filter((e) => !e.isDirectory);
      const manifest = files
        .filter((e) => MANIFEST_FILES.includes(e.name.split('/').pop() ?? ''))
        .sort((a, b) => a.name.split('/').length - b.name.split('/').length)[0];
      if (manifest) {
        const prefix = manifest.name.includes('/') ? manifest.name.slice(0, manifest.name.lastIndexOf('/') + 1) : '';
        const m = parseManifestText(await readSmall(zip.entry(manifest.name)), `${zip.description}!${manifest.name}`);
        return loaded(m.name ?? basename(path), path, await resolveSteps(m, zipResolver(zip, prefix)), () => zip.close());
      }
      if (isFactoryZip(zip)) {
        const f = await planFactory(zip, basename(path).replace(/\.zip$/i, ''));
        return loaded(f.name, path, f, async () => {
          await f.close();
          zip.close();
        });
      }
    } catch (e) {
      zip.close();
      throw e;
    }
    zip.close();
    throw new FlashError('image_invalid', `${path} is a zip without a manifest (flash.json/flash.yaml) and is not a factory image`);
  }
  if (st.size > 1 << 20) throw new FlashError('image_invalid', `${path} is not a plan (a manifest, bundle or factory zip); flash it as an image`);
  const m = parseManifestText(await readFile(path, 'utf8'), path);
  return loaded(m.name ?? basename(path), path, await resolveSteps(m, folderResolver(dirname(path))), () => undefined);
}

/** Open a loaded step's image (if any), giving the PlanStep a driver runs. Call once per step, when it runs. */
export async function openPlanStep(step: LoadedStep, signal?: AbortSignal): Promise<PlanStep> {
  if (step.op === 'flash') {
    const source = await step.image.open({ signal });
    return step.slot ? { op: 'flash', partition: step.partition, source, slot: step.slot } : { op: 'flash', partition: step.partition, source };
  }
  if (step.op === 'verify') return { op: 'verify', partition: step.partition, source: await step.image.open({ signal }) };
  return step;
}
