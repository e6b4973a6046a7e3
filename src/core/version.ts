// The station's version string: injected by the esbuild bundles, `0.0.0-dev` when run from source (tests).

declare const __FLASH_STATION_VERSION__: string | undefined;

export const STATION_VERSION: string =
  typeof __FLASH_STATION_VERSION__ === 'string' ? __FLASH_STATION_VERSION__ : '0.0.0-dev';
