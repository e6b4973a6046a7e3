#!/bin/bash
# Debian package post-remove: undo after-install.sh (command link, AppArmor profile, udev rule, block helper and its
# polkit action) and reload udev.
if type update-alternatives >/dev/null 2>&1; then
    update-alternatives --remove '${executable}' '/opt/${sanitizedProductName}/${executable}' || true
else
    rm -f '/usr/bin/${executable}'
fi

if [ -f '/etc/apparmor.d/${executable}' ]; then
    if apparmor_status --enabled >/dev/null 2>&1 && hash apparmor_parser 2>/dev/null; then
        apparmor_parser --remove '/etc/apparmor.d/${executable}' || true
    fi
    rm -f '/etc/apparmor.d/${executable}'
fi

if [ -f /etc/udev/rules.d/70-flash-station.rules ]; then
    rm -f /etc/udev/rules.d/70-flash-station.rules
    if hash udevadm 2>/dev/null; then
        udevadm control --reload-rules || true
    fi
fi
rm -f /usr/lib/flash-station/flash-station-block-helper /usr/share/polkit-1/actions/io.flashstation.block.policy
rmdir /usr/lib/flash-station 2>/dev/null || true
exit 0
