import datetime as dt
import uuid

import pytest

from domain import commands, errors, handlers
from tests.unit.fakes import FakeUnitOfWork


def register_manager(uow: FakeUnitOfWork, email: str = "ann@example.com") -> uuid.UUID:
    return handlers.register_person(
        commands.RegisterPerson(first_name="Ann", last_name="Lee", email=email, role="manager"),
        uow,
    ).id


def test_registering_a_client_records_client_registered() -> None:
    uow = FakeUnitOfWork()
    outcome = handlers.register_client(commands.RegisterClient(name="Acme"), uow)
    assert uow.committed
    assert outcome.version == 1
    assert [name for name, _ in uow.log] == ["ClientRegistered"]
    assert uow.log[0][1].client_id == outcome.id


def test_renaming_a_client_with_a_stale_version_is_refused() -> None:
    uow = FakeUnitOfWork()
    client_id = handlers.register_client(commands.RegisterClient(name="Acme"), uow).id
    with pytest.raises(errors.StaleVersion):
        handlers.rename_client(
            commands.RenameClient(client_id=client_id, name="Acme Corp", expected_version=7), uow
        )


def test_renaming_to_the_same_name_records_nothing() -> None:
    uow = FakeUnitOfWork()
    client_id = handlers.register_client(commands.RegisterClient(name="Acme"), uow).id
    outcome = handlers.rename_client(commands.RenameClient(client_id=client_id, name="Acme"), uow)
    assert outcome.version == 1
    assert [name for name, _ in uow.log] == ["ClientRegistered"]


def test_a_second_person_with_the_same_email_is_a_conflict() -> None:
    uow = FakeUnitOfWork()
    register_manager(uow, "Ann@Example.com")
    with pytest.raises(errors.DuplicateEmail):
        register_manager(uow, "ann@example.com")


def test_a_project_needs_an_existing_client_and_manager() -> None:
    uow = FakeUnitOfWork()
    manager_id = register_manager(uow)
    with pytest.raises(errors.InvalidReference) as refused:
        handlers.create_project(
            commands.CreateProject(
                name="Web",
                client_id=uuid.uuid4(),
                manager_id=manager_id,
                start_date=dt.date(2026, 1, 1),
                budget_cents=0,
            ),
            uow,
        )
    assert refused.value.field == "client_id"


def test_a_project_cannot_end_before_it_starts() -> None:
    uow = FakeUnitOfWork()
    manager_id = register_manager(uow)
    client_id = handlers.register_client(commands.RegisterClient(name="Acme"), uow).id
    with pytest.raises(errors.ValidationFailed) as refused:
        handlers.create_project(
            commands.CreateProject(
                name="Web",
                client_id=client_id,
                manager_id=manager_id,
                start_date=dt.date(2026, 2, 1),
                end_date=dt.date(2026, 1, 1),
                budget_cents=0,
            ),
            uow,
        )
    assert refused.value.field == "end_date"


def test_project_created_carries_what_a_projector_needs() -> None:
    uow = FakeUnitOfWork()
    manager_id = register_manager(uow)
    client_id = handlers.register_client(commands.RegisterClient(name="Acme"), uow).id
    handlers.create_project(
        commands.CreateProject(
            name="Web",
            client_id=client_id,
            manager_id=manager_id,
            start_date=dt.date(2026, 2, 1),
            budget_cents=500_000,
            default_bill_rate_cents=12_000,
        ),
        uow,
    )
    payload = uow.log[-1][1].payload()
    assert payload["client_id"] == str(client_id)
    assert payload["budget_cents"] == 500_000
    assert payload["start_date"] == "2026-02-01"
