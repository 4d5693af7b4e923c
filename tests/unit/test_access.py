"""Who may run a command on which object: checked by the handler against what it loads."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from domain import commands, errors, handlers
from domain.access import Caller
from tests.unit.fakes import FakeUnitOfWork
from tests.unit.test_time_entries import DAY, log, person


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def firm(uow: FakeUnitOfWork) -> dict[str, uuid.UUID]:
    manager, other_manager = person(uow, "manager"), person(uow, "manager")
    worker, outsider, admin = person(uow, "member"), person(uow, "member"), person(uow, "admin")
    client = handlers.register_client(commands.RegisterClient(name="Acme"), uow).id
    project = handlers.create_project(
        commands.CreateProject(
            name="Web",
            client_id=client,
            manager_id=manager,
            start_date=dt.date(2026, 1, 1),
            budget_cents=1_000_000,
        ),
        uow,
    ).id
    handlers.add_member(
        commands.AddMember(project_id=project, person_id=worker, role="Engineer"), uow
    )
    return {
        "manager": manager,
        "other_manager": other_manager,
        "worker": worker,
        "outsider": outsider,
        "admin": admin,
        "project": project,
    }


def as_(firm: dict[str, uuid.UUID], who: str, role: str) -> Caller:
    return Caller(firm[who], role)


def test_only_an_admin_or_the_projects_manager_closes_it(
    uow: FakeUnitOfWork, firm: dict[str, uuid.UUID]
) -> None:
    close = commands.CloseProject(firm["project"], caller=as_(firm, "other_manager", "manager"))
    with pytest.raises(errors.Forbidden):
        handlers.handle(close, uow)
    handlers.handle(
        commands.CloseProject(firm["project"], caller=as_(firm, "manager", "manager")), uow
    )


def test_a_member_off_the_project_is_told_it_does_not_exist(
    uow: FakeUnitOfWork, firm: dict[str, uuid.UUID]
) -> None:
    outsider, worker = as_(firm, "outsider", "member"), as_(firm, "worker", "member")
    with pytest.raises(errors.NotFound, match=f"No project {firm['project']}."):
        handlers.handle(commands.CloseProject(firm["project"], caller=outsider), uow)
    with pytest.raises(errors.Forbidden):
        handlers.handle(commands.CloseProject(firm["project"], caller=worker), uow)
    logging = commands.LogTime(firm["project"], firm["outsider"], DAY, 100, True, caller=outsider)
    with pytest.raises(errors.InvalidReference, match="no project"):
        handlers.handle(logging, uow)


def test_an_entry_is_changed_by_its_person_and_reviewed_by_its_manager(
    uow: FakeUnitOfWork, firm: dict[str, uuid.UUID]
) -> None:
    entry = log(uow, {"project": firm["project"], "worker": firm["worker"]})
    with pytest.raises(errors.NotFound, match="No time entry"):
        handlers.handle(
            commands.DeleteTimeEntry(entry, caller=as_(firm, "outsider", "member")), uow
        )
    with pytest.raises(errors.Forbidden):
        handlers.handle(
            commands.DeleteTimeEntry(entry, caller=as_(firm, "manager", "manager")), uow
        )
    with pytest.raises(errors.Forbidden):
        handlers.handle(
            commands.ApproveTimeEntry(entry, caller=as_(firm, "other_manager", "manager")), uow
        )
    handlers.handle(
        commands.ApproveTimeEntry(
            entry, actor_id=firm["manager"], caller=as_(firm, "manager", "manager")
        ),
        uow,
    )
