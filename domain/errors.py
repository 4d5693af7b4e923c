"""Domain errors, translated to problem+json at the API edge (api/errors.py)."""

from __future__ import annotations


class DomainError(Exception):
    """A command was refused by a domain rule."""


class NotFound(DomainError):
    """The aggregate does not exist."""


class ValidationFailed(DomainError):
    """A command's field breaks a rule that only the domain can check."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class InvalidReference(ValidationFailed):
    """A command names another aggregate that does not exist."""


class Conflict(DomainError):
    """The command conflicts with the current state."""


class DuplicateEmail(Conflict):
    """Another person already has this email."""


class StaleVersion(DomainError):
    """The caller's expected version is not the aggregate's current version."""


class ConcurrentModification(StaleVersion):
    """Another transaction changed the aggregate first."""


class ProjectClosed(Conflict):
    """Time cannot be logged, amended or deleted on a closed project."""


class PeriodLocked(Conflict):
    """The entry's date is on or before the firm's lock date, and the actor is no admin."""


class Archived(Conflict):
    """An archived person, client or project takes no new time, projects or members."""


class EntryLocked(Conflict):
    """Approved entries are immutable."""


class InvalidTransition(Conflict):
    """The entry's status does not allow this change."""


class DailyLimitExceeded(Conflict):
    """A person's hours on one date would exceed 24."""


class NotOnProject(Conflict):
    """The person is neither a member nor the manager of the project."""


class OwnTimeReview(DomainError):
    """Nobody but an admin approves or rejects their own time (unless the firm allows it)."""


class Forbidden(DomainError):
    """The caller's role, or relation to the object, does not allow the command."""
