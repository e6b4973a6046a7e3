/** Errors as values: re-exported from the bottom layer (src/contracts/errors.ts), where the one list of codes lives. */
export { FlashError, isFlashError, toFlashError, type ErrorCode } from '../contracts/errors.js';
