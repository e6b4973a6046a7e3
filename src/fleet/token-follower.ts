// The station token as it is now: $FLASH_STATION_TOKEN, or DATA_DIR/token re-read when the file changes (a token
// regenerated over HTTP must stop the old one steering the station over MQTT too).
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tokenMatches } from '../server/guards.js';
import { TOKEN_FILE } from '../server/token.js';

export function followToken(dataDir: string, initial: string, env: NodeJS.ProcessEnv = process.env): (given: string) => boolean {
  if (env.FLASH_STATION_TOKEN?.trim()) return (given) => tokenMatches(initial, given);
  const file = join(dataDir, TOKEN_FILE);
  let token = initial;
  let seen = -1;
  return (given) => {
    try {
      const st = statSync(file);
      if (st.mtimeMs !== seen) {
        seen = st.mtimeMs;
        token = readFileSync(file, 'utf8').trim() || token;
      }
    } catch {
      // The file is gone: keep the last token known.
    }
    return tokenMatches(token, given);
  };
}
