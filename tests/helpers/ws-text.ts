// A `ws` message as text, whatever shape it arrived in (Buffer, ArrayBuffer, or fragments), as the station's hub reads it.
import type { RawData } from 'ws';

export function wsText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  return (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)).toString('utf8');
}
