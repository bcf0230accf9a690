"""Run the embedded amqtt broker of `make demo`, with retained messages sent only where due.

    python -m demo.amqtt_broker CONFIG.yaml

The demo uses amqtt only where Mosquitto is not installed. amqtt 0.11 and 0.12 (0.10 no
longer runs on Python 3.10+) have a bug that matters to welding stations: when any client
connects, the broker walks through the topic filters of *every* client's subscriptions
and sends the new client each retained message matching any of them (`Broker.
client_connected` calls `_publish_retained_messages_for_subscription` for each filter of
`self._subscriptions`, meant as "this session's own subscriptions"). A station connecting
as ws01 then receives ws02's retained cfg (another WPS) and every station's retained
status (through the worker's `+/status` filter), before it has subscribed to anything.

`DemoBroker` keeps that replay to the subscriptions the connecting session really holds,
which is what amqtt meant; sending retained messages on SUBSCRIBE is unchanged. Stop with
SIGTERM or SIGINT: the broker shuts down cleanly.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from amqtt.broker import Broker

logger = logging.getLogger("demo.amqtt_broker")


# amqtt ships no type information: to mypy, Broker is Any.
class DemoBroker(Broker):  # type: ignore[misc]
    """amqtt's broker, sending a session only the retained messages of its own filters."""

    async def _publish_retained_messages_for_subscription(
        self, subscription: tuple[str, int], session: Any
    ) -> None:
        topic_filter = subscription[0]
        # amqtt itself tells subscribers apart by client id (see add_subscription).
        holders = self._subscriptions.get(topic_filter, ())
        if not any(held.client_id == session.client_id for held, _qos in holders):
            return
        await super()._publish_retained_messages_for_subscription(subscription, session)


async def serve(config: dict[str, Any]) -> None:
    """Run the broker until SIGTERM or SIGINT, then shut it down."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    broker = DemoBroker(config, loop=loop)
    await broker.start()
    logger.info("amqtt broker started")
    await stop.wait()
    logger.info("stopping the amqtt broker")
    await broker.shutdown()


def main(argv: Sequence[str] | None = None) -> int:
    """Read the YAML configuration named on the command line and run the broker."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage : python -m demo.amqtt_broker CONFIG.yaml", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Each state change of each session, at INFO: noise that says nothing to a demo.
    logging.getLogger("transitions").setLevel(logging.WARNING)
    config = yaml.safe_load(Path(args[0]).read_text(encoding="utf-8"))
    asyncio.run(serve(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
