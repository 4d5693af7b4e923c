"""The `tally` command line. Settings come from the environment (embedded default if unset)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Callable, Sequence

from cli import processes
from cli.databases import db_upgrade
from cli.demo_data import demo_data
from cli.dev import run_dev
from cli.processes import ApiOptions, Launch
from cli.projections import projections_command
from cli.tokens import admin_command
from domain.settings import Settings
from service.demo import DemoDataError

# Their options go to Celery as they are: `tally worker --pool threads`, say.
PASS_THROUGH = {"worker", "beat", "flower"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tally", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    dev = sub.add_parser("dev", help="run api, worker and beat on the embedded default")
    dev.add_argument("--port", type=int, default=ApiOptions.port)
    dev.add_argument("--demo", action="store_true", help="fill an empty system with demo data")
    db = sub.add_parser("db", help="database migrations")
    db.add_argument("action", choices=["upgrade"])
    _serve_options(sub.add_parser("serve", help="the API under gunicorn"))
    sub.add_parser("worker", help="a Celery worker (celery worker options follow)", add_help=False)
    sub.add_parser("beat", help="the periodic sweep", add_help=False)
    sub.add_parser("flower", help="the Celery monitor (flower options follow)", add_help=False)
    _admin_commands(sub.add_parser("admin", help="administration"))
    demo = sub.add_parser(
        "demo-data",
        help="fill the system with a realistic firm; its people and weeks grow with --entries",
    )
    demo.add_argument("--projects", type=int, default=12)
    demo.add_argument("--entries", type=int, default=400)
    _projections_commands(sub.add_parser("projections", help="projection operations"))
    return parser


def _serve_options(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--bind", default=ApiOptions.bind, help="address to listen on (0.0.0.0: every interface)"
    )
    serve.add_argument("--port", type=int, default=ApiOptions.port)
    serve.add_argument("--workers", type=int, default=ApiOptions.workers)
    serve.add_argument("--threads", type=int, default=ApiOptions.threads, help="per worker")


def _admin_commands(admin: argparse.ArgumentParser) -> None:
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


def _projections_commands(projections: argparse.ArgumentParser) -> None:
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


def _execute(launch: Launch) -> None:
    """Become the process (no supervisor of ours stays in between)."""
    os.execvpe(launch.argv[0], launch.argv, launch.environment(os.environ))


def _run_pass_through(command: str, options: list[str]) -> int:
    """`tally worker`, `beat` or `flower`, with the options the caller gave."""
    settings = Settings.from_env()
    settings.ensure_home()
    if command == "worker":
        launch = processes.worker(settings, options)
        folder = processes.metrics_folder(settings, launch.environment(os.environ))
        processes.prepare_metrics_folder(folder, clean=False)
    elif command == "beat":
        launch = processes.beat(settings, options)
    else:
        launch = processes.flower(options)
    _execute(launch)
    return 0


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    settings.ensure_home()
    options = ApiOptions(bind=args.bind, port=args.port, workers=args.workers, threads=args.threads)
    launch = processes.api(settings, options)
    processes.prepare_metrics_folder(
        processes.metrics_folder(settings, launch.environment(os.environ)), clean=True
    )
    _execute(launch)
    return 0


def _dev(settings: Settings, args: argparse.Namespace) -> int:
    return run_dev(settings, port=args.port, demo=args.demo)


def _db_upgrade(settings: Settings, _args: argparse.Namespace) -> int:
    db_upgrade(settings)
    print("migrations applied to the write and read databases")
    return 0


def _demo_data(settings: Settings, args: argparse.Namespace) -> int:
    try:
        print(json.dumps(demo_data(settings, args.projects, args.entries)))
    except DemoDataError as error:
        raise SystemExit(f"tally demo-data: {error}") from None
    return 0


COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "dev": _dev,
    "db": _db_upgrade,
    "serve": _serve,
    "admin": admin_command,
    "demo-data": _demo_data,
    "projections": projections_command,
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in PASS_THROUGH:
        return _run_pass_through(argv[0], argv[1:])
    args = build_parser().parse_args(argv)
    return COMMANDS[args.command](Settings.from_env(), args)
