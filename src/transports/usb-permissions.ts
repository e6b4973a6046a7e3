// Recognises "no permission to open this USB device" errors, and finds the udev rule we ship so the message can name it.
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** Where the rule lives in the source tree and the npm package (the families' docs explain how to install it). */
export const UDEV_RULE_PATH = 'build/udev/70-flash-station.rules';

/**
 * The rule as a path the user can copy from: in the desktop app's resources (`resources/udev/`, where the deb installs
 * it from), beside the running CLI's package (`build/udev/`), or in the current directory; else the source-tree path.
 */
export function udevRulePath(
  where: { resourcesPath?: string | undefined; script?: string | undefined; cwd?: string } = {
    resourcesPath: (process as { resourcesPath?: string }).resourcesPath,
    script: process.argv[1],
    cwd: process.cwd(),
  },
): string {
  const name = 'udev/70-flash-station.rules';
  const candidates: string[] = [];
  if (where.resourcesPath) candidates.push(join(where.resourcesPath, name));
  if (where.script) {
    // bin/flash-station.cjs or dist/cli.cjs: the package root is one directory up — from the file itself, not from the
    // node_modules/.bin link that npm installs (process.argv[1] is the link).
    candidates.push(resolve(dirname(realPath(where.script)), '..', UDEV_RULE_PATH));
  }
  if (where.cwd) candidates.push(resolve(where.cwd, UDEV_RULE_PATH));
  return candidates.find((c) => existsSync(c)) ?? UDEV_RULE_PATH;
}

function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

export function isPermissionError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  const text = e instanceof Error ? `${e.name} ${e.message} ${typeof code === 'string' || typeof code === 'number' ? code : ''}` : String(e);
  return /EACCES|EPERM|LIBUSB_ERROR_ACCESS|permission denied|access denied|SecurityError|operation not permitted/i.test(text);
}
