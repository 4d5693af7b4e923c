"""`tally admin`: issue, list and revoke a person's API tokens, as the API's token routes do."""

from __future__ import annotations

import argparse
import json
import uuid

from cli.databases import open_databases
from domain.settings import Settings
from domain.store.db import Databases
from domain.store.repositories import PersonRepository
from domain.store.tokens import (
    ADMIN_EMAIL,
    ENVIRONMENT_TOKEN_NAME,
    issue_token,
    list_tokens,
    parse_duration,
    revoke_all_tokens,
    revoke_token,
)


def person_id(databases: Databases, email: str) -> uuid.UUID:
    with databases.write.connect() as conn:
        found = PersonRepository(conn).id_by_email(email)
    if found is None:
        hint = f" (the first admin is {ADMIN_EMAIL})" if email != ADMIN_EMAIL else ""
        raise SystemExit(f"tally: no person with email {email}{hint}")
    return found


def create_token(
    settings: Settings, email: str, name: str = "cli", expires_in: str | None = None
) -> str:
    """Issue a new token for the person with this email."""
    if name == ENVIRONMENT_TOKEN_NAME:
        raise SystemExit(f"tally: --name {name} is reserved for the TALLY_ADMIN_TOKEN token")
    try:
        lifetime = parse_duration(expires_in) if expires_in else None
    except ValueError as error:
        raise SystemExit(f"tally: --expires-in: {error}") from error
    with open_databases(settings) as databases:
        owner = person_id(databases, email)
        with databases.write.begin() as conn:
            return issue_token(conn, owner, name, lifetime).token


def admin_command(settings: Settings, args: argparse.Namespace) -> int:
    """`tally admin create-token`, `list-tokens` and `revoke-token`."""
    if args.admin_command == "create-token":
        print(create_token(settings, args.email, args.name, args.expires_in))
        return 0
    with open_databases(settings) as databases:
        if args.admin_command == "list-tokens":
            for token in list_tokens(databases.write_autocommit, person_id(databases, args.email)):
                print(json.dumps(token, default=str))
        elif args.id:
            if not revoke_token(databases.write, args.id, None):
                raise SystemExit(f"tally: no token {args.id}")
            print(f"revoked token {args.id}")
        else:
            revoked = revoke_all_tokens(databases.write, person_id(databases, args.email))
            print(f"revoked {revoked} tokens of {args.email}")
    return 0
