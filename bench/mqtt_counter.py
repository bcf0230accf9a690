"""A bare paho subscriber that only counts messages: the ceiling of bench/mqtt_ingest.py.

It subscribes like the ingest worker (same filters, QoS 1, MQTT 5), counts what arrives
and prints ``count N WALL_TIME`` every 50 ms on stdout.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion


def main() -> None:
    """Count the station messages of a site until stdin closes."""
    host, port, username, password, root, site = sys.argv[1:7]
    received = 0
    lock = threading.Lock()
    ready = threading.Event()

    def on_connect(client: mqtt.Client, _u: Any, _f: Any, _rc: Any, _p: Any) -> None:
        base = f"{root}/{site}/+"
        client.subscribe([(f"{base}/status", 1), (f"{base}/evt/#", 1), (f"{base}/data/#", 1)])

    def on_subscribe(*_args: Any) -> None:
        ready.set()

    def on_message(_c: mqtt.Client, _u: Any, _m: mqtt.MQTTMessage) -> None:
        nonlocal received
        with lock:
            received += 1

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id="bench-counter", protocol=MQTTProtocolVersion.MQTTv5
    )
    client.username_pw_set(username, password)
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect(host, int(port))
    client.loop_start()
    ready.wait(10)
    print("ready", flush=True)

    def report() -> None:
        while True:
            with lock:
                count = received
            print(f"count {count} {time.time():.4f}", flush=True)
            time.sleep(0.05)

    threading.Thread(target=report, daemon=True).start()
    sys.stdin.read()
    client.disconnect()
    client.loop_stop()


if __name__ == "__main__":
    main()
