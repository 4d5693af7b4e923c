"""Request bodies parsed with orjson, which refuses what the standard library's json lets
through to fail later as a 500: lone surrogates (which no database can store), integers too
large for a double, and nesting deeper than 1,024 levels. Each is a 400 "Invalid JSON body"."""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable
from typing import Any

import flask
import flask_smorest
import marshmallow
import orjson
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.routing import BaseConverter, ValidationError

from api.errors import Problem


class JsonParser(FlaskParser):
    def _raw_load_json(self, req: flask.Request) -> Any:
        data = req.get_data(cache=True)
        if not is_json_request(req) or not data:
            return core.missing
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as error:
            # webargs answers a json.JSONDecodeError with a 400, except one whose document is
            # empty, which it takes for "no body"; orjson reports invalid UTF-8 that way.
            text = data.decode("utf-8", "replace")
            raise json.JSONDecodeError(error.msg, text, min(error.pos, len(text))) from error

    def _get_schema(self, argmap: Any, req: flask.Request) -> marshmallow.Schema:
        """One instance per schema class: webargs would make one per request, which costs
        more than the parse (a schema keeps no state from one load to the next)."""
        if isinstance(argmap, type) and issubclass(argmap, marshmallow.Schema):
            return _schema_instance(argmap)
        schema: marshmallow.Schema = super()._get_schema(argmap, req)
        return schema


@functools.cache
def _schema_instance(schema: type[marshmallow.Schema]) -> marshmallow.Schema:
    return schema()


class Blueprint(flask_smorest.Blueprint):  # type: ignore[misc]  # flask-smorest is untyped
    """flask-smorest's Blueprint with the orjson body parser."""

    ARGUMENTS_PARSER = JsonParser()


# Each schema's own `unknown` (RAISE for bodies and queries alike), not webargs' per-location
# default, which would ignore unknown query parameters.
JsonParser.DEFAULT_UNKNOWN_BY_LOCATION = {}


def refuse_unknown_query_parameters(view: Callable[..., Any] | None) -> None:
    """An operation of the document that takes no query parameters refuses any, as a body
    refuses an unknown field (a view with a query schema refuses them through its schema).
    A view outside the document (the bench app's baselines) parses its own."""
    if not flask.request.args or view is None or not hasattr(view, "_apidoc"):
        return
    arguments = view._apidoc.get("arguments", {}).get("parameters", [])
    if any(argument.get("in") == "query" for argument in arguments):
        return
    raise Problem(
        422,
        "This operation takes no query parameters.",
        errors={name: ["Unknown field."] for name in flask.request.args},
    )


class IsoWeekConverter(BaseConverter):
    """An ISO week in a path, like 2026-W48; one that does not exist (2027-W53) matches no
    route, so it answers 404 like any other path naming nothing."""

    regex = r"\d{4}-W\d{2}"

    def to_python(self, value: str) -> str:
        year, _, number = value.partition("-W")
        try:
            dt.date.fromisocalendar(int(year), int(number), 1)
        except ValueError as error:
            raise ValidationError() from error
        return value


def iso_week_parameter(converter: IsoWeekConverter) -> dict[str, str]:
    return {"type": "string", "pattern": rf"^{IsoWeekConverter.regex}$", "example": "2026-W48"}
