// The DFU family (USB DFU 1.1 and ST's DfuSe), registered in src/families.ts; docs/dfu.md.
import { createDfuFamily } from './family.js';

export { createDfuFamily, type DfuFamilyOptions } from './family.js';
export { parseDfuFile, checkSuffixMatches, checkElementsInLayout, buildDfuSuffix, buildDfuseFile } from './file.js';

export const dfuFamily = createDfuFamily();
