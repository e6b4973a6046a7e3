// How the `flash-station` command is bundled (esbuild), for scripts/build.mjs and the benchmarks that time the CLI.
//
// Two bundles, so that each command loads only what it needs and the client commands skip Node's ES module loader:
// - `cli.cjs` (CommonJS, one file): src/cli/main.ts with the client commands (flash, devices, jobs, watch, pause,
//   resume, cancel) inside. Loading it takes ~10 ms less than the same code as ES module chunks (Node 20 starts its
//   ES module loader, resolves and links each chunk), and bin/flash-station.cjs is CommonJS for the same reason.
// - `cli-esm/{serve,fleet,sim}.js` (ES modules, split into shared `cli-chunks/`): the commands that load the station,
//   the families and packages published only as ES modules (conf, esptool-js). main.ts's dynamic imports of them are
//   pointed at these files.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { join } from 'node:path';

/** The heavy commands: how main.ts imports each, its source, and its ES module entry `cli-esm/NAME.js`. */
const ESM_COMMANDS = [
  { name: 'serve', imported: './commands/serve.js', source: 'src/cli/commands/serve.ts' },
  { name: 'fleet', imported: './commands/fleet.js', source: 'src/cli/commands/fleet.ts' },
  { name: 'sim', imported: '../sim/cli.js', source: 'src/sim/cli.ts' },
];
const ESM_ENTRIES = Object.fromEntries(ESM_COMMANDS.map((c) => [`cli-esm/${c.name}`, c.source]));

/**
 * `ws` is bundled rather than loaded from node_modules: Node loads a CommonJS package from ESM by lexing each of its
 * files for exports, and for `ws` that was ~0.13 s of a command's start. Its `require`s of Node built-ins (and of the
 * optional bufferutil) go through the `require` the banner defines. Every other package stays in node_modules.
 */
const packagesExceptWs = {
  name: 'packages-except-ws',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (a) => (a.path === 'ws' || a.path.startsWith('ws/') ? undefined : { path: a.path, external: true }));
  },
};
const esmCommands = {
  name: 'esm-commands',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (a) => {
      const command = a.importer.endsWith(join('src', 'cli', 'main.ts')) ? ESM_COMMANDS.find((c) => c.imported === a.path) : undefined;
      return command ? { path: `./cli-esm/${command.name}.js`, external: true } : undefined;
    });
  },
};
const requireBanner = "import { createRequire as __fsCreateRequire } from 'node:module';\nconst require = __fsCreateRequire(import.meta.url);";

/** Bundle the CLI into `outdir` (dist/ for the package). */
export async function buildCli({ root, outdir, define, sourcemap = true, logLevel = 'warning' }) {
  for (const stale of ['cli.js', 'cli.js.map', 'cli.cjs', 'cli.cjs.map', 'cli-esm', 'cli-chunks']) {
    rmSync(join(outdir, stale), { recursive: true, force: true }); // chunk names carry hashes: drop stale ones
  }
  const common = { bundle: true, platform: 'node', target: 'node20', sourcemap, logLevel, define, absWorkingDir: root };
  await Promise.all([
    build({ ...common, entryPoints: { cli: 'src/cli/main.ts' }, outdir, outExtension: { '.js': '.cjs' }, format: 'cjs',
      plugins: [esmCommands, packagesExceptWs] }),
    build({ ...common, entryPoints: ESM_ENTRIES, outdir, splitting: true, chunkNames: 'cli-chunks/[name]-[hash]',
      format: 'esm', plugins: [packagesExceptWs], banner: { js: requireBanner } }),
  ]);
}
