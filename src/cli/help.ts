// Usage texts for `flash-station --help` and each command's `--help`.

export const MAIN_HELP = `flash-station — a flashing station for fastboot, ESP, STM32, DFU and block devices, steered over a local WebSocket

Usage: flash-station <command> [options]

Commands:
  serve                 run the headless station (discovery, jobs, HTTP + WebSocket server, web UI)
  flash                 flash an image (to a partition, an address or a whole device) or a plan, with a progress bar
  devices               list the station's devices
  jobs                  list active and recent jobs
  watch                 print the live event stream
  pause|resume|cancel   steer jobs by id (or --all)
  fleet                 one view of every station on an MQTT broker (fleet --mqtt URL)
  sim fastboot          run a standalone simulated fastboot device on real sockets
  sim esp|stm32         run a standalone simulated ESP or STM32 board on a tty (--tty PATH, one end of a pty pair)

Options:
  -h, --help            show help (also: flash-station <command> --help)
  -v, --version         print the version

Client commands find the station at --url (default ws://127.0.0.1:3001/flash-progress) and its token in
--token, $FLASH_STATION_TOKEN, or DATA_DIR/token (--data-dir, default the per-user config dir).
A TLS station (serve --tls-cert) is reached with --url wss://HOST:PORT/flash-progress and --ca FILE.
Docs: docs/cli.md, docs/protocol.md.
`;

export const SERVE_HELP = `Usage: flash-station serve [options]

Runs the station: device discovery, jobs, the HTTP + WebSocket server and the web UI.

Options:
  --host ADDR            bind address (default 127.0.0.1)
  --port N               port, 0 = any free port (default 3001)
  --data-dir DIR         settings, history, token, logs (default: the per-user config dir of "flash-station")
  --connect URI          add a network fastboot device: tcp:HOST[:PORT] or udp:HOST[:PORT] (repeatable)
  --sim SPEC             add a simulated device, PROTOCOL:SERIAL[?key=value&…] (repeatable; docs/simulator.md)
  --demo                 add simulated devices to try it with: one or more of each family (fastboot, ESP, STM32,
                         DFU), each at its usual link speed (docs/cli.md)
  --no-usb               skip USB discovery
  --no-serial            skip serial discovery (USB-UART bridges and native USB of ESP and STM32 boards)
  --serial-port PATH[?protocol=esp|stm32&baud=N]
                         add a serial port explicitly, e.g. a pty or an odd adapter (repeatable); protocol says
                         which family it is (else ESP is tried first, then STM32), baud the line rate
  --no-block             skip discovery of removable disks (SD cards, USB sticks)
  --block-device PATH    offer a disk discovery would hide, e.g. a loop device or a fixed disk (repeatable; works
                         with --no-block); the machine's own disks (/, /boot, /usr, /var, /home, swap) are never written
  --allow-origin ORIGIN  accept browser pages from ORIGIN too (repeatable)
  --tls-cert FILE        serve HTTPS and WSS with this PEM certificate (chain) …
  --tls-key FILE         … and its PEM key (docs/security.md: making them for a LAN station)
  --public-name NAME     a name the station is reached by on the network, for the Host/Origin checks (repeatable)
  --insecure-no-tls      allow a non-loopback --host without TLS (only on a network you trust)
  --outside-silence S    an outside agent's job with no event for S seconds ends as lost     default: 120
  --mqtt URL             report to an MQTT broker (mqtt:// or mqtts://; docs/fleet.md)
  --station-id ID        this station's name on the broker            default: the host name
  --mqtt-username U, --mqtt-password-file F   broker credentials (the password from a file, never the command line)
  --mqtt-commands        obey commands on flash-station/ID/commands (each must carry the station token)
  --mqtt-protocol 5|3.1.1, --mqtt-ca F, --mqtt-cert F, --mqtt-key F   MQTT version; PEM files for mqtts://

When ready it prints "listening ws://HOST:PORT/flash-progress" and "ui http://HOST:PORT/?token=…"
(wss:// and https:// with TLS). A non-loopback --host needs --tls-cert/--tls-key or --insecure-no-tls.
SIGINT/SIGTERM stop taking jobs, cancel running ones cleanly, close the history database and exit 0.
`;

const CLIENT_OPTIONS = `  --url WS_URL           the station (default ws://127.0.0.1:3001/flash-progress, or $FLASH_STATION_URL)
  --token T              the station token (else $FLASH_STATION_TOKEN, else DATA_DIR/token)
  --data-dir DIR         where to find the token file of a local station
  --ca FILE              PEM CA that signed a wss:// station's certificate (else the system's CAs)`;

export const FLASH_HELP = `Usage: flash-station flash [--url WS_URL] [--token T] --device ID PARTITION IMAGE
       flash-station flash [--url WS_URL] [--token T] --device ID --address ADDR IMAGE
       flash-station flash [--url WS_URL] [--token T] --device ID IMAGE
       flash-station flash [--url WS_URL] [--token T] --device ID --plan PLAN_FILE

Starts a job through the running station and follows it: a progress bar with speed and ETA on a terminal,
plain lines otherwise, or one JSON event per line with --json. Ctrl-C cancels the job.
IMAGE and PLAN_FILE are paths on the station's machine (relative paths are made absolute here).
The target depends on the device's family (flash-station devices shows it under TARGETS): a PARTITION it lists
(fastboot, DFU alt settings, an ESP partition table), an --address (ESP flash offset, STM32 or DfuSe memory
address), or nothing for a device written whole (SD cards, USB sticks).

Options:
  --device ID            the device to flash (see flash-station devices)
  --address ADDR         write IMAGE at this address: 0x10000, 65536 or 64K
  --plan PLAN_FILE       a bundle folder, zip, manifest, factory image or ESP-IDF flasher_args.json instead of a target
  --verify               read back and compare where the device allows it
  --rate SIZE            limit this job to SIZE bytes per second (K/M/G suffixes, e.g. 20M)
  --json                 one JSON event per line
${CLIENT_OPTIONS}

Exit status: 0 completed, 1 failed, 2 bad usage or station unreachable, 130 cancelled.
`;

export const DEVICES_HELP = `Usage: flash-station devices [--json] [--url WS_URL]

Lists the devices of the running station (no token needed).

Options:
  --json                 print the devices as a JSON array
${CLIENT_OPTIONS}
`;

export const JOBS_HELP = `Usage: flash-station jobs [--json] [--url WS_URL]

Lists active and recent jobs of the running station (no token needed).

Options:
  --json                 print the jobs as a JSON array
  --limit N              recent jobs from history to include (default 20)
${CLIENT_OPTIONS}
`;

export const WATCH_HELP = `Usage: flash-station watch [--json] [--url WS_URL]

Prints the station's live events until Ctrl-C; reconnects if the station restarts.

Options:
  --json                 one JSON event per line, as received
${CLIENT_OPTIONS}
`;

export const SIM_HELP = `Usage: flash-station sim FAMILY [options]

A standalone simulated device of one family, on real sockets or a tty (see docs/simulator.md).
flash-station sim FAMILY --help lists that family's options.
`;

export const CONTROL_HELP = `Usage: flash-station pause|resume|cancel [--url WS_URL] [--token T] JOB_ID…
       flash-station pause|resume|cancel [--url WS_URL] [--token T] --all

Pauses, resumes or cancels jobs of the running station (needs the token). --all acts on every job it applies to.
Exit status: 0 done, 1 the station refused one of them, 2 bad usage or station unreachable.

Options:
  --all                  every running (pause), paused (resume) or active (cancel) job
  --json                 print each job as JSON
${CLIENT_OPTIONS}
`;
