// Where a manifest stops being JSON: the offset the error message names instead of quoting the text.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonErrorOffset, parseErrorPlace } from '../../../src/images/parse-place.js';

describe('jsonErrorOffset', () => {
  it('points at the first character that breaks the JSON', () => {
    expect(jsonErrorOffset('{"a": [1, oops]}')).toBe(10);
    expect(jsonErrorOffset('{"a" 1}')).toBe(5);
    expect(jsonErrorOffset('{"a": 1,}')).toBe(8);
    expect(jsonErrorOffset('[1, 2')).toBe(5);
    expect(jsonErrorOffset('{"a": "\u0001"}')).toBe(6);
    expect(jsonErrorOffset('{} x')).toBe(3);
  });

  it('reaches the end of any valid JSON, and stops within a truncated one', () => {
    fc.assert(fc.property(fc.json(), (text) => {
      expect(jsonErrorOffset(text)).toBe(text.length);
    }));
    fc.assert(fc.property(fc.json().filter((t) => t.startsWith('{') || t.startsWith('[')), fc.nat(), (text, k) => {
      const cut = text.slice(0, k % text.length);
      expect(jsonErrorOffset(cut)).toBeLessThanOrEqual(cut.length);
    }));
  });

  it('names line and column, never the text', () => {
    let err: unknown;
    try {
      JSON.parse('{\n  "key": "SECRET",\n  "steps": [ nope ]\n}');
    } catch (e) {
      err = e;
    }
    expect(parseErrorPlace(err, '{\n  "key": "SECRET",\n  "steps": [ nope ]\n}')).toBe('line 3, column 14');
  });
});
