#!/bin/bash
# Debian package post-install (electron-builder template: ${executable} and ${sanitizedProductName} are filled in).
# Does what electron-builder's default does (command link, chrome-sandbox, desktop database), then installs the udev
# rule that lets the logged-in user open fastboot devices without root, and reloads udev so it applies at once.
set -e
APP_DIR='/opt/${sanitizedProductName}'

if type update-alternatives >/dev/null 2>&1; then
    if [ -L '/usr/bin/${executable}' -a -e '/usr/bin/${executable}' -a "`readlink '/usr/bin/${executable}'`" != '/etc/alternatives/${executable}' ]; then
        rm -f '/usr/bin/${executable}'
    fi
    update-alternatives --install '/usr/bin/${executable}' '${executable}' "$APP_DIR/${executable}" 100 || ln -sf "$APP_DIR/${executable}" '/usr/bin/${executable}'
else
    ln -sf "$APP_DIR/${executable}" '/usr/bin/${executable}'
fi

# SUID chrome-sandbox only where unprivileged user namespaces do not work.
if ! { [[ -L /proc/self/ns/user ]] && unshare --user true; } 2>/dev/null; then
    chmod 4755 "$APP_DIR/chrome-sandbox" || true
else
    chmod 0755 "$APP_DIR/chrome-sandbox" || true
fi

if hash update-desktop-database 2>/dev/null; then
    update-desktop-database /usr/share/applications || true
fi

# AppArmor profile (Ubuntu 24+), when this AppArmor understands it.
if apparmor_status --enabled >/dev/null 2>&1 && [ -f "$APP_DIR/resources/apparmor-profile" ]; then
    if apparmor_parser --skip-kernel-load --debug "$APP_DIR/resources/apparmor-profile" >/dev/null 2>&1; then
        cp -f "$APP_DIR/resources/apparmor-profile" '/etc/apparmor.d/${executable}'
        if ! { [ -x /usr/bin/ischroot ] && /usr/bin/ischroot; } && hash apparmor_parser 2>/dev/null; then
            apparmor_parser --replace --write-cache --skip-read-cache '/etc/apparmor.d/${executable}' || true
        fi
    fi
fi

# udev: fastboot devices (interface FF/42/03) readable and writable by the seat's user.
RULE_SRC="$APP_DIR/resources/udev/70-flash-station.rules"
RULE_DST='/etc/udev/rules.d/70-flash-station.rules'
if [ -f "$RULE_SRC" ]; then
    install -m 0644 "$RULE_SRC" "$RULE_DST"
    if hash udevadm 2>/dev/null; then
        udevadm control --reload-rules || true
        udevadm trigger --subsystem-match=usb --action=change || true
    fi
fi
# Block devices: the privilege helper that writes a disk for the desktop user, run only through pkexec under the polkit
# action io.flashstation.block.write (whose exec.path names this exact file): root-owned, nobody else may change it.
HELPER_SRC="$APP_DIR/resources/block-helper/flash-station-block-helper"
POLICY_SRC="$APP_DIR/resources/polkit/io.flashstation.block.policy"
if [ -f "$HELPER_SRC" ] && [ -f "$POLICY_SRC" ]; then
    install -D -o root -g root -m 0755 "$HELPER_SRC" /usr/lib/flash-station/flash-station-block-helper
    install -D -o root -g root -m 0644 "$POLICY_SRC" /usr/share/polkit-1/actions/io.flashstation.block.policy
fi
exit 0
