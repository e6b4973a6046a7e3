// Where a JSON or YAML text fails to parse, as `line L, column C`: error messages name the place and never quote the
// text (a plan, flasher_args.json or settings.json may hold secrets, and parser messages quote the offending line).

/** `line L, column C` of a JSON or YAML parse error, from the parser's position, without quoting the text. */
export function parseErrorPlace(e: unknown, text: string): string {
  const linePos = (e as { linePos?: Array<{ line: number; col: number }> } | null)?.linePos?.[0];
  if (linePos) return `line ${linePos.line}, column ${linePos.col}`;
  const at = jsonErrorOffset(text);
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  return `line ${line}, column ${at - before.lastIndexOf('\n')}`;
}

/**
 * Offset of the first character that makes `text` invalid JSON (text.length when it ends too early). V8's own
 * messages quote the text around the error instead of giving a position, so the place is found here.
 */
export function jsonErrorOffset(text: string): number {
  const token = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;
  const key = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
  const n = text.length;
  let i = 0;
  const eat = (r: RegExp): boolean => {
    r.lastIndex = i;
    const m = r.exec(text);
    if (!m) return false;
    i += m[0].length;
    return true;
  };
  const skipWs = (): void => {
    while (i < n && ' \t\n\r'.includes(text[i] as string)) i++;
  };
  const closers: string[] = [];
  let state: 'value' | 'key' | 'after' = 'value';
  for (;;) {
    skipWs();
    if (state === 'value') {
      const c = text[i];
      if (c === '{' || c === '[') {
        i++;
        skipWs();
        const close = c === '{' ? '}' : ']';
        if (text[i] === close) {
          i++;
          state = 'after';
        } else {
          closers.push(close);
          state = close === '}' ? 'key' : 'value';
        }
        continue;
      }
      if (!eat(token)) return i;
      state = 'after';
      continue;
    }
    if (state === 'key') {
      if (!eat(key)) return i;
      skipWs();
      if (text[i] !== ':') return i;
      i++;
      state = 'value';
      continue;
    }
    const close = closers[closers.length - 1];
    if (close === undefined || i >= n) return i;
    if (text[i] === ',') {
      i++;
      state = close === '}' ? 'key' : 'value';
    } else if (text[i] === close) {
      i++;
      closers.pop();
    } else {
      return i;
    }
  }
}
