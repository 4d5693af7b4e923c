"""Loaded by the schemathesis CLI (SCHEMATHESIS_HOOKS). Two values no JSON Schema can make
valid, set right in the requests schemathesis means to be valid (positive mode) only:

- `cursor` must be a `next_cursor` the server handed out for that list: the test harvests one
  per list and passes them in TALLY_CURSORS (JSON: {path: {parameter: value}}, the cursor and
  the sort it was issued under).
- `If-Match` must name the object's current version, which a generator cannot know: such a
  request sends `*` (any version), which the document allows. A stale version is a 412 by
  design; tests/integration/test_api_contract.py covers it.
"""

from __future__ import annotations

import json
import os
from typing import Any

import schemathesis

CURSORS: dict[str, dict[str, str]] = json.loads(os.environ.get("TALLY_CURSORS", "{}"))


@schemathesis.hook
def before_call(ctx: schemathesis.HookContext, case: Any, **_: Any) -> None:
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    if case.query and "cursor" in case.query and case.operation.path in CURSORS:
        case.query.update(CURSORS[case.operation.path])
    if case.headers and "If-Match" in case.headers:
        case.headers["If-Match"] = "*"
