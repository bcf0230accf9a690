"""A simulated welding station: a retrofit monitoring box that publishes welds over MQTT.

It behaves like the boxes of the welding reference (§2.6, §2.8, §3): one MQTT client whose
id and username are the station's `mqtt_device`; a random `boot_id` per power-up; a retained
"online" birth right after CONNACK and a retained "offline" Last Will registered at
CONNECT; a retained "offline" published before a planned shutdown (the Will is not sent
on a clean DISCONNECT); `arc_start`, one `data/samples` batch per second and `arc_end`
at QoS 1, each with `seq` counting from 0 per boot.

`seq` numbers the station's event messages (`evt/arc` and `data/samples`). `status`
messages carry no `seq`: a retained topic keeps only its last message, so a `seq` spent on
it would look like data loss to the server.

Every event message goes through an outbox and leaves it only when the broker has
acknowledged it (PUBACK). While the broker is unreachable the station keeps welding and
the outbox grows; on reconnection it is sent again from its oldest entry, in order. A
message whose PUBACK was lost may be sent twice, which the server's unique
`(device, boot_id, seq)` makes harmless.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from devices.sim.clock import Clock, ScaledClock, parse_ts
from devices.sim.outbox import MemoryOutbox, Outbox, OutboxEntry, SqliteOutbox
from devices.sim.weld import (
    SAMPLE_PERIOD_MS,
    SAMPLE_PERIOD_S,
    SAMPLES_PER_BATCH,
    Excursion,
    WeldBehaviour,
    WeldLimits,
    WeldRecording,
    WeldReport,
    arc_end_message,
    arc_start_message,
    generate_weld,
    samples_message,
    status_message,
    weld_id_for,
)

logger = logging.getLogger(__name__)

DEFAULT_TOPIC_ROOT = "atelier/v1"
FIRMWARE_VERSION = "sim-1.0"
KEEPALIVE_S = 30
PUBLISH_WINDOW = 20
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 8
SHUTDOWN_PUBACK_TIMEOUT_S = 5.0
# Crockford base32 without I, L, O, U: readable on a screen, never mistaken for 1 or 0.
_BOOT_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
BOOT_ID_LENGTH = 8


def new_boot_id() -> str:
    """Return a random boot id: 8 Crockford base32 characters (40 bits)."""
    # Never seeded: a re-run with the same --seed must not reuse weld ids already stored.
    return "".join(secrets.choice(_BOOT_ID_ALPHABET) for _ in range(BOOT_ID_LENGTH))


@dataclass(frozen=True)
class MqttTarget:
    """Where the broker is: parsed from `mqtt://[user:password@]host:port` or `mqtts://`."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> MqttTarget:
        """Parse an ATELIER_MQTT_URL-style address."""
        parts = urlsplit(url)
        if parts.scheme not in {"mqtt", "mqtts"} or not parts.hostname:
            raise ValueError(f"not an mqtt:// or mqtts:// URL: {url!r}")
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname,
            port=parts.port or (8883 if tls else 1883),
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


@dataclass
class BurstReport:
    """What `publish_welds` produced and how long the broker took to acknowledge it."""

    welds: list[WeldReport]
    messages: int
    enqueue_s: float
    total_s: float
    acknowledged: bool
    first_ts: datetime | None = None
    last_ts: datetime | None = None


class WeldingStation:
    """One simulated welding station with its own MQTT client and offline buffer."""

    def __init__(
        self,
        device: str,
        target: MqttTarget,
        *,
        site: str,
        root: str = DEFAULT_TOPIC_ROOT,
        process: str = "135",
        limits: WeldLimits | None = None,
        behaviour: WeldBehaviour | None = None,
        clock: Clock | None = None,
        seed: int | str | None = None,
        outbox_path: Path | None = None,
        password: str | None = None,
        fw: str = FIRMWARE_VERSION,
        window: int = PUBLISH_WINDOW,
        reconnect_max_s: int = RECONNECT_MAX_S,
        follow_cfg: bool = True,
    ) -> None:
        self.device = device
        self.site = site
        self.target = target
        self.topic_prefix = f"{root}/{site}/{device}"
        self.status_topic = f"{self.topic_prefix}/status"
        self.arc_topic = f"{self.topic_prefix}/evt/arc"
        self.samples_topic = f"{self.topic_prefix}/data/samples"
        self.cfg_topic = f"{self.topic_prefix}/cfg"
        self.process = process
        self.limits = limits or WeldLimits.for_process(process)
        self.behaviour = behaviour or WeldBehaviour()
        self.clock: Clock = clock or ScaledClock(1.0)
        self.fw = fw
        self.boot_id: str | None = None
        self._password = password
        self._window = max(1, window)
        self._reconnect_max_s = reconnect_max_s
        self._follow_cfg = follow_cfg
        # A string seed keeps stations of one seeded run independent but reproducible.
        # Weld noise, not secrets: a reproducible PRNG is what a seeded simulation needs.
        self._rng = random.Random(f"{seed}:{device}" if seed is not None else None)  # noqa: S311
        self._outbox: Outbox = SqliteOutbox(outbox_path) if outbox_path else MemoryOutbox()
        self._client: mqtt.Client | None = None
        self._sender: threading.Thread | None = None

        # _cond guards the publishing state below; it is never held while calling paho,
        # because paho runs on_publish while holding its own message lock.
        self._cond = threading.Condition()
        self._connected = False
        self._running = False
        self._generation = 0
        self._last_sent_id = 0
        self._inflight: dict[int, int] = {}
        self._acked: list[int] = []
        self._early_acks: set[int] = set()
        self._direct_mids: set[int] = set()
        # _pub_lock orders our publishes against the reset done on each (re)connection.
        self._pub_lock = threading.Lock()
        self._weld_lock = threading.Lock()
        self._seq = 0
        self._arc_no = 0
        self._last_arc_end: datetime | None = None
        self.welds_done = 0

    @property
    def connected(self) -> bool:
        """Tell whether the station is connected to the broker right now."""
        with self._cond:
            return self._connected

    @property
    def pending(self) -> int:
        """Return how many messages wait in the outbox for a PUBACK."""
        return len(self._outbox)

    def power_on(self) -> None:
        """Boot: draw a new boot id, register the Last Will and start connecting."""
        if self._running:
            raise RuntimeError(f"{self.device} is already powered on")
        self.boot_id = new_boot_id()
        self._seq = 0
        self._arc_no = 0
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.device,
            clean_session=True,
            protocol=mqtt.MQTTv311,
        )
        client.username_pw_set(self.device, self._password)
        if self.target.tls:
            client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
        will = status_message("offline", self.device, self.boot_id, self.clock.now(), reason="lwt")
        client.will_set(self.status_topic, _encode(will), qos=1, retain=True)
        client.max_inflight_messages_set(self._window)
        client.reconnect_delay_set(RECONNECT_MIN_S, self._reconnect_max_s)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        self._client = client
        with self._cond:
            self._running = True
            self._connected = False
        self._sender = threading.Thread(
            target=self._send_loop, name=f"outbox-{self.device}", daemon=True
        )
        self._sender.start()
        client.connect_async(self.target.host, self.target.port, keepalive=KEEPALIVE_S)
        client.loop_start()
        logger.info(
            "station %s powered on: boot %s, broker %s:%d, %d message(s) waiting in the outbox",
            self.device,
            self.boot_id,
            self.target.host,
            self.target.port,
            self.pending,
        )

    def wait_connected(self, timeout_s: float = 10.0) -> bool:
        """Wait until the station is connected; tell whether it is."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not self._connected:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until the broker has acknowledged every buffered message; tell whether it has."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while len(self._outbox) > 0 or self._acked:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.2))
            return True

    def power_off(self, drain_timeout_s: float = 5.0) -> int:
        """Shut down as planned: drain the outbox, publish a retained "offline", disconnect.

        Return how many messages are left unsent (kept only by a SQLite outbox).
        """
        client = self._client
        if client is None or not self._running:
            return self.pending
        if self.connected:
            self.flush(drain_timeout_s)
        with self._cond:
            self._running = False
            self._cond.notify_all()
        if self._sender is not None:
            self._sender.join(timeout=5.0)
        if self.connected and self.boot_id is not None:
            offline = status_message(
                "offline", self.device, self.boot_id, self.clock.now(), reason="shutdown"
            )
            info = self._publish_direct(self.status_topic, _encode(offline), retain=True)
            try:
                info.wait_for_publish(timeout=SHUTDOWN_PUBACK_TIMEOUT_S)
            except (RuntimeError, ValueError):
                logger.warning("station %s: offline status not acknowledged", self.device)
        client.disconnect()
        client.loop_stop()
        self._client = None
        with self._cond:
            self._connected = False
        left = self.pending
        if left and isinstance(self._outbox, MemoryOutbox):
            logger.warning(
                "station %s powered off with %d unsent message(s) lost (memory outbox)",
                self.device,
                left,
            )
        logger.info("station %s powered off (%d message(s) left)", self.device, left)
        return left

    def close(self) -> None:
        """Power off if needed and close the outbox."""
        self.power_off()
        self._outbox.close()

    def __enter__(self) -> WeldingStation:
        self.power_on()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def set_job(self, process: str, limits: WeldLimits | None = None) -> None:
        """Set the process and WPS limits the next welds are made with."""
        with self._cond:
            self.process = process
            self.limits = limits or WeldLimits.for_process(process)

    def weld(
        self,
        *,
        arc_s: float | None = None,
        process: str | None = None,
        limits: WeldLimits | None = None,
        with_samples: bool = True,
        tack: bool | None = None,
        excursion: Excursion | Literal["random"] | None = "random",
        stop: threading.Event | None = None,
    ) -> WeldReport:
        """Make one weld in (simulated) real time: arc_start, a batch per second, arc_end.

        If `stop` is set during the arc, the arc ends there and `arc_end` describes the
        shorter run.
        """
        with self._weld_lock:
            if self.boot_id is None:
                raise RuntimeError(f"{self.device} is not powered on")
            recording = self._generate(arc_s, process, limits, tack, excursion)
            started_at = self.clock.now()
            weld_id, arc_start = self._start_arc(started_at, recording)
            samples: list[dict[str, Any]] = []
            index = 0
            while index < recording.batch_count:
                batch_end = min((index + 1) * SAMPLES_PER_BATCH, recording.n)
                if not self._sleep_until(started_at, batch_end * SAMPLE_PERIOD_S, stop):
                    # The arc stops now: keep the samples measured so far, even a partial
                    # batch, as a box does when the welder lifts the torch.
                    elapsed_s = (self.clock.now() - started_at).total_seconds()
                    recording = recording.truncated(round(elapsed_s / SAMPLE_PERIOD_S))
                    if with_samples and index < recording.batch_count:
                        samples.append(self._emit_samples(weld_id, started_at, recording, index))
                    break
                if with_samples:
                    samples.append(self._emit_samples(weld_id, started_at, recording, index))
                index += 1
            arc_end = self._end_arc(weld_id, started_at, recording, len(samples))
            return WeldReport(weld_id, recording, arc_start, samples, arc_end)

    def publish_welds(
        self,
        n: int,
        *,
        with_samples: bool = True,
        gap_s: tuple[float, float] = (2.0, 20.0),
        flush_timeout_s: float = 600.0,
    ) -> BurstReport:
        """Produce `n` welds as fast as possible, then wait for every PUBACK.

        Their timestamps follow one another on a virtual timeline (arc, then a gap) that is
        backdated to end now, or starts after this boot's last weld if that is later, so
        no two welds of the station overlap.
        """
        began = time.monotonic()
        reports: list[WeldReport] = []
        with self._weld_lock:
            if self.boot_id is None:
                raise RuntimeError(f"{self.device} is not powered on")
            recordings = [self._generate(None, None, None, None, "random") for _ in range(n)]
            gaps_s = [self._rng.uniform(*gap_s) for _ in range(n)]
            span_s = sum(r.arc_s for r in recordings) + sum(gaps_s)
            moment = self.clock.now() - timedelta(seconds=span_s)
            if self._last_arc_end is not None and moment < self._last_arc_end:
                moment = self._last_arc_end + timedelta(seconds=gaps_s[0] if gaps_s else 1.0)
            messages = 0
            for recording, gap in zip(recordings, gaps_s, strict=True):
                weld_id, arc_start = self._start_arc(moment, recording)
                samples = (
                    [
                        self._emit_samples(weld_id, moment, recording, index)
                        for index in range(recording.batch_count)
                    ]
                    if with_samples
                    else []
                )
                arc_end = self._end_arc(weld_id, moment, recording, len(samples))
                reports.append(WeldReport(weld_id, recording, arc_start, samples, arc_end))
                messages += 2 + len(samples)
                moment += timedelta(seconds=recording.arc_s + gap)
        enqueued = time.monotonic()
        acknowledged = self.flush(flush_timeout_s)
        finished = time.monotonic()
        return BurstReport(
            welds=reports,
            messages=messages,
            enqueue_s=enqueued - began,
            total_s=finished - began,
            acknowledged=acknowledged,
            first_ts=_started_at(reports[0]) if reports else None,
            last_ts=_started_at(reports[-1]) if reports else None,
        )

    def run(
        self,
        stop: threading.Event,
        *,
        idle_s: tuple[float, float] = (10.0, 60.0),
        max_welds: int | None = None,
    ) -> None:
        """Weld until `stop` is set: an idle pause, then a weld, again and again."""
        while not stop.is_set():
            if max_welds is not None and self.welds_done >= max_welds:
                return
            if not self.clock.sleep(self._rng.uniform(*idle_s), stop):
                return
            report = self.weld(stop=stop)
            logger.info(
                "station %s: weld %s, %.1f s, %s A mean",
                self.device,
                report.weld_id,
                report.recording.arc_s,
                report.arc_end["i_a"]["mean"],
            )

    # -- building messages -------------------------------------------------------------

    def _generate(
        self,
        arc_s: float | None,
        process: str | None,
        limits: WeldLimits | None,
        tack: bool | None,
        excursion: Excursion | Literal["random"] | None,
    ) -> WeldRecording:
        with self._cond:
            chosen_process = process or self.process
            if limits is not None:
                chosen_limits = limits
            elif chosen_process == self.process:
                chosen_limits = self.limits
            else:
                chosen_limits = WeldLimits.for_process(chosen_process)
        return generate_weld(
            self._rng,
            chosen_process,
            chosen_limits,
            self.behaviour,
            arc_s=arc_s,
            tack=tack,
            excursion=excursion,
        )

    def _start_arc(
        self, started_at: datetime, recording: WeldRecording
    ) -> tuple[str, dict[str, Any]]:
        assert self.boot_id is not None
        self._arc_no += 1
        weld_id = weld_id_for(self.device, self.boot_id, self._arc_no)
        payload = arc_start_message(
            self.device,
            self.boot_id,
            seq=self._next_seq(),
            weld_id=weld_id,
            started_at=started_at,
            process=recording.process,
        )
        self._enqueue(self.arc_topic, payload)
        return weld_id, payload

    def _emit_samples(
        self, weld_id: str, started_at: datetime, recording: WeldRecording, index: int
    ) -> dict[str, Any]:
        assert self.boot_id is not None
        first, i_a, u_v = recording.batch(index)
        payload = samples_message(
            self.device,
            self.boot_id,
            seq=self._next_seq(),
            weld_id=weld_id,
            t0=started_at + timedelta(milliseconds=first * SAMPLE_PERIOD_MS),
            i_a=i_a,
            u_v=u_v,
            batch=index,
        )
        self._enqueue(self.samples_topic, payload)
        return payload

    def _end_arc(
        self, weld_id: str, started_at: datetime, recording: WeldRecording, batches_sent: int
    ) -> dict[str, Any]:
        assert self.boot_id is not None
        payload = arc_end_message(
            self.device,
            self.boot_id,
            seq=self._next_seq(),
            weld_id=weld_id,
            started_at=started_at,
            recording=recording,
            batches_sent=batches_sent,
        )
        self._enqueue(self.arc_topic, payload)
        self._last_arc_end = started_at + timedelta(seconds=recording.arc_s)
        self.welds_done += 1
        return payload

    def _next_seq(self) -> int:
        seq = self._seq
        self._seq += 1
        return seq

    def _sleep_until(
        self, started_at: datetime, offset_s: float, stop: threading.Event | None
    ) -> bool:
        remaining_s = offset_s - (self.clock.now() - started_at).total_seconds()
        if remaining_s <= 0:
            return stop is None or not stop.is_set()
        return self.clock.sleep(remaining_s, stop)

    # -- publishing --------------------------------------------------------------------

    def _enqueue(self, topic: str, payload: dict[str, Any]) -> None:
        self._outbox.append(topic, _encode(payload))
        with self._cond:
            self._cond.notify_all()

    def _publish_direct(self, topic: str, payload: bytes, *, retain: bool) -> mqtt.MQTTMessageInfo:
        """Publish a status message outside the outbox (state, not evidence)."""
        assert self._client is not None
        with self._pub_lock:
            info = self._client.publish(topic, payload, qos=1, retain=retain)
        with self._cond:
            if info.mid in self._early_acks:
                self._early_acks.discard(info.mid)
            else:
                self._direct_mids.add(info.mid)
        return info

    def _send_loop(self) -> None:
        while True:
            with self._cond:
                acked, self._acked = self._acked, []
            if acked:
                self._outbox.remove(acked)
                with self._cond:
                    self._cond.notify_all()
            with self._cond:
                if not self._running:
                    return
                if self._acked:
                    # Forget acknowledged entries first: after a reconnection the outbox is
                    # read again from its head and must not yield them a second time.
                    continue
                batch: list[OutboxEntry] = []
                free = self._window - len(self._inflight)
                if self._connected and free > 0:
                    batch = self._outbox.after(self._last_sent_id, free)
                if not batch:
                    self._cond.wait(0.5)
                    continue
            self._send(batch)

    def _send(self, batch: list[OutboxEntry]) -> None:
        client = self._client
        if client is None:
            return
        with self._pub_lock:
            for entry in batch:
                with self._cond:
                    if not self._connected:
                        return
                info = client.publish(entry.topic, entry.payload, qos=1, retain=entry.retain)
                with self._cond:
                    self._last_sent_id = entry.id
                    if info.mid in self._early_acks:
                        self._early_acks.discard(info.mid)
                        self._acked.append(entry.id)
                        self._cond.notify_all()
                    else:
                        self._inflight[info.mid] = entry.id

    # -- paho callbacks (network thread: never block here) -----------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        if reason_code.is_failure:
            logger.warning(
                "station %s: broker refused the connection: %s", self.device, reason_code
            )
            return
        assert self.boot_id is not None
        with self._pub_lock:
            # paho would resend its own unacknowledged copies after our birth and next to
            # our resends; dropping them keeps one ordered stream from the outbox.
            client.drop_out_messages()
            with self._cond:
                self._generation += 1
                self._inflight.clear()
                self._early_acks.clear()
                self._direct_mids.clear()
                self._last_sent_id = 0
            birth = status_message(
                "online", self.device, self.boot_id, self.clock.now(), fw=self.fw
            )
            info = client.publish(self.status_topic, _encode(birth), qos=1, retain=True)
            if self._follow_cfg:
                client.subscribe(self.cfg_topic, qos=1)
            with self._cond:
                self._direct_mids.add(info.mid)
                self._connected = True
                self._cond.notify_all()
        logger.info(
            "station %s connected (boot %s, %d message(s) to send)",
            self.device,
            self.boot_id,
            self.pending,
        )

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        with self._cond:
            was_connected = self._connected
            self._connected = False
            self._cond.notify_all()
        if was_connected and self._running:
            logger.warning(
                "station %s lost the broker (%s); buffering welds", self.device, reason_code
            )

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        with self._cond:
            entry_id = self._inflight.pop(mid, None)
            if entry_id is not None:
                self._acked.append(entry_id)
            elif mid in self._direct_mids:
                self._direct_mids.discard(mid)
            else:
                # The PUBACK beat the sender's bookkeeping of this mid.
                self._early_acks.add(mid)
            self._cond.notify_all()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        limits = _limits_from_cfg(bytes(message.payload))
        if limits is None:
            logger.warning("station %s: ignoring unreadable cfg message", self.device)
            return
        process, wps_limits = limits
        with self._cond:
            if process is not None:
                self.process = process
            self.limits = wps_limits
        logger.info(
            "station %s: WPS limits from cfg: %s A, %s V",
            self.device,
            wps_limits.i_a,
            wps_limits.u_v,
        )


def _limits_from_cfg(payload: bytes) -> tuple[str | None, WeldLimits] | None:
    """Read the WPS limits of a `cfg` message (top level or under `wps`)."""
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    wps = data.get("wps", data)
    if not isinstance(wps, dict):
        return None
    try:
        i_low, i_high = (float(x) for x in wps["i_a"])
        u_low, u_high = (float(x) for x in wps["u_v"])
        limits = WeldLimits(i_a=(i_low, i_high), u_v=(u_low, u_high))
    except (KeyError, TypeError, ValueError):
        return None
    process = wps.get("process")
    return (str(process) if process is not None else None), limits


def _started_at(report: WeldReport) -> datetime:
    return parse_ts(str(report.arc_start["ts"]))


def _encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
