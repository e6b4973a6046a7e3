// Types of scripts/cli-build.mjs, for the benchmarks that build the CLI the way `npm run build` does.
export function buildCli(options: {
  root: string;
  outdir: string;
  define: Record<string, string>;
  sourcemap?: boolean;
  logLevel?: 'error' | 'warning' | 'info' | 'silent';
}): Promise<void>;
