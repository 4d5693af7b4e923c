"""What the API process holds: databases, the Celery app for sending, and delivery."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from flask import current_app, g, request
from sqlalchemy import select

from api.auth import install_environment_token
from api.metrics import measured
from domain import commands, errors, handlers
from domain.handlers import Outcome
from domain.model import Role
from domain.settings import Settings
from domain.store import tables
from domain.store.db import Databases
from domain.store.unit_of_work import SqlUnitOfWork
from readmodels.catchup.loop import catch_up
from readmodels.registry import affected_by
from workers.celery_app import TallyCelery
from workers.delivery import BackgroundWaker

log = logging.getLogger(__name__)

ADMIN_EMAIL = "admin@tally.local"


@dataclass
class Runtime:
    settings: Settings
    databases: Databases
    celery: TallyCelery
    delivery: BackgroundWaker
    waiters: WaiterLimit = field(init=False)

    def __post_init__(self) -> None:
        self.waiters = WaiterLimit(self.settings.min_position_waiters)

    def execute(self, cmd: commands.Command) -> tuple[Outcome, bool]:
        """Run a command, then project its events; returns (outcome, read models current)."""
        caller = getattr(g, "caller", None)
        metadata = {
            "actor": str(caller.person_id) if caller else None,
            "command": type(cmd).__name__,
            "request_id": request.headers.get("X-Request-Id") if request else None,
            "idempotency_key": request.headers.get("Idempotency-Key") if request else None,
        }
        with measured(type(cmd).__name__):
            outcome = handlers.handle(
                cmd, SqlUnitOfWork(self.databases.write, metadata, self.settings.policy)
            )
            return outcome, self.after_commit(outcome)

    def after_commit(self, outcome: Outcome) -> bool:
        """Catch up critical projections in this process, wake the rest; True when current."""
        if outcome.position is None:
            return True
        current = True
        to_wake = []
        for projection in affected_by(outcome.event_types):
            if projection.critical_event_types & outcome.event_types:
                result = catch_up(
                    self.databases,
                    projection,
                    lock_timeout=self.settings.sync_timeout,
                    time_slice=self.settings.sync_timeout,
                )
                current = current and result.position >= outcome.position
                if result.caught_up:
                    continue
            to_wake.append(projection.name)
        self.delivery.wake(to_wake, outcome.position)
        return current

    def bootstrap_admin(self, token: str) -> None:
        """Create the first admin from TALLY_ADMIN_TOKEN when there is no admin yet, and make
        the variable's current value that admin's environment token: a changed value replaces
        the old one, which stops working."""
        with self.databases.write.connect() as conn:
            admin_id = conn.execute(
                select(tables.people.c.id).where(tables.people.c.email == ADMIN_EMAIL)
            ).scalar_one_or_none()
            other_admin = conn.execute(
                select(tables.people.c.id).where(tables.people.c.role == Role.ADMIN).limit(1)
            ).first()
        if admin_id is None and other_admin:
            log.warning("TALLY_ADMIN_TOKEN ignored: admins exist, but not %s", ADMIN_EMAIL)
            return
        if admin_id is None:
            admin_id = self._register_first_admin()
        if install_environment_token(self.databases.write, admin_id, token):
            log.warning("TALLY_ADMIN_TOKEN installed for %s; any older one is revoked", ADMIN_EMAIL)

    def _register_first_admin(self) -> uuid.UUID:
        cmd = commands.RegisterPerson(
            first_name="Tally", last_name="Admin", email=ADMIN_EMAIL, role=Role.ADMIN
        )
        try:
            outcome = handlers.handle(cmd, SqlUnitOfWork(self.databases.write, {"actor": None}))
        except errors.DuplicateEmail:
            with self.databases.write.connect() as conn:  # another process registered it first
                return conn.execute(  # type: ignore[no-any-return]
                    select(tables.people.c.id).where(tables.people.c.email == ADMIN_EMAIL)
                ).scalar_one()
        self.delivery.wake(
            [p.name for p in affected_by(outcome.event_types)], outcome.position or 0
        )
        return outcome.id


class WaiterLimit:
    """At most `limit` requests of this process wait for a projection at once: a waiting
    request holds a server thread, and the others must stay free for everything else."""

    def __init__(self, limit: int) -> None:
        self._slots = threading.BoundedSemaphore(limit) if limit > 0 else None

    @contextmanager
    def slot(self) -> Iterator[bool]:
        """Yields whether this request may wait."""
        acquired = self._slots is not None and self._slots.acquire(blocking=False)
        try:
            yield acquired
        finally:
            if acquired and self._slots is not None:
                self._slots.release()


def runtime() -> Runtime:
    return current_app.extensions["tally"]  # type: ignore[no-any-return]
