// Reading a small text file a plan is made of (a manifest, ESP-IDF's flasher_args.json, …) from disk: only a regular
// file, and at most a bound of bytes. A FIFO would hold a libuv worker until a writer came, and /dev/zero or a file
// that keeps growing would fill memory; every family's plan reader goes through here.
import { constants as fsConstants } from 'node:fs';
import { open } from 'node:fs/promises';
import { FlashError } from '../contracts/errors.js';
import { fileError } from './byte-source.js';

/** The largest plan file read by default: a plan names its images, it does not hold them. */
export const SMALL_FILE_MAX = 1 << 20;

export interface SmallFileOptions {
  /** At most this many bytes (default SMALL_FILE_MAX); a larger file is refused with `image_invalid`. */
  maxBytes?: number;
  /** What the file is, for the errors: "a manifest", "a flasher_args.json". */
  what?: string;
}

/**
 * The text of `path` when it is a regular file of at most `maxBytes`. Throws FlashError: `image_not_found` (missing),
 * `image_unreadable` (not a regular file, or no permission), `image_invalid` (too large, also when it grew past the
 * bound while being read). Never waits on a FIFO or device: the open is non-blocking and fstat decides.
 */
export async function readSmallFile(path: string, options: SmallFileOptions = {}): Promise<string> {
  const maxBytes = options.maxBytes ?? SMALL_FILE_MAX;
  const what = options.what ?? 'a plan file';
  const handle = await open(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK).catch((e: unknown) => {
    throw fileError(e, path);
  });
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new FlashError('image_unreadable', `${path} is not a regular file; ${what} must be one.`);
    const tooLarge = (): FlashError => new FlashError('image_invalid', `${path} is over ${maxBytes} bytes; ${what} is at most ${maxBytes} bytes.`);
    if (st.size > maxBytes) throw tooLarge();
    // Read to the end, one byte past the bound at most: the size fstat gave may already be stale.
    let buf = Buffer.alloc(Math.min(maxBytes + 1, st.size + 1));
    let length = 0;
    for (;;) {
      if (length === buf.length) {
        if (length > maxBytes) throw tooLarge();
        const grown = Buffer.alloc(Math.min(maxBytes + 1, buf.length * 2));
        buf.copy(grown, 0, 0, length);
        buf = grown;
      }
      const { bytesRead } = await handle.read(buf, length, buf.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return buf.subarray(0, length).toString('utf8');
  } finally {
    await handle.close();
  }
}
