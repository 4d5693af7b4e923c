"""Imported by a test worker (`celery worker -I tests.support.ledger_plugin`): registers the
test ledger projection in that worker process."""

from readmodels.registry import PROJECTIONS
from tests.support.ledger import projection

PROJECTIONS[projection.name] = projection
