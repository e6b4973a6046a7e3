// Parses sizes as the command line takes them: plain bytes, K/M/G suffixes (powers of 1024, optional "B"/"iB"), or 0x hex.

export function parseSize(text: string): number {
  const s = text.trim();
  if (/^0x[0-9a-f]+$/i.test(s)) return checked(Number.parseInt(s.slice(2), 16), text);
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(s);
  if (!m) throw new Error(`"${text}" is not a size: use bytes, a K/M/G suffix (e.g. 64M) or 0x hex.`);
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return checked(Math.round(Number(m[1]) * unit), text);
}

function checked(n: number, text: string): number {
  if (!Number.isSafeInteger(n)) throw new Error(`"${text}" is too large.`);
  return n;
}
