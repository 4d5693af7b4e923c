"""Producer and consumer processes for the filesystem broker's tests, driven through kombu.

    python -m tests.support.broker_peers produce TRANSPORT FOLDER FIRST COUNT
    python -m tests.support.broker_peers consume TRANSPORT FOLDER OUTPUT [--die-on-first]

TRANSPORT is `tally` (workers.filesystem_broker) or `stock` (kombu's own filesystem
transport). A consumer writes each message's number to OUTPUT, acknowledges it, and stops
when the file FOLDER/stop appears; with --die-on-first it kills itself with SIGKILL on its
first message, before acknowledging it.
"""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path

from kombu import Connection, Consumer, Exchange, Producer, Queue
from kombu.transport import filesystem

from workers import filesystem_broker

# About the size of a Celery task message.
PADDING = "x" * 1500
QUEUE = Queue("work", Exchange("work", type="direct"), routing_key="work")


def connect(transport: str, folder: Path) -> Connection:
    if transport == "tally":
        options = {"broker_folder": str(folder), "polling_interval": 0.01}
        return Connection(f"{filesystem_broker.SCHEME}://", transport_options=options)
    (folder / "queue").mkdir(parents=True, exist_ok=True)
    options = {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "control_folder": str(folder / "control"),
        "polling_interval": 0.01,
    }
    return Connection(transport=filesystem.Transport, transport_options=options)


def produce(transport: str, folder: Path, first: int, count: int) -> None:
    with connect(transport, folder) as connection:
        producer = Producer(connection.default_channel)
        for number in range(first, first + count):
            producer.publish(
                {"n": number, "body": PADDING},
                exchange=QUEUE.exchange,
                routing_key="work",
                declare=[QUEUE],
            )


def consume(transport: str, folder: Path, output: Path, die_on_first: bool) -> None:
    stop = folder / "stop"
    with connect(transport, folder) as connection, output.open("a", buffering=1) as out:

        def received(body: dict[str, int], message: object) -> None:
            if die_on_first:
                os.kill(os.getpid(), signal.SIGKILL)
            out.write(f"{body['n']}\n")
            message.ack()  # type: ignore[attr-defined]

        with Consumer(connection, [QUEUE], callbacks=[received], accept=["json"]):
            while not stop.exists():
                try:
                    connection.drain_events(timeout=0.2)
                except TimeoutError:
                    continue


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="role", required=True)
    producer = sub.add_parser("produce")
    consumer = sub.add_parser("consume")
    for role in (producer, consumer):
        role.add_argument("transport", choices=["tally", "stock"])
        role.add_argument("folder", type=Path)
    producer.add_argument("first", type=int)
    producer.add_argument("count", type=int)
    consumer.add_argument("output", type=Path)
    consumer.add_argument("--die-on-first", action="store_true")
    args = parser.parse_args()
    if args.role == "produce":
        produce(args.transport, args.folder, args.first, args.count)
    else:
        consume(args.transport, args.folder, args.output, args.die_on_first)


if __name__ == "__main__":
    main()
