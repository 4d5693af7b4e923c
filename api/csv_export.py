"""CSV exports: a list or report answers `Accept: text/csv` with every row of the range,
streamed page by page (the cursor never cuts an export short), under the same filters and
permissions as its JSON."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterator
from typing import Any

from flask import Response, request, stream_with_context
from marshmallow import Schema
from sqlalchemy import Connection

from api.errors import Problem
from readmodels.queries import Page

CSV = "text/csv"
PAGE_ROWS = 500
MAX_EXPORT_DAYS = 366


def wants_csv() -> bool:
    """The client prefers CSV to JSON (`*/*` and no Accept mean JSON)."""
    return request.accept_mimetypes.best_match(["application/json", CSV]) == CSV


def require_range(date_from: dt.date | None, date_to: dt.date | None) -> None:
    """An export covers a bounded range: `from` and `to`, at most 366 days."""
    if date_from is None or date_to is None:
        raise Problem(
            422,
            "A CSV export needs from and to.",
            errors={"from" if date_from is None else "to": ["Required for text/csv."]},
        )
    if (date_to - date_from).days + 1 > MAX_EXPORT_DAYS:
        raise Problem(
            422,
            f"A CSV export covers at most {MAX_EXPORT_DAYS} days.",
            errors={"to": [f"At most {MAX_EXPORT_DAYS} days after from, for text/csv."]},
        )


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


def export(
    name: str,
    schema: Schema,
    page: Callable[[Connection, int, str | None], Page],
    connect: Callable[[], Any],
) -> Response:
    """Stream every row `page` yields, the columns and values of the JSON answer's items."""
    columns = list(schema.fields)
    with connect() as conn:
        first = page(conn, PAGE_ROWS, None)

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(columns)
        current: Page | None = first
        while current is not None:
            for row in schema.dump(current.items, many=True):
                writer.writerow([_cell(row.get(column)) for column in columns])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if current.next_cursor is None:
                break
            with connect() as conn:
                current = page(conn, PAGE_ROWS, current.next_cursor)

    response = Response(stream_with_context(lines()), mimetype=CSV)
    response.headers["Content-Type"] = f"{CSV}; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    response.headers["X-Projection-Position"] = str(first.position)
    return response
