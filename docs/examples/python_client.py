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
import urllib.parse

import websockets


async def main(argv):
    url = argv[0] if argv else "ws://127.0.0.1:3001/flash-progress"
    target = argv[1:4]
    token = os.environ.get("FLASH_STATION_TOKEN")
    if token:
        url += ("&" if "?" in url else "?") + "token=" + urllib.parse.quote(token)
    try:
        ws = await websockets.connect(url, max_size=2**20)
    except (OSError, websockets.exceptions.InvalidHandshake) as e:
        print(f"cannot reach the station: {e}", file=sys.stderr)
        return 2
    try:
        job_id = None
        async for raw in ws:
            m = json.loads(raw)
            kind = m["type"]
            if kind == "hello":
                print(f"connected to {m['protocol']} station {m['version']} (authenticated: {m['authenticated']})")
            elif kind == "snapshot" and not target:
                for d in m["devices"]:
                    print(f"device {d['id']} {d['state']} {d['transport']} {d['name']}")
                for j in m["jobs"]:
                    print(f"job {j['jobId']} {j['deviceId']} {j['state']} {j['progress']:.1f}%")
                return 0
            elif kind == "snapshot" and job_id is None:
                device, partition, image = target
                await ws.send(json.dumps({"type": "start_flash", "requestId": "py1",
                                          "deviceId": device, "partition": partition, "image": image}))
            elif kind in ("result", "error") and m.get("requestId") == "py1":
                if kind == "error" or not m["ok"]:
                    err = m.get("error", m)
                    print(f"refused: {err['code']}: {err['message']}", file=sys.stderr)
                    return 1
                job_id = m["jobId"]
                print(f"job {job_id} {m['status']}")
            elif kind == "flash_progress" and m["jobId"] == job_id:
                print(f"progress {m['progress']:.1f}% {m['transferSpeed'] / 1048576:.1f} MiB/s "
                      f"ETA {m['estimatedTimeRemaining']:.0f}s {m['stage']}")
            elif kind == "flash_completed" and m["jobId"] == job_id:
                print("completed")
                return 0
            elif kind == "flash_failed" and m["jobId"] == job_id:
                cancelled = m.get("reason") == "cancelled"
                print("cancelled" if cancelled else f"failed: {m['error']}")
                return 130 if cancelled else 1
    finally:
        await ws.close()
    return 2


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main(sys.argv[1:])))
    except KeyboardInterrupt:
        sys.exit(130)
