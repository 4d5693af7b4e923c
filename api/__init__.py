"""The Flask app factory: blueprints, OpenAPI, problem+json errors, authentication."""

from __future__ import annotations

import logging

from flask import Flask, Response, request
from flask_smorest import Api
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from api import (
    commands,
    docs,
    headers,
    history,
    idempotency,
    lookups,
    metrics,
    operations,
    queries,
    tokens,
)
from api.auth import authenticate
from api.errors import Problem, handle_http_exception, register_error_handlers
from api.openapi import ProblemSchema, ProblemsPlugin, problem_responses
from api.parsing import IsoWeekConverter, iso_week_parameter, refuse_unknown_query_parameters
from api.runtime import Runtime
from domain.settings import Settings
from domain.store.db import Databases
from domain.store.idempotency import IdempotencyKeys
from workers.celery_app import make_celery
from workers.delivery import BackgroundWaker

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
MAX_BODY_BYTES = 1024 * 1024


class TallyApi(Api):  # type: ignore[misc]  # flask-smorest ships no type information
    """flask-smorest, answering its own errors (webargs 422s, Flask 404/405) as problem+json
    and documenting them so (api/openapi.py), with no page-based pagination schema."""

    ERROR_SCHEMA = ProblemSchema
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_responses(self) -> None:
        self.spec.components.schema("Problem", schema=ProblemSchema)
        problem_responses(self.spec)

    def _register_pagination_header(self) -> None:
        """Lists paginate by cursor (`next_cursor`), not flask-smorest's page header."""

    def handle_http_exception(self, error: HTTPException) -> Response:
        return handle_http_exception(error)


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        API_TITLE="Tally",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}],
        },
    )
    celery = make_celery(settings)
    runtime = Runtime(
        settings=settings,
        databases=Databases(settings.database_url, settings.read_database_url),
        celery=celery,
        delivery=BackgroundWaker(celery.delivery),
    )
    app.extensions["tally"] = runtime
    _register_blueprints(app)
    register_error_handlers(app)
    queries.install(app)
    _install_request_hooks(app, runtime)
    headers.install(app)
    if settings.admin_token:
        try:
            runtime.bootstrap_admin(settings.admin_token)
        except SQLAlchemyError as error:
            log.warning("could not create the first admin (run `tally db upgrade`): %s", error)
    return app


def _register_blueprints(app: Flask) -> None:
    app.url_map.converters["isoweek"] = IsoWeekConverter
    api = TallyApi(app, spec_kwargs={"extra_plugins": [ProblemsPlugin()]})
    api.register_converter(IsoWeekConverter, iso_week_parameter)
    for blueprint in (commands, queries, lookups, history, operations, tokens):
        api.register_blueprint(blueprint.blp, url_prefix=API_PREFIX)
    api.register_blueprint(operations.health_blp)
    app.register_blueprint(docs.blp)
    app.register_blueprint(metrics.blp)


def _install_request_hooks(app: Flask, runtime: Runtime) -> None:
    """Before a request under /api/v1: the metrics guard, authentication, unknown query
    parameters, the body's media type, then its Idempotency-Key; after it, the key's answer."""
    keys = IdempotencyKeys(runtime.databases.write)

    @app.before_request
    def _guard_api() -> Response | None:
        refused = metrics.guard(runtime.settings)
        if refused is not None or not request.path.startswith(API_PREFIX + "/"):
            return refused
        authenticate(runtime.databases.write_autocommit, runtime.token_cache)
        refuse_unknown_query_parameters(app.view_functions.get(request.endpoint or ""))
        has_body = bool(request.content_length) or request.headers.get("Transfer-Encoding")
        if request.method in ("POST", "PUT", "PATCH") and has_body and not request.is_json:
            raise Problem(415, "Send the body as application/json.")
        return idempotency.claim(keys)

    idempotency.install(app, keys)
