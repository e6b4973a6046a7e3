// The one list of error codes and the words for a file that cannot be read.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FlashError, fileReadReason, isErrorCode, toFlashError } from '../../../src/contracts/errors.js';

describe('fileReadReason', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-errors-'));
  const reason = (path: string): string => {
    try {
      readFileSync(path);
    } catch (e) {
      return fileReadReason(e);
    }
    return 'read';
  };

  it('says in words why a real file could not be read', () => {
    try {
      writeFileSync(join(dir, 'file'), 'x');
      expect(reason(join(dir, 'missing.pem'))).toBe('it does not exist');
      expect(reason(dir)).toBe('it is a folder, not a file');
      expect(reason(join(dir, 'file', 'below.pem'))).toBe('a part of its path is a file, not a folder');
      expect(reason(join(dir, 'file'))).toBe('read');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names permission problems, and keeps the system text for other reasons', () => {
    expect(fileReadReason(Object.assign(new Error('EACCES: permission denied, open x'), { code: 'EACCES' }))).toBe('permission denied');
    expect(fileReadReason(Object.assign(new Error('EPERM: operation not permitted'), { code: 'EPERM' }))).toBe('permission denied');
    expect(fileReadReason(Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' }))).toBe('EIO: i/o error, read');
    expect(fileReadReason('odd')).toBe('odd');
  });
});

describe('error codes', () => {
  it('knows its own codes and wraps anything else as internal', () => {
    expect(isErrorCode('image_not_found')).toBe(true);
    expect(isErrorCode('no_such_code')).toBe(false);
    const e = toFlashError(new Error('boom'));
    expect(e).toBeInstanceOf(FlashError);
    expect(e.code).toBe('internal');
  });
});
