"""Request bodies parsed with orjson, which refuses what the standard library's json lets
through to fail later as a 500: lone surrogates (which no database can store), integers too
large for a double, and nesting deeper than 1,024 levels. Each is a 400 "Invalid JSON body"."""

from __future__ import annotations

from typing import Any

import flask
import flask_smorest
import orjson
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request


class JsonParser(FlaskParser):
    def _raw_load_json(self, req: flask.Request) -> Any:
        if not is_json_request(req):
            return core.missing
        # orjson.JSONDecodeError is a json.JSONDecodeError: webargs answers it with a 400.
        return orjson.loads(req.get_data(cache=True))


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint with the orjson body parser."""

    ARGUMENTS_PARSER = JsonParser()
