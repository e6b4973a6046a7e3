#!/usr/bin/env python3
"""A minimal Flash Station client in Python with `websockets` (Debian: python3-websockets), from docs/protocol.md.

    FLASH_STATION_TOKEN=... python3 python_client.py [ws://127.0.0.1:3001/flash-progress] [DEVICE PARTITION IMAGE]

Without DEVICE/PARTITION/IMAGE it lists devices and jobs and exits. With them it starts a flash and follows the job:
exit 0 completed, 1 failed, 2 unreachable, 130 cancelled (Ctrl-C cancels the job).
"""
import asyncio
import json
import os
import sys
import re
import urllib.parse

import websockets

# A station's snapshot can be large (many devices and jobs); frames from a station are never nested deeply, and any
# text a station relays may come from an outside agent: print it cut and without terminal control characters.
MAX_FRAME = 16 * 2**20
MAX_ROWS = 50
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def text(value, limit=120):
    return CONTROL.sub("?", str(value))[:limit]


def num(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def parse(raw):
    """One frame as a dict, or None for a frame this client cannot use (not JSON, too deep, not an object)."""
    try:
        m = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return m if isinstance(m, dict) and isinstance(m.get("type"), str) else None


async def main(argv):
    url = argv[0] if argv else "ws://127.0.0.1:3001/flash-progress"
    target = argv[1:4]
    token = os.environ.get("FLASH_STATION_TOKEN")
    if token:
        url += ("&" if "?" in url else "?") + "token=" + urllib.parse.quote(token)
    try:
        ws = await websockets.connect(url, max_size=MAX_FRAME, open_timeout=10)
    except (OSError, asyncio.TimeoutError, websockets.exceptions.InvalidHandshake) as e:
        print(f"cannot reach the station: {e}", file=sys.stderr)
        return 2
    try:
        job_id = None
        async for raw in ws:
            m = parse(raw)
            if m is None:
                continue
            kind = m["type"]
            if kind == "hello":
                print(f"connected to {text(m.get('protocol'))} station {text(m.get('version'))} "
                      f"(authenticated: {m.get('authenticated') is True})")
            elif kind == "snapshot" and not target:
                devices = [d for d in m.get("devices", []) if isinstance(d, dict)]
                jobs = [j for j in m.get("jobs", []) if isinstance(j, dict)]
                for d in devices[:MAX_ROWS]:
                    print(f"device {text(d.get('id'))} {text(d.get('state'))} {text(d.get('transport'))} {text(d.get('name'))}")
                for j in jobs[:MAX_ROWS]:
                    print(f"job {text(j.get('jobId'))} {text(j.get('deviceId'))} {text(j.get('state'))} {num(j.get('progress')):.1f}%")
                hidden = max(0, len(devices) - MAX_ROWS) + max(0, len(jobs) - MAX_ROWS)
                if hidden:
                    print(f"… and {hidden} more")
                return 0
            elif kind == "snapshot" and job_id is None:
                device, partition, image = target
                await ws.send(json.dumps({"type": "start_flash", "requestId": "py1",
                                          "deviceId": device, "partition": partition, "image": image}))
            elif kind in ("result", "error") and m.get("requestId") == "py1":
                if kind == "error" or not m.get("ok"):
                    err = m.get("error", m) if isinstance(m.get("error", m), dict) else m
                    print(f"refused: {text(err.get('code'))}: {text(err.get('message'), 500)}", file=sys.stderr)
                    return 1
                job_id = m.get("jobId")
                print(f"job {text(job_id)} {text(m.get('status'))}")
            elif kind == "flash_progress" and job_id is not None and m.get("jobId") == job_id:
                print(f"progress {num(m.get('progress')):.1f}% {num(m.get('transferSpeed')) / 1048576:.1f} MiB/s "
                      f"ETA {num(m.get('estimatedTimeRemaining')):.0f}s {text(m.get('stage'))}")
            elif kind == "flash_completed" and job_id is not None and m.get("jobId") == job_id:
                print("completed")
                return 0
            elif kind == "flash_failed" and job_id is not None and m.get("jobId") == job_id:
                cancelled = m.get("reason") == "cancelled"
                print("cancelled" if cancelled else f"failed: {text(m.get('error'), 500)}")
                return 130 if cancelled else 1
    finally:
        await ws.close()
    return 2


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main(sys.argv[1:])))
    except KeyboardInterrupt:
        sys.exit(130)
