// Station ids and topics: wildcards and separators refused, topics split back exactly.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTopic, stationIdProblem, topicOf } from '../../../src/fleet/topics.js';

describe('station ids', () => {
  it.each(['a/b', 'line+1', 'st#', '', '$SYS', 'a\u0000b'])('refuses %j', (id) => {
    expect(stationIdProblem(id)).toBeDefined();
  });
  it('accepts ordinary names', () => {
    expect(stationIdProblem('bench-07.line2')).toBeUndefined();
  });
  it('round-trips every acceptable id through its topic', () => {
    fc.assert(fc.property(fc.string({ minLength: 1, maxLength: 40 }), (id) => {
      if (stationIdProblem(id) !== undefined) return;
      expect(parseTopic(topicOf(id, 'events'))).toEqual({ stationId: id, kind: 'events' });
    }));
  });
  it('ignores topics that are not ours', () => {
    expect(parseTopic('flash-station/a/b/events')).toBeUndefined();
    expect(parseTopic('other/a/events')).toBeUndefined();
    expect(parseTopic('flash-station/a/nope')).toBeUndefined();
  });
});
