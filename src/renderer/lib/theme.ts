// Light, dark or like the system: kept in localStorage and applied as `data-theme` on <html>.
export type Theme = 'system' | 'light' | 'dark';
const KEY = 'flash-station-theme';

export function loadTheme(): Theme {
  try {
    const t = localStorage.getItem(KEY);
    return t === 'light' || t === 'dark' ? t : 'system';
  } catch {
    return 'system';
  }
}

export function applyTheme(theme: Theme): void {
  if (theme === 'system') document.documentElement.removeAttribute('data-theme');
  else document.documentElement.dataset.theme = theme;
  try {
    localStorage.setItem(KEY, theme);
  } catch {
    /* not kept */
  }
}

/** The theme after the toggle button: system → the opposite of what the system shows → the other → … */
export function nextTheme(theme: Theme, systemDark: boolean): Theme {
  const shown = theme === 'system' ? (systemDark ? 'dark' : 'light') : theme;
  return shown === 'dark' ? 'light' : 'dark';
}
