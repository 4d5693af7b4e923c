"""`tally projections`: status, rebuild, verify, and the parked events of each projection."""

from __future__ import annotations

import argparse
import getpass
import json

from cli.databases import open_databases
from domain.settings import Settings
from domain.store.db import Databases
from readmodels import audit, parking
from readmodels.rebuild import rebuild
from readmodels.registry import PROJECTIONS
from readmodels.status import projection_status
from readmodels.verify import CHECKS, verify


def projections_command(settings: Settings, args: argparse.Namespace) -> int:
    name: str | None = getattr(args, "name", None)
    if name is not None and name not in PROJECTIONS:
        raise SystemExit(f"tally: no projection {name} (known: {', '.join(PROJECTIONS)})")
    with open_databases(settings) as databases:
        if args.projections_command == "status":
            return _status(databases)
        if args.projections_command == "verify":
            return _verify(databases, name)
        assert name is not None  # the parser requires a name for every other action
        return _on_one(databases, args.projections_command, name, getattr(args, "key", None))


def _status(databases: Databases) -> int:
    for row in projection_status(databases):
        print(json.dumps(row, default=str))
    return 0


def _verify(databases: Databases, name: str | None) -> int:
    """Exit 1 when any read model drifted from the write tables."""
    drifted = 0
    for check_name in [name] if name else list(CHECKS):
        drift = verify(databases, check_name)
        print(drift.report())
        drifted += not drift.clean
    return 1 if drifted else 0


def _on_one(databases: Databases, action: str, name: str, key: str | None) -> int:
    """rebuild, parked, retry or skip, for one projection; operator actions are recorded."""
    actor = f"cli:{getpass.getuser()}"
    projection = PROJECTIONS[name]
    if action == "rebuild":
        audit.record(databases, name, "rebuild", actor, {})
        result = rebuild(databases, projection)
        print(
            f"rebuilt {result.projection}: {result.events} events to position "
            f"{result.position} in {result.seconds:.1f} s"
        )
    elif action == "parked":
        for row in parking.list_parked(databases, name):
            print(json.dumps(row, default=str))
    elif action == "retry":
        print(json.dumps(parking.retry_parked(databases, projection, actor, key)))
    elif action == "skip":
        print(json.dumps(parking.skip_parked(databases, projection, actor, key)))
    return 0
