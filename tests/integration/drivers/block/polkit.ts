// The real elevation path for block tests: pkexec asking polkitd over the system D-Bus. There is no systemd here nor in
// CI: a system bus and polkitd are started by hand when none answers, and stopped after. The helper and the polkit
// action go where the .deb installs them (build/linux/after-install.sh); whatever was there before is put back after.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, statSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { BLOCK_HELPER_PATH, POLKIT_ACTION_FILE } from '../../../../src/transports/block-helper.js';

const ACTION = 'io.flashstation.block.write';
const BUS_SOCKET = '/run/dbus/system_bus_socket';
const POLKITD = '/usr/lib/polkit-1/polkitd';
/** A site administrator's rule (docs/block.md, "Privileges"), for the tests' group. */
export const RULE_FILE = '/etc/polkit-1/rules.d/49-flash-station-test.rules';
export const siteRule = (group: string): string => `// Members of "${group}" may write disks with Flash Station without a password.
polkit.addRule(function (action, subject) {
  if (action.id == "${ACTION}" && subject.isInGroup("${group}")) return polkit.Result.YES;
});
`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const run = (file: string, args: string[]): { status: number | null; out: string } => {
  const r = spawnSync(file, args, { encoding: 'utf8', timeout: 5000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}`.trim() };
};
const busCall = (method: string, ...args: string[]): { status: number | null; out: string } =>
  run('dbus-send', ['--system', '--print-reply', '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus', `org.freedesktop.DBus.${method}`, ...args]);
const polkitdOnBus = (): boolean => /boolean true/.test(busCall('NameHasOwner', 'string:org.freedesktop.PolicyKit1').out);

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); await sleep(50)) {
    if (Date.now() > end) throw new Error(`gave up after ${ms} ms waiting for ${what}`);
  }
}

/** What is at `path` now (a file, or nothing), to put back after the test changed it. */
function snapshot(path: string): () => void {
  const before = existsSync(path) ? { data: readFileSync(path), st: statSync(path) } : undefined;
  const made = existsSync(dirname(path)) ? undefined : dirname(path);
  return () => {
    rmSync(path, { force: true });
    if (before) {
      writeFileSync(path, before.data);
      chownSync(path, before.st.uid, before.st.gid);
      chmodSync(path, before.st.mode & 0o7777);
    }
    if (made) rmdirSync(made);
  };
}

/** A root-owned file with `mode`, as `install -o root -g root -m MODE` leaves it. */
function put(path: string, content: Buffer | string, mode: number): void {
  mkdirSync(dirname(path), { recursive: true });
  rmSync(path, { force: true });
  writeFileSync(path, content, { mode });
  chownSync(path, 0, 0);
  chmodSync(path, mode);
}

export interface Polkit {
  /** Put the .deb's action file in place (or take it away), and wait until polkitd knows. */
  action(installed: boolean): Promise<void>;
  /** Install the site rule for `group` (or remove it), and wait until polkit answers `uid` accordingly. */
  rule(group: string | undefined, uid: number): Promise<void>;
  stop(): void;
}

/**
 * Starts what pkexec needs (system bus, polkitd) where nothing answers yet, and installs the helper built from source
 * at BLOCK_HELPER_PATH. Returns why it cannot, as a string, when a package is missing or a daemon will not start.
 */
export async function startPolkit(): Promise<Polkit | string> {
  const missing = ['/usr/bin/pkexec', POLKITD, '/usr/bin/dbus-daemon', '/usr/bin/dbus-send', '/usr/bin/pkaction', '/usr/bin/pkcheck'].filter((p) => !existsSync(p));
  if (missing.length) return `${missing.join(', ')} not installed (Debian packages pkexec, polkitd, dbus; .ci/run installs them)`;
  if ((statSync('/usr/bin/pkexec').mode & 0o4000) === 0) return '/usr/bin/pkexec is not setuid root';
  const undo: Array<() => void> = [];
  const stop = (): void => {
    for (const u of undo.splice(0).reverse()) {
      try {
        u();
      } catch {
        // best effort: the rest still runs
      }
    }
  };
  try {
    if (busCall('GetId').status !== 0) {
      if (existsSync(BUS_SOCKET) && lstatSync(BUS_SOCKET).isSocket()) rmSync(BUS_SOCKET); // a dead bus's socket
      mkdirSync('/run/dbus', { recursive: true });
      const r = spawnSync('dbus-daemon', ['--system', '--fork', '--nopidfile', '--print-pid'], { encoding: 'utf8', timeout: 10_000 });
      const pid = Number(r.stdout.trim());
      if (r.status !== 0 || !pid) return `the system D-Bus would not start (dbus-daemon --system exit ${r.status}: ${r.stderr.trim()})`;
      undo.push(() => {
        process.kill(pid);
        rmSync(BUS_SOCKET, { force: true });
      });
      await until('the system bus', () => busCall('GetId').status === 0);
    }
    if (!polkitdOnBus()) {
      let said = '';
      const d: ChildProcess = spawn(POLKITD, ['--no-debug'], { stdio: ['ignore', 'ignore', 'pipe'] });
      d.stderr?.on('data', (b: Buffer) => (said += b.toString()));
      undo.push(() => d.kill());
      try {
        await until('polkitd on the system bus', () => d.exitCode === null && polkitdOnBus());
      } catch {
        stop();
        return `polkitd would not start (exit ${d.exitCode}): ${said.trim() || 'it did not take its bus name'}`;
      }
    }
    const bin = mkdtempSync(join(tmpdir(), 'fs-pkexec-'));
    undo.push(() => rmSync(bin, { recursive: true, force: true }));
    execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', join(bin, 'helper'), resolve('src/drivers/block/helper/block-helper.c')], { stdio: 'pipe' });
    undo.push(snapshot(BLOCK_HELPER_PATH));
    put(BLOCK_HELPER_PATH, readFileSync(join(bin, 'helper')), 0o755);
  } catch (e) {
    stop();
    throw e;
  }
  let undoAction: (() => void) | undefined;
  let undoRule: (() => void) | undefined;
  undo.push(() => undoRule?.(), () => undoAction?.());
  const policy = readFileSync(resolve('build/linux/io.flashstation.block.policy'));
  return {
    async action(installed) {
      undoAction ??= snapshot(POLKIT_ACTION_FILE);
      if (installed) put(POLKIT_ACTION_FILE, policy, 0o644);
      else rmSync(POLKIT_ACTION_FILE, { force: true });
      await until(`polkitd to ${installed ? 'load' : 'drop'} ${ACTION}`, () => (run('pkaction', ['--action-id', ACTION]).status === 0) === installed);
    },
    async rule(group, uid) {
      undoRule ??= snapshot(RULE_FILE);
      if (group) put(RULE_FILE, siteRule(group), 0o644);
      else rmSync(RULE_FILE, { force: true });
      // pkcheck asks about a process of that user (its own): 0 is authorized.
      const authorized = (): boolean => run('setpriv', ['--reuid', String(uid), '--regid', String(uid), '--clear-groups', '/bin/sh', '-c',
        `exec pkcheck --action-id ${ACTION} --process $$`]).status === 0;
      await until(`polkit to ${group ? 'apply' : 'forget'} the rule`, () => authorized() === !!group);
    },
    stop,
  };
}
