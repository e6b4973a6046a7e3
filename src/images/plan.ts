// Flash plans: bundles (folder or zip with a manifest), manifests, Android factory images and inline plans.
import { constants as fsConstants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import type { Ajv } from 'ajv';
import type { PlanStep } from '../core/types.js';
import type { PlanInput } from '../protocol/messages.js';
import { FlashError } from '../contracts/errors.js';
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

/** `line L, column C` of a JSON or YAML parse error, from the parser's position, without quoting the text. */
export function parseErrorPlace(e: unknown, text: string): string {
  const linePos = (e as { linePos?: Array<{ line: number; col: number }> } | null)?.linePos?.[0];
  if (linePos) return `line ${linePos.line}, column ${linePos.col}`;
  const at = jsonErrorOffset(text);
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  return `line ${line}, column ${at - before.lastIndexOf('\n')}`;
}

/**
 * Offset of the first character that makes `text` invalid JSON (text.length when it ends too early). V8's own
 * messages quote the text around the error instead of giving a position, so the place is found here.
 */
export function jsonErrorOffset(text: string): number {
  const token = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;
  const key = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
  const n = text.length;
  let i = 0;
  const eat = (r: RegExp): boolean => {
    r.lastIndex = i;
    const m = r.exec(text);
    if (!m) return false;
    i += m[0].length;
    return true;
  };
  const skipWs = (): void => {
    while (i < n && ' \t\n\r'.includes(text[i] as string)) i++;
  };
  const closers: string[] = [];
  let state: 'value' | 'key' | 'after' = 'value';
  for (;;) {
    skipWs();
    if (state === 'value') {
      const c = text[i];
      if (c === '{' || c === '[') {
        i++;
        skipWs();
        const close = c === '{' ? '}' : ']';
        if (text[i] === close) {
          i++;
          state = 'after';
        } else {
          closers.push(close);
          state = close === '}' ? 'key' : 'value';
        }
        continue;
      }
      if (!eat(token)) return i;
      state = 'after';
      continue;
    }
    if (state === 'key') {
      if (!eat(key)) return i;
      skipWs();
      if (text[i] !== ':') return i;
      i++;
      state = 'value';
      continue;
    }
    const close = closers[closers.length - 1];
    if (close === undefined || i >= n) return i;
    if (text[i] === ',') {
      i++;
      state = close === '}' ? 'key' : 'value';
    } else if (text[i] === close) {
      i++;
      closers.pop();
    } else {
      return i;
    }
  }
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

/** Largest manifest read (a plan names its images; it does not hold them). */
const MAX_MANIFEST = 1 << 20;

/**
 * Read a manifest only when it is a regular file of at most MAX_MANIFEST bytes: a FIFO would block a libuv worker
 * forever and /dev/zero would fill memory. `optional`: null when it does not exist.
 */
async function readManifestFile(path: string, optional: boolean): Promise<string | null> {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then says what was opened.
  const handle = await open(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK).catch((e: unknown) => {
    if (optional && (e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw fileError(e, path);
  });
  if (!handle) return null;
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new FlashError('image_unreadable', `${path} is not a regular file; a manifest must be one.`);
    if (st.size > MAX_MANIFEST) throw new FlashError('image_invalid', `${path} is ${st.size} bytes; a manifest is at most ${MAX_MANIFEST} bytes.`);
    const buf = Buffer.alloc(st.size);
    const { bytesRead } = await handle.read(buf, 0, st.size, 0);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
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
      const text = await readManifestFile(p, true);
      if (text === null) continue;
      const m = parseManifestText(text, p);
      return loaded(m.name ?? basename(path), path, await resolveSteps(m, folderResolver(path)), () => undefined);
    }
    throw new FlashError('image_invalid', `${path} is a folder without a manifest (${MANIFEST_FILES.slice(0, 2).join(' or ')})`);
  }
  if (!st.isFile()) throw new FlashError('image_unreadable', `${path} is not a regular file or folder; a plan is a manifest, bundle or factory zip.`);
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
  if (st.size > MAX_MANIFEST) throw new FlashError('image_invalid', `${path} is not a plan (a manifest, bundle or factory zip); flash it as an image`);
  const m = parseManifestText((await readManifestFile(path, false)) ?? '', path);
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
