// Images a plan refers to: files beside a manifest, or entries of a (possibly nested) zip; opened lazily.
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { FlashError } from '../contracts/errors.js';
import type { ByteSource } from './byte-source.js';
import { openByteSource, openImage } from './open.js';
import { SpoolFile } from './spool.js';
import type { PlanImage } from './types.js';
import type { ZipArchive } from './zip.js';

/** Turns a manifest's image names into PlanImages, checking each exists (and is safe) first. */
export interface ImageResolver {
  resolve(name: string): Promise<PlanImage>;
}

/**
 * Where a plan's images that must be decoded before writing are decoded (spool.ts): one spool file per image, made
 * when first needed and shared by every job of the plan's batch, all deleted when the plan is closed.
 */
export class PlanSpools {
  private readonly files = new Map<string, SpoolFile>();

  constructor(private readonly dir: string) {}

  for(key: string): SpoolFile {
    let f = this.files.get(key);
    if (!f) {
      f = new SpoolFile(join(this.dir, `${randomUUID()}.raw`));
      this.files.set(key, f);
    }
    return f;
  }

  async close(): Promise<void> {
    await Promise.all([...this.files.values()].map((f) => f.remove()));
  }
}

/** Images are files: relative names inside `baseDir` (a bundle folder), or absolute paths when `baseDir` is undefined. */
export function folderResolver(baseDir: string | undefined, spools?: PlanSpools): ImageResolver {
  return {
    async resolve(name: string): Promise<PlanImage> {
      let path: string;
      if (baseDir === undefined) {
        if (!isAbsolute(name)) throw new FlashError('bad_request', `image ${name} must be an absolute path on the station's machine`);
        path = name;
      } else {
        if (isAbsolute(name) || /^[a-zA-Z]:/.test(name)) throw new FlashError('image_invalid', `manifest names ${name}: image paths must be relative to the bundle`);
        path = resolve(baseDir, name);
        const rel = relative(baseDir, path);
        if (rel.startsWith('..') || isAbsolute(rel)) throw new FlashError('image_invalid', `manifest names ${name}, which lies outside the bundle`);
      }
      const st = await stat(path).catch(() => null);
      if (!st) throw new FlashError('image_not_found', `${name} is named by the plan but ${path} does not exist`);
      if (!st.isFile()) throw new FlashError('image_unreadable', `${name} is named by the plan but ${path} is not a regular file; an image must be one.`);
      return {
        name, location: path, declaredSize: st.size,
        open: (o) => openImage(path, { signal: o?.signal, ...(spools ? { spool: spools.for(path) } : {}), ...(o?.onPrepare ? { onPrepare: o.onPrepare } : {}) }),
      };
    },
  };
}

/** Images are entries of a zip (a bundle zip or a factory image's nested zip). */
export function zipResolver(zip: ZipArchive, prefix = '', spools?: PlanSpools): ImageResolver {
  const names = new Set(zip.entries.filter((e) => !e.isDirectory).map((e) => e.name));
  return {
    async resolve(name: string): Promise<PlanImage> {
      const clean = name.replace(/^\.\//, '');
      if (clean.startsWith('/') || clean.split('/').includes('..')) {
        throw new FlashError('image_invalid', `manifest names ${name}: image paths must stay inside the bundle`);
      }
      const full = prefix + clean;
      if (!names.has(full)) throw new FlashError('image_not_found', `${name} is named by the plan but ${zip.description} has no ${full}`);
      const info = zip.entries.find((e) => e.name === full);
      return zipImage(zip, full, name, info?.size, spools);
    },
  };
}

export function zipImage(zip: ZipArchive, entry: string, name: string, declaredSize?: number, spools?: PlanSpools): PlanImage {
  return {
    name,
    location: `${zip.description}!${entry}`,
    declaredSize,
    open: (o) => openByteSource(zip.entry(entry), {
      name: entry.split('/').pop() ?? entry, signal: o?.signal, hash: true, chain: ['zip'],
      // A zip overwritten while its image is flashed fails the job (image_mismatch), as a plain image file does.
      ...(zip.unchanged ? { unchanged: zip.unchanged } : {}),
      ...(spools ? { spool: { file: spools.for(entry), ...(o?.onPrepare ? { onPrepare: o.onPrepare } : {}) } } : {}),
    }),
  };
}

/** All bytes of a small entry (manifests, android-info.txt), refusing anything over `max`. */
export async function readSmall(src: ByteSource, max = 1 << 20): Promise<string> {
  return (await readSmallBytes(src, max)).toString('utf8');
}

/** A small entry's bytes, at most `max` (FlashError `image_invalid` beyond). */
export async function readSmallBytes(src: ByteSource, max: number): Promise<Buffer> {
  if (src.size !== undefined && src.size > max) throw new FlashError('image_invalid', `${src.description} is too large (${src.size} bytes)`);
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const b of src.stream()) {
    n += b.length;
    if (n > max) throw new FlashError('image_invalid', `${src.description} is too large`);
    parts.push(new Uint8Array(b)); // lent slice
  }
  return Buffer.concat(parts);
}
