// HTTP statuses of the error codes, and docs/protocol.md's "Error codes" table: every code once, statuses as served.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../../src/protocol/messages.js';
import { statusFor } from '../../../src/server/http-errors.js';

const doc = readFileSync(resolve(import.meta.dirname, '../../../docs/protocol.md'), 'utf8');
const section = doc.slice(doc.indexOf('## Error codes'));
const rows = [...section.matchAll(/^\| `([a-z_]+)` \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$/gm)].map((m) => ({
  code: m[1]!, http: m[2]!.trim(), meaning: m[3]!.trim(), action: m[4]!.trim(),
}));

describe('error codes', () => {
  it('docs/protocol.md lists every code of ERROR_CODES exactly once, each with a meaning and what to do', () => {
    expect(rows.map((r) => r.code).sort()).toEqual([...ERROR_CODES].sort());
    for (const r of rows) {
      expect(r.meaning.length, r.code).toBeGreaterThan(10);
      expect(r.action.length, r.code).toBeGreaterThan(10);
    }
  });

  it('the HTTP status in the table is the one the station answers with', () => {
    for (const r of rows) {
      const first = /^\d{3}/.exec(r.http)?.[0];
      if (first) expect(statusFor(r.code as (typeof ERROR_CODES)[number]), r.code).toBe(Number(first));
    }
  });

  it('user faults are 4xx and station or device faults 5xx', () => {
    expect(statusFor('bad_request')).toBe(400);
    expect(statusFor('unauthorized')).toBe(401);
    expect(statusFor('image_mismatch')).toBe(400);
    expect(statusFor('device_busy')).toBe(409);
    expect(statusFor('internal')).toBe(500);
    expect(statusFor('timeout')).toBe(500);
  });
});
