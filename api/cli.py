"""The `tally` command line. Settings come from the environment (embedded default if unset)."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Connection, select

from domain.settings import Settings
from domain.store import tables
from domain.store.db import Databases


def db_upgrade(settings: Settings) -> None:
    """Apply migrations to the write and read databases and register the projections."""
    from migrations import upgrade
    from readmodels.catchup.checkpoints import ensure_checkpoints

    settings.ensure_home()
    databases = Databases(settings.database_url, settings.read_database_url)
    try:
        upgrade(databases.write, "write")
        upgrade(databases.read, "read")
        ensure_checkpoints(databases)
        if settings.runtime_role:
            from migrations.roles import grant_runtime_role

            grant_runtime_role(databases, settings.runtime_role)
    finally:
        databases.dispose()


def _person_id(conn: Connection, email: str) -> uuid.UUID:
    from api.runtime import ADMIN_EMAIL

    person_id = conn.execute(
        select(tables.people.c.id).where(tables.people.c.email == email.lower())
    ).scalar_one_or_none()
    if person_id is None:
        hint = f" (the first admin is {ADMIN_EMAIL})" if email != ADMIN_EMAIL else ""
        raise SystemExit(f"tally: no person with email {email}{hint}")
    return person_id  # type: ignore[no-any-return]


def create_token(
    settings: Settings, email: str, name: str = "cli", expires_in: str | None = None
) -> str:
    """Issue a new token for the person with this email."""
    from api.auth import ENVIRONMENT_TOKEN_NAME, issue_token, parse_duration

    if name == ENVIRONMENT_TOKEN_NAME:
        raise SystemExit(f"tally: --name {name} is reserved for the TALLY_ADMIN_TOKEN token")
    try:
        lifetime = parse_duration(expires_in) if expires_in else None
    except ValueError as error:
        raise SystemExit(f"tally: --expires-in: {error}") from error
    databases = Databases(settings.database_url, settings.read_database_url)
    try:
        with databases.write.begin() as conn:
            return issue_token(conn, _person_id(conn, email), name, lifetime).token
    finally:
        databases.dispose()


def token_command(settings: Settings, args: argparse.Namespace) -> int:
    """`tally admin list-tokens` and `revoke-token`."""
    from api.auth import list_tokens, revoke_all_tokens, revoke_token

    databases = Databases(settings.database_url, settings.read_database_url)
    try:
        if args.admin_command == "list-tokens":
            with databases.write.connect() as conn:
                person_id = _person_id(conn, args.email)
            for token in list_tokens(databases.write_autocommit, person_id):
                print(json.dumps(token, default=str))
            return 0
        if args.id:
            if not revoke_token(databases.write, args.id, None):
                raise SystemExit(f"tally: no token {args.id}")
            print(f"revoked token {args.id}")
            return 0
        with databases.write.connect() as conn:
            person_id = _person_id(conn, args.email)
        print(f"revoked {revoke_all_tokens(databases.write, person_id)} tokens of {args.email}")
        return 0
    finally:
        databases.dispose()


def demo_data(settings: Settings, projects: int, entries: int) -> dict[str, int | str]:
    from service.commands import CommandService
    from service.demo import create_demo_data
    from workers.celery_app import make_celery

    databases = Databases(settings.database_url, settings.read_database_url)
    try:
        # Every command wakes the workers, who project the firm as it grows.
        service = CommandService(
            databases,
            make_celery(settings).delivery,
            settings.policy,
            settings.sync_timeout,
            catch_up_critical=False,
        )
        return create_demo_data(service, projects=projects, entries=entries)
    finally:
        databases.dispose()


def prepare_metrics_folder(settings: Settings, clean: bool) -> None:
    """Share Prometheus metrics between this process's children (gunicorn or Celery workers)."""
    settings.ensure_home()
    folder = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(settings.home / "metrics")))
    folder.mkdir(parents=True, exist_ok=True)
    if clean:
        for stale in folder.glob("*.db"):
            stale.unlink()


def serve(settings: Settings, bind: str, port: int, workers: int, threads: int) -> None:
    import gunicorn

    binds = ["--bind", f"{bind}:{port}"]
    if settings.metrics_port:
        binds += ["--bind", f"{bind}:{settings.metrics_port}"]
    # gunicorn 25.1 added a control socket (in the home folder) that nothing here uses.
    no_control = ["--no-control-socket"] if gunicorn.version_info >= (25, 1) else []
    os.execvp(
        sys.executable,
        [
            sys.executable,
            "-m",
            "gunicorn",
            *binds,
            *no_control,
            "--workers",
            str(workers),
            "--worker-class",
            "api.server.ProblemThreadWorker",
            "--threads",
            str(threads),
            # The longest line gunicorn takes, so that the app, not gunicorn's HTML page,
            # answers an over-long query parameter (with a 422).
            "--limit-request-line",
            "8190",
            "--access-logfile",
            "-",
            "api:create_app()",
        ],
    )


def celery_command(args: Sequence[str]) -> None:
    os.execvp(sys.executable, [sys.executable, "-m", "celery", "-A", "workers", *args])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tally", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("dev", help="run api, worker and beat on the embedded default")
    dev.add_argument("--port", type=int, default=8000)
    dev.add_argument("--demo", action="store_true", help="fill an empty system with demo data")

    db = sub.add_parser("db", help="database migrations")
    db.add_argument("action", choices=["upgrade"])

    serve_parser = sub.add_parser("serve", help="the API under gunicorn")
    serve_parser.add_argument(
        "--bind", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)"
    )
    serve_parser.add_argument("--port", type=int, default=8000)
    serve_parser.add_argument("--workers", type=int, default=2)
    serve_parser.add_argument("--threads", type=int, default=4, help="threads per worker")

    sub.add_parser("worker", help="a Celery worker (celery worker options follow)", add_help=False)
    sub.add_parser("beat", help="the periodic sweep", add_help=False)

    admin = sub.add_parser("admin", help="administration")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    token = admin_sub.add_parser("create-token", help="print a new token for a person")
    token.add_argument("--email", required=True)
    token.add_argument("--name", default="cli", help="what the token is for")
    token.add_argument("--expires-in", help="lifetime: 90d, 12h, 30m or 2w (default: none)")
    listing = admin_sub.add_parser("list-tokens", help="a person's tokens (never the secret)")
    listing.add_argument("--email", required=True)
    revoke = admin_sub.add_parser("revoke-token", help="revoke one token, or all of a person's")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", type=uuid.UUID, help="the token's id")
    which.add_argument("--email", help="revoke every token of this person")

    demo = sub.add_parser(
        "demo-data",
        help="fill the system with a realistic firm; its people and weeks grow with --entries",
    )
    demo.add_argument("--projects", type=int, default=12)
    demo.add_argument("--entries", type=int, default=400)

    projections = sub.add_parser("projections", help="projection operations")
    projections_sub = projections.add_subparsers(dest="projections_command", required=True)
    projections_sub.add_parser("status", help="checkpoint, head and lag per projection")
    rebuild = projections_sub.add_parser("rebuild", help="blue/green rebuild, in the foreground")
    rebuild.add_argument("name")
    verify = projections_sub.add_parser("verify", help="diff read models against the write side")
    verify.add_argument("name", nargs="?")
    for action in ("parked", "retry", "skip"):
        sub_parser = projections_sub.add_parser(action, help=f"{action} parked events")
        sub_parser.add_argument("name")
        if action != "parked":
            sub_parser.add_argument("--key", help="only this key's events")
    return parser


def worker_defaults(options: Sequence[str]) -> list[str]:
    """A concurrency of one per projection plus one, unless the options give their own.

    Under load a projection's catch-up task keeps working (up to its 2 s time slice) while
    events arrive, so a worker with fewer slots than projections makes the others wait.
    """
    if any(o in ("-c", "--concurrency") or o.startswith("--concurrency=") for o in options):
        return []
    from readmodels.registry import PROJECTIONS

    return ["--concurrency", str(len(PROJECTIONS) + 1)]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("worker", "beat"):
        settings = Settings.from_env()
        settings.ensure_home()
        extra = argv[1:]
        if argv[0] == "worker":
            prepare_metrics_folder(settings, clean=False)
            celery_command(["worker", "-E", "--loglevel", "INFO", *worker_defaults(extra), *extra])
        else:
            celery_command(
                [
                    "beat",
                    "--loglevel",
                    "INFO",
                    "-s",
                    str(settings.home / "celerybeat-schedule"),
                    *extra,
                ]
            )
        return 0
    args = build_parser().parse_args(argv)
    settings = Settings.from_env()
    if args.command == "dev":
        from api.dev import run_dev

        return run_dev(settings, port=args.port, demo=args.demo)
    if args.command == "db":
        db_upgrade(settings)
        print("migrations applied to the write and read databases")
    elif args.command == "serve":
        prepare_metrics_folder(settings, clean=True)
        serve(settings, args.bind, args.port, args.workers, args.threads)
    elif args.command == "admin":
        if args.admin_command != "create-token":
            return token_command(settings, args)
        print(create_token(settings, args.email, args.name, args.expires_in))
    elif args.command == "demo-data":
        from service.demo import DemoDataError

        try:
            print(json.dumps(demo_data(settings, args.projects, args.entries)))
        except DemoDataError as error:
            raise SystemExit(f"tally demo-data: {error}") from None
    elif args.command == "projections":
        return projections_command(settings, args)
    return 0


def projections_command(settings: Settings, args: argparse.Namespace) -> int:
    from readmodels import audit, parking
    from readmodels.rebuild import rebuild
    from readmodels.registry import PROJECTIONS
    from readmodels.status import projection_status
    from readmodels.verify import CHECKS, verify

    action = args.projections_command
    name = getattr(args, "name", None)
    if name is not None and name not in PROJECTIONS:
        raise SystemExit(f"tally: no projection {name} (known: {', '.join(PROJECTIONS)})")
    actor = f"cli:{getpass.getuser()}"
    databases = Databases(settings.database_url, settings.read_database_url)
    try:
        if action == "status":
            for row in projection_status(databases):
                print(json.dumps(row, default=str))
        elif action == "rebuild":
            audit.record(databases, name, "rebuild", actor, {})
            result = rebuild(databases, PROJECTIONS[name])
            print(
                f"rebuilt {result.projection}: {result.events} events to position "
                f"{result.position} in {result.seconds:.1f} s"
            )
        elif action == "verify":
            drifted = 0
            for check_name in [name] if name else list(CHECKS):
                drift = verify(databases, check_name)
                print(drift.report())
                drifted += not drift.clean
            return 1 if drifted else 0
        elif action == "parked":
            for row in parking.list_parked(databases, name):
                print(json.dumps(row, default=str))
        elif action == "retry":
            print(json.dumps(parking.retry_parked(databases, PROJECTIONS[name], actor, args.key)))
        elif action == "skip":
            print(json.dumps(parking.skip_parked(databases, PROJECTIONS[name], actor, args.key)))
        return 0
    finally:
        databases.dispose()


if __name__ == "__main__":
    sys.exit(main())
