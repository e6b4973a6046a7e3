// The station's access token: $FLASH_STATION_TOKEN if set, else DATA_DIR/token (random, 0600), created on first start.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FlashError } from '../core/errors.js';

export const TOKEN_FILE = 'token';

/**
 * 256 random bits, base64url (43 characters), never starting with '-': `--token -Abc…` reads as a missing value to
 * every option parser (Node's parseArgs refuses it as ambiguous), so one token in 64 broke the copied command line.
 */
export function newToken(): string {
  for (;;) {
    const token = randomBytes(32).toString('base64url');
    if (!token.startsWith('-')) return token;
  }
}

/** Token from the environment or DATA_DIR/token; creates the file (256 random bits, mode 0600) when it is missing. */
export async function loadOrCreateToken(dataDir: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const fromEnv = env.FLASH_STATION_TOKEN?.trim();
  if (fromEnv) return fromEnv;
  const file = join(dataDir, TOKEN_FILE);
  const existing = await readTokenFile(dataDir);
  if (existing) return existing;
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const token = newToken();
  try {
    // 'wx': never overwrite a token another process wrote a moment ago.
    await writeFile(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      const raced = await readTokenFile(dataDir);
      if (raced) return raced;
    }
    throw new FlashError('internal', `Cannot write the token file ${file}: ${(e as Error).message}`, { cause: e });
  }
  await chmod(file, 0o600);
  return token;
}

/** The token stored in DATA_DIR/token, or undefined when there is none. */
export async function readTokenFile(dataDir: string): Promise<string | undefined> {
  try {
    const text = (await readFile(join(dataDir, TOKEN_FILE), 'utf8')).trim();
    return text || undefined;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new FlashError('internal', `Cannot read the token file in ${dataDir}: ${(e as Error).message}`, { cause: e });
  }
}

/** Replace DATA_DIR/token with a fresh random token (mode 0600) and return it. */
export async function rotateToken(dataDir: string): Promise<string> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const token = newToken();
  const file = join(dataDir, TOKEN_FILE);
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, `${token}\n`, { mode: 0o600 });
  await chmod(temp, 0o600);
  const { rename } = await import('node:fs/promises');
  await rename(temp, file);
  return token;
}
