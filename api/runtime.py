"""What the API process holds: databases, the Celery app for sending, delivery, and the
command service over them."""

from __future__ import annotations

import dataclasses
import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from flask import current_app, g, request
from sqlalchemy import select

from api.auth import TokenCache
from api.metrics import measured
from domain import commands, errors
from domain.model import Role
from domain.settings import Settings
from domain.store import tables
from domain.store.db import Databases
from domain.store.tokens import ADMIN_EMAIL, install_environment_token
from service.commands import CommandService, Executed, Metadata
from workers.celery_app import TallyCelery
from workers.delivery import BackgroundWaker

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    databases: Databases
    celery: TallyCelery
    delivery: BackgroundWaker
    service: CommandService = field(init=False)
    waiters: WaiterLimit = field(init=False)
    token_cache: TokenCache = field(init=False)

    def __post_init__(self) -> None:
        self.service = CommandService(
            self.databases, self.delivery, self.settings.policy, self.settings.sync_timeout
        )
        self.waiters = WaiterLimit(self.settings.min_position_waiters)
        self.token_cache = TokenCache(self.settings.token_cache_seconds)

    def execute(self, cmd: commands.Command) -> Executed:
        """Run a command for this request: its caller and headers go in the metadata."""
        with measured(type(cmd).__name__):
            return self.service.execute(cmd, request_metadata())

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
        # At start-up the workers project it: no catch-up holds the app factory.
        service = dataclasses.replace(self.service, catch_up_critical=False)
        try:
            return service.execute(cmd).outcome.id
        except errors.DuplicateEmail:
            with self.databases.write.connect() as conn:  # another process registered it first
                admin_id: uuid.UUID = conn.execute(
                    select(tables.people.c.id).where(tables.people.c.email == ADMIN_EMAIL)
                ).scalar_one()
                return admin_id


def request_metadata() -> Metadata:
    """The command's metadata from this request: its caller and the headers that name it."""
    caller = getattr(g, "caller", None)
    return Metadata(
        actor=caller.person_id if caller else None,
        request_id=request.headers.get("X-Request-Id"),
        idempotency_key=request.headers.get("Idempotency-Key"),
    )


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
    tally: Runtime = current_app.extensions["tally"]
    return tally
