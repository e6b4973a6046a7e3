// The CLI's version: injected by scripts/build.mjs (esbuild define); `0.0.0-dev` when run from source.

declare const __FLASH_STATION_VERSION__: string | undefined;

export const CLI_VERSION: string = typeof __FLASH_STATION_VERSION__ === 'string' ? __FLASH_STATION_VERSION__ : '0.0.0-dev';
