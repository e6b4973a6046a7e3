// ESP plans: ESP-IDF's build/flasher_args.json (or a folder holding one), each flash_files entry at its offset; and an
// Arduino/PlatformIO merged binary, written whole from address 0.
import { open, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { FlashError } from '../../contracts/errors.js';
import type { LoadedPlan, LoadedStep } from '../../contracts/plan.js';
import { parseErrorPlace } from '../../images/parse-place.js';
import { folderResolver } from '../../images/plan-images.js';
import { readSmallFile } from '../../images/small-file.js';

const FILE = 'flasher_args.json';
const MAX_JSON = 1 << 20;

interface FlasherArgs {
  flash_files?: Record<string, unknown>;
  extra_esptool_args?: { chip?: unknown; after?: unknown };
}

/** Where the flasher_args.json for `path` is: the file itself, or inside the folder (or its build/). */
async function locate(path: string): Promise<string | undefined> {
  const st = await stat(path).catch(() => undefined);
  if (!st) return undefined;
  if (st.isFile()) return basename(path) === FILE ? path : undefined;
  if (!st.isDirectory()) return undefined;
  for (const candidate of [join(path, FILE), join(path, 'build', FILE)]) {
    if ((await stat(candidate).catch(() => undefined))?.isFile()) return candidate;
  }
  return undefined;
}

/** Parse the JSON text; throws `image_invalid` saying what is wrong. Exported for tests. */
export function parseFlasherArgs(text: string, where: string): { files: Array<{ address: number; name: string }>; chip?: string; reboot: boolean } {
  let json: FlasherArgs;
  try {
    json = JSON.parse(text) as FlasherArgs;
  } catch (e) {
    // The place, never V8's message: it quotes the text around the error.
    throw new FlashError('image_invalid', `${where} is not valid JSON (${parseErrorPlace(e, text)}); rebuild with idf.py build`);
  }
  const ff = json.flash_files;
  if (!ff || typeof ff !== 'object' || Array.isArray(ff)) throw new FlashError('image_invalid', `${where} has no "flash_files" object; is it ESP-IDF's build/flasher_args.json?`);
  const files: Array<{ address: number; name: string }> = [];
  for (const [i, [key, value]] of Object.entries(ff).entries()) {
    const address = /^0x[0-9a-f]+$/i.test(key) ? parseInt(key, 16) : /^\d+$/.test(key) ? Number(key) : NaN;
    if (!Number.isSafeInteger(address) || typeof value !== 'string' || !value) {
      // Named by its place, not its text (the file's content is never echoed).
      const wrong = Number.isSafeInteger(address) ? 'its value is not a file name' : 'its key is not an offset';
      throw new FlashError('image_invalid', `${where}: flash_files entry ${i + 1} (${wrong}) must map a hex offset to a file name`);
    }
    files.push({ address, name: value });
  }
  if (!files.length) throw new FlashError('image_invalid', `${where} lists no flash_files`);
  files.sort((a, b) => a.address - b.address);
  for (let i = 1; i < files.length; i++) {
    const prev = files[i - 1];
    const cur = files[i];
    if (prev && cur && prev.address === cur.address) throw new FlashError('image_invalid', `${where} lists two files at 0x${cur.address.toString(16)}`);
  }
  const chip = typeof json.extra_esptool_args?.chip === 'string' ? json.extra_esptool_args.chip : undefined;
  const after = json.extra_esptool_args?.after;
  return { files, ...(chip ? { chip } : {}), reboot: after === undefined || after === 'hard_reset' || after === 'hard-reset' };
}

/**
 * An Arduino/PlatformIO merged binary (`*.merged.bin`, `firmware.factory.bin`): one image from flash address 0 holding
 * the bootloader (an 0xE9 header at 0 or 0x1000) and the partition table (0xAA50 entries at 0x8000).
 */
export function isMergedBinary(head: Uint8Array): boolean {
  if (head.length < 0x8020) return false;
  const boot = head[0] === 0xe9 || head[0x1000] === 0xe9;
  return boot && head[0x8000] === 0xaa && head[0x8001] === 0x50;
}

async function mergedPlan(path: string): Promise<LoadedPlan | undefined> {
  const st = await stat(path).catch(() => undefined);
  if (!st?.isFile() || st.size < 0x8020 || !/\.bin$/i.test(path)) return undefined;
  const head = new Uint8Array(0x8020);
  const fh = await open(path, 'r');
  try {
    await fh.read(head, 0, head.length, 0);
  } finally {
    await fh.close();
  }
  if (!isMergedBinary(head)) return undefined;
  const image = await folderResolver(dirname(path)).resolve(basename(path));
  return {
    name: `merged binary ${basename(path)}`,
    origin: path,
    steps: [{ op: 'flash', target: { address: 0 }, image }, { op: 'reboot', mode: 'hard' }],
    declaredBytes: st.size,
    close: async () => undefined,
  };
}

/** Family.readPlan: a plan when `path` is (or holds) flasher_args.json, or is a merged binary; else undefined. */
export async function readEspPlan(path: string): Promise<LoadedPlan | undefined> {
  const file = await locate(path);
  if (!file) return mergedPlan(path);
  // Bounded and regular-file-only, even if the file changed since locate() looked at it.
  const parsed = parseFlasherArgs(await readSmallFile(file, { maxBytes: MAX_JSON, what: 'a flasher_args.json' }), file);
  const resolver = folderResolver(dirname(file));
  const steps: LoadedStep[] = [];
  let declaredBytes = 0;
  for (const f of parsed.files) {
    const image = await resolver.resolve(f.name);
    declaredBytes += image.declaredSize ?? 0;
    steps.push({ op: 'flash', target: { address: f.address }, image, ...(parsed.chip ? { options: { chip: parsed.chip } } : {}) });
  }
  if (parsed.reboot) steps.push({ op: 'reboot', mode: 'hard' });
  return {
    name: `ESP-IDF build (${parsed.files.length} files${parsed.chip ? ` for ${parsed.chip}` : ''})`,
    origin: file,
    steps,
    declaredBytes,
    close: async () => undefined,
  };
}
