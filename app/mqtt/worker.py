"""The MQTT ingest worker (``flask --app app ingest mqtt``): the welding stations' adapter.

One process per site, never inside gunicorn. The paho network thread only queues what
arrives (never blocking it); the main thread takes the messages in batches, decodes them
into the core's frozen dataclasses (``app.mqtt.payloads``), records and applies each batch
through the ingest core in one write transaction, and acknowledges the messages to the
broker only once that transaction is durable (``manual_ack``). With a
persistent session (fixed client id, ``clean_start=False``, session expiry; or
``clean_session=False`` on MQTT 3.1.1), a worker killed at any instant loses nothing: the
broker sends again whatever was not acknowledged, and the core's unique ids make the
second delivery a no-op. Between batches the worker publishes the stations' ``cfg`` that
scans queued in the outbox.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from flask import Flask
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.db import DatabaseBusy, write_transaction
from app.extensions import db
from app.ingest.events import Actor, Origin, StationMessage
from app.ingest.welding import BatchResult, record_batch, record_unapplied
from app.models import MqttOutbox, Site, table_of, utcnow
from app.mqtt.payloads import decode

logger = logging.getLogger(__name__)

OUTBOX = table_of(MqttOutbox)
BATCH_MAX = 1000
KEEPALIVE_S = 30
SESSION_EXPIRY_S = 7 * 24 * 3600
# How many unacknowledged messages the broker may send us at once (MQTT 5 CONNECT):
# a batch can hold that many before its single commit.
RECEIVE_MAXIMUM = 2000
# A broker that ignores an MQTT 5 CONNECT (amqtt does, with properties) is given this
# long before the worker tries MQTT 3.1.1.
CONNACK_TIMEOUT_S = 5.0
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30
OUTBOX_INTERVAL_S = 0.5
DB_RETRY_MAX_S = 30.0
PUBLISH_TIMEOUT_S = 5.0


class ConfigurationError(RuntimeError):
    """The worker cannot start with this configuration (message in French)."""


@dataclass(frozen=True)
class BrokerAddress:
    """Where the broker is and how to sign in, from ``ATELIER_MQTT_URL``."""

    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """Read ``mqtt://[user:password@]host:port`` (or ``mqtts://``)."""
        parts = urlsplit(url)
        if parts.scheme not in {"mqtt", "mqtts"} or not parts.hostname:
            raise ConfigurationError(
                f"ATELIER_MQTT_URL invalide : {url!r} (attendu mqtt://[utilisateur:mot-de-passe@]hôte:port)"
            )
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname,
            port=parts.port or (8883 if tls else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
        )


@dataclass(frozen=True)
class ReceivedMessage:
    """A message as paho delivered it: topic, raw payload, when, and how to acknowledge it."""

    topic: str
    payload: bytes
    received_at: datetime
    retain: bool
    mid: int
    qos: int
    epoch: int


class IngestWorker:
    """Receive station messages, commit them in batches, acknowledge after the commit."""

    def __init__(
        self,
        app: Flask,
        broker: BrokerAddress,
        topic_root: str,
        site: str,
        *,
        client_id: str | None = None,
        protocol: str = "auto",
        batch_max: int = BATCH_MAX,
    ) -> None:
        self.app = app
        self.broker = broker
        self.topic_root = topic_root
        self.client_id = client_id
        self.protocol = protocol
        self.batch_max = batch_max
        self.inbox: queue.Queue[ReceivedMessage] = queue.Queue()
        self.client: mqtt.Client | None = None
        self.site = site
        self.site_id = 0
        # Incremented at each connection: a message is acknowledged only on the
        # connection it came on (after a reconnect its packet id may name another one).
        self.epoch = 0
        self.epoch_lock = threading.Lock()
        self.connected = threading.Event()
        # Set once the broker confirmed the subscriptions of the current connection.
        self.subscribed = threading.Event()
        self.connack: tuple[bool, str] | None = None
        self.totals = BatchResult()
        self._last_outbox = 0.0

    # -- paho callbacks (network thread: never block) --------------------------------------

    def _on_connect(
        self, client: mqtt.Client, _userdata: Any, flags: Any, reason_code: Any, _props: Any
    ) -> None:
        if reason_code.is_failure:
            logger.error(
                "MQTT connection refused by %s:%d: %s",
                self.broker.host,
                self.broker.port,
                reason_code,
            )
            self.connack = (False, str(reason_code))
            return
        with self.epoch_lock:
            self.epoch += 1
        session = getattr(flags, "session_present", False)
        logger.info(
            "MQTT connected to %s:%d as %s (%s), session present: %s%s",
            self.broker.host,
            self.broker.port,
            self.client_id,
            "MQTT 5" if client.protocol == mqtt.MQTTv5 else "MQTT 3.1.1",
            session,
            "" if session else " (first connection, or the broker lost our queued messages)",
        )
        base = f"{self.topic_root}/{self.site}/+"
        client.subscribe([(f"{base}/status", 1), (f"{base}/evt/#", 1), (f"{base}/data/#", 1)])
        self.connack = (True, "Success")
        self.connected.set()

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason_code: Any, _props: Any
    ) -> None:
        self.connected.clear()
        self.subscribed.clear()
        logger.warning(
            "MQTT disconnected from %s:%d: %s", self.broker.host, self.broker.port, reason_code
        )

    def _on_subscribe(
        self, _client: mqtt.Client, _userdata: Any, _mid: int, reason_codes: Any, _props: Any
    ) -> None:
        refused = [code for code in reason_codes if getattr(code, "is_failure", False)]
        for code in refused:
            logger.error("MQTT subscription refused: %s", code)
        if not refused:
            logger.info("MQTT subscriptions confirmed (QoS %s)", ", ".join(map(str, reason_codes)))
            self.subscribed.set()

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self.inbox.put(
            ReceivedMessage(
                msg.topic,
                bytes(msg.payload),
                utcnow(),
                bool(msg.retain),
                msg.mid,
                msg.qos,
                self.epoch,
            )
        )

    # -- connection ------------------------------------------------------------------------

    def _make_client(self, protocol: MQTTProtocolVersion) -> mqtt.Client:
        if protocol == MQTTProtocolVersion.MQTTv5:
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=self.client_id or "",
                protocol=protocol,
                manual_ack=True,
            )
        else:
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=self.client_id or "",
                protocol=protocol,
                clean_session=False,
                manual_ack=True,
            )
        if self.broker.username is not None:
            client.username_pw_set(self.broker.username, self.broker.password)
        if self.broker.tls:
            client.tls_set()
        client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def _connect(self, stop: threading.Event) -> mqtt.Client | None:
        """Connect, choosing MQTT 5 or falling back to 3.1.1; retry until connected or stopped."""
        version = (
            MQTTProtocolVersion.MQTTv311 if self.protocol == "3.1.1" else MQTTProtocolVersion.MQTTv5
        )
        delay = RECONNECT_MIN_S
        announced = False
        while not stop.is_set():
            client = self._make_client(version)
            self.client = client
            self.connack = None
            try:
                if version == MQTTProtocolVersion.MQTTv5:
                    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
                    properties.SessionExpiryInterval = SESSION_EXPIRY_S
                    properties.ReceiveMaximum = RECEIVE_MAXIMUM
                    client.connect(
                        self.broker.host,
                        self.broker.port,
                        KEEPALIVE_S,
                        clean_start=False,
                        properties=properties,
                    )
                else:
                    client.connect(self.broker.host, self.broker.port, KEEPALIVE_S)
            except OSError as exc:
                if not announced:
                    logger.warning(
                        "MQTT broker %s:%d unreachable (%s); retrying with back-off",
                        self.broker.host,
                        self.broker.port,
                        exc,
                    )
                    announced = True
                stop.wait(delay)
                delay = min(delay * 2, RECONNECT_MAX_S)
                continue
            # The network thread runs from here on; it reconnects by itself later.
            client.loop_start()
            deadline = time.monotonic() + CONNACK_TIMEOUT_S
            while self.connack is None and time.monotonic() < deadline and not stop.is_set():
                stop.wait(0.05)
            if self.connack is not None and self.connack[0]:
                return client
            client.loop_stop()
            reason = self.connack[1] if self.connack else "no CONNACK"
            client.disconnect()
            if (
                version == mqtt.MQTTv5
                and self.protocol == "auto"
                and ("protocol version" in reason.lower() or self.connack is None)
            ):
                logger.warning("broker refused MQTT 5 (%s): falling back to MQTT 3.1.1", reason)
                version = MQTTProtocolVersion.MQTTv311
                continue
            stop.wait(delay)
            delay = min(delay * 2, RECONNECT_MAX_S)
        return None

    # -- the main loop ---------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Run until ``stop`` is set: connect, ingest, acknowledge, publish cfg."""
        with self.app.app_context():
            site_id = db.session.execute(select(Site.id).where(Site.code == self.site)).scalar()
            db.session.remove()
        if site_id is None:
            raise ConfigurationError(f"Site inconnu : {self.site}")
        self.site_id = site_id
        client = self._connect(stop)
        if client is None:
            return
        try:
            while not stop.is_set():
                batch = self._take_batch()
                if batch:
                    self._ingest(batch, stop)
                if time.monotonic() - self._last_outbox >= OUTBOX_INTERVAL_S:
                    self._publish_outbox()
        finally:
            logger.info(
                "MQTT worker stopping: %d messages, %d duplicates, %d rejected, %d welds "
                "(%d attributed), %d sequence gaps",
                self.totals.received,
                self.totals.duplicates,
                self.totals.rejected,
                self.totals.welds,
                self.totals.attributed,
                self.totals.gaps,
            )
            # A clean DISCONNECT keeps the session: what we did not acknowledge waits.
            client.disconnect()
            client.loop_stop()

    def _take_batch(self) -> list[ReceivedMessage]:
        try:
            first = self.inbox.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        while len(batch) < self.batch_max:
            try:
                batch.append(self.inbox.get_nowait())
            except queue.Empty:
                break
        return batch

    def _ingest(self, batch: list[ReceivedMessage], stop: threading.Event) -> None:
        """Commit a batch (retrying while the database is down), then acknowledge it."""
        prefix = f"{self.topic_root}/{self.site}/"
        messages = [
            decode(received.topic, received.payload, received.received_at, prefix)
            for received in batch
        ]
        delay = 0.5
        while True:
            try:
                with self.app.app_context():
                    result = self._commit(messages)
                break
            except DatabaseBusy as exc:
                if stop.is_set():
                    logger.warning(
                        "stopping with %d messages not committed: not acknowledged", len(batch)
                    )
                    return
                logger.error("database unavailable (%s): batch kept, retry in %.1f s", exc, delay)
                stop.wait(delay)
                delay = min(delay * 2, DB_RETRY_MAX_S)
            except Exception:
                logger.exception("batch of %d messages failed: taking them one by one", len(batch))
                with self.app.app_context():
                    result = self._commit_one_by_one(messages)
                break
        self._add(result)
        self._ack(batch)

    def _origin(self) -> Origin:
        # The batch's messages each carry their own id (device, boot, seq) and digest.
        return Origin(
            site_id=self.site_id,
            channel="mqtt",
            key="",
            actor=Actor("worker", self.client_id),
            received_at=utcnow(),
            body_sha256="",
        )

    def _commit(self, messages: list[StationMessage]) -> BatchResult:
        origin = self._origin()
        return write_transaction(lambda session: record_batch(session, origin, messages, utcnow()))

    def _commit_one_by_one(self, messages: list[StationMessage]) -> BatchResult:
        total = BatchResult()
        for message in messages:
            try:
                result = self._commit([message])
            except DatabaseBusy:
                raise
            except Exception as exc:  # a bug must not stop the worker: record and go on
                logger.exception("message on %s could not be applied", message.topic)
                result = self._record_unapplied(message, exc)
            total.add(result)
        return total

    def _record_unapplied(self, message: StationMessage, error: Exception) -> BatchResult:
        origin = self._origin()
        return write_transaction(lambda session: record_unapplied(session, origin, message, error))

    def _add(self, result: BatchResult) -> None:
        self.totals.add(result)
        del self.totals.rejections[:-100]

    def _ack(self, batch: list[ReceivedMessage]) -> None:
        client = self.client
        assert client is not None
        with self.epoch_lock:
            for received in batch:
                if received.qos > 0 and received.epoch == self.epoch:
                    client.ack(received.mid, received.qos)

    # -- outbox ----------------------------------------------------------------------------

    def _publish_outbox(self) -> None:
        """Publish the cfg messages scans queued, in order, and mark them sent."""
        self._last_outbox = time.monotonic()
        client = self.client
        if client is None or not self.connected.is_set():
            return
        with self.app.app_context():
            pending = db.session.execute(
                select(OUTBOX.c.id, OUTBOX.c.topic, OUTBOX.c.payload, OUTBOX.c.retain)
                .where(OUTBOX.c.site_id == self.site_id, OUTBOX.c.sent_at.is_(None))
                .order_by(OUTBOX.c.id)
                .limit(100)
            ).all()
            sent = []
            for row in pending:
                info = client.publish(
                    row.topic, row.payload.encode() or None, qos=1, retain=row.retain
                )
                try:
                    info.wait_for_publish(PUBLISH_TIMEOUT_S)
                except (RuntimeError, ValueError) as exc:
                    logger.warning("cfg on %s not published yet: %s", row.topic, exc)
                    break
                if not info.is_published():
                    break
                sent.append(row.id)
                logger.info(
                    "published cfg on %s (%s)",
                    row.topic,
                    "cleared" if not row.payload else "limits",
                )
            if sent:
                now = utcnow()

                def mark_sent(session: Session) -> None:
                    session.execute(update(OUTBOX).where(OUTBOX.c.id.in_(sent)).values(sent_at=now))

                write_transaction(mark_sent)
            db.session.remove()
