"""A scripted welding station for tests: publishes exactly the messages a test asks for."""

from __future__ import annotations

import json
import secrets
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

TOPIC_ROOT = "atelier/v1"


def stamp(moment: datetime) -> str:
    """Format a time as the stations do: RFC 3339 UTC with milliseconds."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class StationMessages:
    """The contract's station payloads (docs/contract.md §6) for one power-up of a device.

    It numbers messages (``seq`` from 0 per boot) and welds; sending them is the caller's
    business (over MQTT, or straight into the ingest core).
    """

    def __init__(self, device: str) -> None:
        self.device = device
        self.boot_id = secrets.token_hex(4).upper()
        self.seq = 0
        self.welds = 0

    def next_seq(self) -> int:
        """Return the next sequence number of this boot."""
        value = self.seq
        self.seq += 1
        return value

    def next_weld_id(self) -> str:
        """Return the id of this boot's next weld."""
        self.welds += 1
        return f"{self.device}-{self.boot_id}-{self.welds:04d}"

    def status(self, state: str) -> dict[str, Any]:
        """Build a status message: the birth ("online") or the Last Will ("offline")."""
        return {
            "v": 1,
            "state": state,
            "device": self.device,
            "boot_id": self.boot_id,
            "fw": "test-1",
            "ts": stamp(datetime.now(UTC)),
        }

    def arc_start(self, weld_id: str, ts: datetime, process: str = "135") -> dict[str, Any]:
        """Build an arc_start."""
        return {
            "v": 1,
            "type": "arc_start",
            "device": self.device,
            "boot_id": self.boot_id,
            "seq": self.next_seq(),
            "weld_id": weld_id,
            "ts": stamp(ts),
            "process": process,
        }

    def arc_end(
        self,
        weld_id: str,
        start: datetime,
        arc_s: float = 12.4,
        i_mean: float = 182.3,
        u_mean: float = 23.9,
        process: str = "135",
        energy_j: float | None = 54210.0,
        length_mm: float | None = None,
        seq: int | None = None,
    ) -> dict[str, Any]:
        """Build an arc_end as the contract describes it."""
        return {
            "v": 1,
            "type": "arc_end",
            "device": self.device,
            "boot_id": self.boot_id,
            "seq": self.next_seq() if seq is None else seq,
            "weld_id": weld_id,
            "ts_start": stamp(start),
            "ts_end": stamp(start + timedelta(seconds=arc_s)),
            "arc_s": arc_s,
            "process": process,
            "i_a": {"mean": i_mean, "min": i_mean - 30, "max": i_mean + 20},
            "u_v": {"mean": u_mean, "min": u_mean - 2.5, "max": u_mean + 2.5},
            "wfs_m_min": 8.1,
            "gas_l_min": 14.0,
            "energy_j": energy_j,
            "length_mm": length_mm,
        }

    def samples(self, weld_id: str, t0: datetime) -> dict[str, Any]:
        """Build one batch of 10 Hz samples."""
        return {
            "v": 1,
            "device": self.device,
            "boot_id": self.boot_id,
            "seq": self.next_seq(),
            "weld_id": weld_id,
            "t0": stamp(t0),
            "dt_ms": 100,
            "i_a": [181.2, 183.0, 182.1],
            "u_v": [23.8, 24.0, 23.9],
        }


class ScriptedStation:
    """One station's MQTT client, with its boot id, its seq counter and its Last Will."""

    def __init__(
        self,
        port: int,
        device: str,
        *,
        password: str | None = None,
        username: str | None = None,
        site: str = "belfort",
        protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv311,
        max_inflight: int = 20,
    ) -> None:
        self.device = device
        self.site = site
        self.messages = StationMessages(device)
        self.boot_id = self.messages.boot_id
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"{device}-{self.boot_id}", protocol=protocol
        )
        self.client.username_pw_set(username or device, password)
        # Publishing thousands of messages quickly needs a wider window than paho's 20.
        self.client.max_inflight_messages_set(max_inflight)
        self.client.max_queued_messages_set(0)
        self.client.will_set(
            self.topic("status"),
            json.dumps(self.messages.status("offline")),
            qos=1,
            retain=True,
        )
        self._connected = threading.Event()
        self.client.on_connect = lambda *args: self._connected.set()
        self.client.connect("127.0.0.1", port, keepalive=5)
        self.client.loop_start()
        if not self._connected.wait(10):
            raise TimeoutError(f"{device} could not connect")

    def topic(self, suffix: str) -> str:
        """Return one of this station's topics."""
        return f"{TOPIC_ROOT}/{self.site}/{self.device}/{suffix}"

    def publish(self, suffix: str, payload: Any, *, retain: bool = False) -> mqtt.MQTTMessageInfo:
        """Publish a payload (a dict is sent as JSON) at QoS 1 and wait for the PUBACK."""
        raw = payload if isinstance(payload, bytes | str) else json.dumps(payload)
        info = self.client.publish(self.topic(suffix), raw, qos=1, retain=retain)
        info.wait_for_publish(10)
        return info

    def online(self) -> None:
        """Publish the retained birth."""
        self.publish("status", self.messages.status("online"), retain=True)

    def next_seq(self) -> int:
        """Return the next sequence number of this boot."""
        return self.messages.next_seq()

    def arc_start(self, weld_id: str, ts: datetime, process: str = "135") -> dict[str, Any]:
        """Publish an arc_start."""
        payload = self.messages.arc_start(weld_id, ts, process)
        self.publish("evt/arc", payload)
        return payload

    def arc_end_payload(self, weld_id: str, start: datetime, **figures: Any) -> dict[str, Any]:
        """Build an arc_end payload as the contract describes it."""
        return self.messages.arc_end(weld_id, start, **figures)

    def weld(self, start: datetime | None = None, **kwargs: Any) -> str:
        """Publish a whole weld (arc_start, one samples batch, arc_end); return its weld_id."""
        weld_id = self.messages.next_weld_id()
        start = start or datetime.now(UTC)
        self.arc_start(weld_id, start, kwargs.get("process", "135"))
        self.publish("data/samples", self.messages.samples(weld_id, start))
        self.publish("evt/arc", self.arc_end_payload(weld_id, start, **kwargs))
        return weld_id

    def disconnect(self) -> None:
        """Disconnect cleanly (no Last Will)."""
        self.client.disconnect()
        self.client.loop_stop()

    def vanish(self) -> None:
        """Drop the connection without DISCONNECT, as a station losing power: the Will fires."""
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            sock.close()
