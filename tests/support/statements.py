"""Counting the SQL statements an app runs, with a SQLAlchemy event listener."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from sqlalchemy import event


def _engines(app: Flask) -> list[Any]:
    databases = app.extensions["tally"].databases
    return list({id(engine): engine for engine in (databases.write, databases.read)}.values())


@contextmanager
def _listening(targets: list[Any], name: str, seen: list[Any]) -> Iterator[list[Any]]:
    def record(*args: Any) -> None:
        seen.append(args)

    for target in targets:
        event.listen(target, name, record)
    try:
        yield seen
    finally:
        for target in targets:
            event.remove(target, name, record)


@contextmanager
def statements_of(app: Flask) -> Iterator[list[str]]:
    """The statements the app's engines run inside the block, as SQL text (listed when the
    block ends)."""
    with statements_on(*_engines(app)) as texts:
        yield texts


@contextmanager
def statements_on(*engines: Any) -> Iterator[list[str]]:
    """The statements the engines run inside the block, as SQL text (listed when the block
    ends)."""
    seen: list[tuple[Any, ...]] = []
    texts: list[str] = []
    with _listening(list(engines), "before_cursor_execute", seen):
        yield texts
        texts.extend(args[2] for args in seen)


@contextmanager
def checkouts_of(app: Flask) -> Iterator[list[Any]]:
    """One item per connection the app's pools hand out inside the block."""
    with _listening([engine.pool for engine in _engines(app)], "checkout", []) as seen:
        yield seen
