// What electron-builder.yml packs from node_modules, worked out with electron-builder's own file matchers: each
// platform/arch keeps only its own koffi, lzma-native and serialport binaries (koffi alone ships 18 platforms, ~74 MB),
// and native modules' sources and build leftovers stay out.
import { lstatSync, readFileSync, readdirSync, type Stats } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = resolve(import.meta.dirname, '../../..');
const require = createRequire(import.meta.url);
const config = parse(readFileSync(join(root, 'electron-builder.yml'), 'utf8')) as Record<string, unknown>;

type Filter = (file: string, stat: Stats & { moduleFullFilePath?: string }) => boolean;
interface Matcher {
  patterns: string[];
  createFilter(): Filter;
}
const { getNodeModuleFileMatcher, FileMatcher } = require('app-builder-lib/out/fileMatcher.js') as {
  getNodeModuleFileMatcher(appDir: string, dest: string, expand: (p: string) => string, platformOptions: unknown, packager: unknown): Matcher;
  FileMatcher: new (from: string, to: string, expand: (p: string) => string, patterns: string[]) => Matcher;
};
const { expandMacro } = require('app-builder-lib/out/util/macroExpander.js') as {
  expandMacro(pattern: string, arch: string, appInfo: unknown, extra: Record<string, string>): string;
};

/** The files of one package that electron-builder would copy when packing `os` (linux, win, mac) for `arch`. */
function packedFiles(pkg: string, os: 'linux' | 'win' | 'mac', arch: string): string[] {
  // As PlatformPackager.createGetFileMatchersOptions expands macros: ${os} is the platform's config key.
  const expand = (p: string): string => expandMacro(p, arch, { productName: 'Flash Station', sanitizedProductName: 'Flash Station' }, { os, '/*': '{,/**/*}' });
  const modules = getNodeModuleFileMatcher(root, '/out/app', expand, config[os] ?? {}, { config, debugLogger: { isEnabled: false } });
  const dir = join(root, 'node_modules', pkg);
  // As computeNodeModuleFileSets does: one matcher per package, paths seen relative to the app root.
  const filter = new FileMatcher(dir, `/out/app/node_modules/${pkg}`, expand, modules.patterns).createFilter();
  const kept: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      const stat = Object.assign(lstatSync(path), { moduleFullFilePath: join('node_modules', pkg, relative(dir, path)) });
      if (!filter(path, stat)) continue;
      if (stat.isDirectory()) walk(path);
      else kept.push(relative(dir, path));
    }
  };
  walk(dir);
  return kept.sort();
}

const packedBinaries = (pkg: string, os: 'linux' | 'win' | 'mac', arch: string): string[] => packedFiles(pkg, os, arch).filter((f) => f.endsWith('.node'));

const targets = [
  ['linux', 'x64', 'linux'],
  ['linux', 'arm64', 'linux'],
  ['win', 'x64', 'win32'],
  ['win', 'ia32', 'win32'],
  ['win', 'arm64', 'win32'],
  ['mac', 'x64', 'darwin'],
  ['mac', 'arm64', 'darwin'],
] as const;

describe('native binaries in the packages', () => {
  it('node_modules holds koffi for many platforms (what the excludes are for)', () => {
    expect(readdirSync(join(root, 'node_modules/koffi/build/koffi')).length).toBeGreaterThanOrEqual(18);
  });

  it.each(targets)('%s %s packs only koffi build/koffi/%s_<arch>/koffi.node', (os, arch, platform) => {
    expect(packedBinaries('koffi', os, arch)).toEqual([`build/koffi/${platform}_${arch}/koffi.node`]);
  });

  it.each(targets)('%s %s packs only lzma-native prebuilds of its own platform', (os, arch, platform) => {
    const kept = packedBinaries('lzma-native', os, arch);
    expect(kept.every((f) => f.startsWith(`prebuilds/${platform}-${arch}/`))).toBe(true);
    if (!(os === 'win' && arch === 'arm64')) expect(kept).toContain(`prebuilds/${platform}-${arch}/electron.napi.node`);
  });

  it.each(targets)('%s %s packs only @serialport/bindings-cpp prebuilds of its own platform', (os, arch, platform) => {
    const kept = packedBinaries('@serialport/bindings-cpp', os, arch);
    const dir = platform === 'darwin' ? 'prebuilds/darwin-x64+arm64/' : `prebuilds/${platform}-${arch}/`;
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.every((f) => f.startsWith(dir))).toBe(true);
  });

  it('leaves out sources and build leftovers, keeping what each module loads', () => {
    const koffi = packedFiles('koffi', 'linux', 'x64');
    expect(koffi).toContain('index.js');
    expect(koffi.filter((f) => /^(src|vendor|doc)\//.test(f))).toEqual([]);
    const sqlite = packedFiles('better-sqlite3', 'linux', 'x64');
    expect(sqlite).toEqual(expect.arrayContaining(['lib/index.js', 'build/Release/better_sqlite3.node']));
    expect(sqlite.filter((f) => /^(deps|src)\/|\/obj(\.target)?\/|test_extension\.node/.test(f))).toEqual([]);
    const zstd = packedFiles('zstd-napi', 'linux', 'x64');
    expect(zstd).toEqual(expect.arrayContaining(['binding.js', 'build/Release/binding.node']));
    expect(zstd.filter((f) => f.startsWith('deps/'))).toEqual([]);
  });

  it('keeps the other native modules (usb 3 loads its binary from an @node-usb package; better-sqlite3)', () => {
    expect(packedBinaries('better-sqlite3', 'linux', 'x64')).toContain('build/Release/better_sqlite3.node');
    expect(packedBinaries('@node-usb/usb-linux-x64-gnu', 'linux', 'x64')).toEqual(['usb.linux-x64-gnu.node']);
    expect(config.asarUnpack).toContain('node_modules/@node-usb/**');
  });
});
