// The tray icon: a tooltip and a menu with the station's status (devices, running and queued jobs), Show and Quit.
import { Menu, Tray, nativeImage } from 'electron';
import { statusLine, type TrayStatus } from './station-status.js';

export class StationTray {
  private readonly tray: Tray;
  private last = '';

  constructor(iconPath: string, private readonly actions: { show(): void; quit(): void }) {
    const icon = nativeImage.createFromPath(iconPath);
    this.tray = new Tray(icon.isEmpty() ? nativeImage.createEmpty() : icon.resize({ width: 22, height: 22 }));
    this.tray.on('click', () => actions.show());
  }

  update(status: TrayStatus): void {
    const line = statusLine(status);
    if (line === this.last) return;
    this.last = line;
    this.tray.setToolTip(line);
    this.tray.setContextMenu(
      Menu.buildFromTemplate([
        { label: line, enabled: false },
        { label: status.url, enabled: false },
        { type: 'separator' },
        { label: 'Show window', click: () => this.actions.show() },
        { label: 'Quit', click: () => this.actions.quit() },
      ]),
    );
  }

  destroy(): void {
    this.tray.destroy();
  }
}
