"""Command handlers: short functions that load aggregates, call them, and commit."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from domain import commands, errors, model
from domain.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Outcome:
    """What a command did: the aggregate, its new version, and its last event's position."""

    id: uuid.UUID
    version: int
    position: int | None
    event_types: frozenset[str]
    created: bool = False


def _outcome(uow: UnitOfWork, aggregate: model.Aggregate, *, created: bool = False) -> Outcome:
    return Outcome(
        id=aggregate.id,  # type: ignore[attr-defined]
        version=aggregate.version,
        position=uow.last_position,
        event_types=frozenset(uow.event_types),
        created=created,
    )


def register_client(cmd: commands.RegisterClient, uow: UnitOfWork) -> Outcome:
    with uow:
        client = model.Client.register(cmd.name)
        uow.clients.add(client)
        uow.commit()
        return _outcome(uow, client, created=True)


def rename_client(cmd: commands.RenameClient, uow: UnitOfWork) -> Outcome:
    with uow:
        client = uow.clients.get(cmd.client_id)
        if client is None:
            raise errors.NotFound(f"no client {cmd.client_id}")
        client.check_version(cmd.expected_version)
        client.rename(cmd.name)
        uow.commit()
        return _outcome(uow, client)


def register_person(cmd: commands.RegisterPerson, uow: UnitOfWork) -> Outcome:
    with uow:
        if uow.people.email_taken(cmd.email):
            raise errors.DuplicateEmail(f"a person with email {cmd.email} exists already")
        person = model.Person.register(
            first_name=cmd.first_name,
            last_name=cmd.last_name,
            email=cmd.email,
            role=cmd.role,
            weekly_capacity_hundredths=cmd.weekly_capacity_hundredths,
            default_bill_rate_cents=cmd.default_bill_rate_cents,
            cost_rate_cents=cmd.cost_rate_cents,
        )
        uow.people.add(person)
        if cmd.token_hash is not None:
            uow.people.add_token(person.id, cmd.token_hash)
        uow.commit()
        return _outcome(uow, person, created=True)


def create_project(cmd: commands.CreateProject, uow: UnitOfWork) -> Outcome:
    with uow:
        if uow.clients.get(cmd.client_id) is None:
            raise errors.InvalidReference("client_id", f"no client {cmd.client_id}")
        manager = uow.people.get(cmd.manager_id)
        if manager is None:
            raise errors.InvalidReference("manager_id", f"no person {cmd.manager_id}")
        project = model.Project.create(
            name=cmd.name,
            client_id=cmd.client_id,
            manager_id=cmd.manager_id,
            start_date=cmd.start_date,
            end_date=cmd.end_date,
            budget_cents=cmd.budget_cents,
            default_bill_rate_cents=cmd.default_bill_rate_cents,
        )
        uow.projects.add(project)
        uow.commit()
        return _outcome(uow, project, created=True)


COMMAND_HANDLERS: dict[type[commands.Command], Callable[[Any, UnitOfWork], Outcome]] = {
    commands.RegisterClient: register_client,
    commands.RenameClient: rename_client,
    commands.RegisterPerson: register_person,
    commands.CreateProject: create_project,
}


def handle(cmd: commands.Command, uow: UnitOfWork) -> Outcome:
    return COMMAND_HANDLERS[type(cmd)](cmd, uow)
