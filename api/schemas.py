"""Request and response schemas: they validate, and they are the OpenAPI document."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    pre_dump,
    validate,
    validates_schema,
)

from api.fields import Hours, Money, UtcDateTime
from domain.model import ENTRY_STATUSES, Role
from domain.money import margin_pct
from domain.store.tokens import ENVIRONMENT_TOKEN_NAME


class Pattern(validate.Regexp):
    """A regular expression the whole value must match, as JSON Schema's `pattern` reads it
    here (Python's `$` would also match before a final newline)."""

    def __init__(self, regex: str, *, error: str | None = None) -> None:
        super().__init__(regex, error=error)
        self.text_regex = re.compile(regex)

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, str) or self.text_regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


# PostgreSQL text cannot hold NUL, and no name or note needs a control character. Each field
# gets one list of validators (apispec documents a list, not validate.And) with one pattern.
NO_CONTROL_CHARACTERS = Pattern(
    r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$", error="Control characters are not allowed."
)
# Names are shown to other people: a bidi control (U+202E reverses what follows) or an
# invisible character would let one name pass for another.
BIDI_AND_INVISIBLE = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb"
)
# One pattern (the document can show one): a character that is not a space, and none that
# is a control, a bidirectional control or invisible.
_NAME_CHARACTER = f"[^\\x00-\\x1f\\x7f{BIDI_AND_INVISIBLE}]"
Name = [
    validate.Length(min=1, max=200),
    Pattern(
        f"^{_NAME_CHARACTER}*[^\\x00-\\x20\\x7f\\s{BIDI_AND_INVISIBLE}]{_NAME_CHARACTER}*$",
        error="A name has a character that is not a space, and no control, bidirectional "
        "or invisible characters.",
    ),
]
Notes = [validate.Length(max=2000), NO_CONTROL_CHARACTERS]
Reason = [
    validate.Length(min=1, max=2000),
    Pattern(
        r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*[^\x00-\x20\x7f\s][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$",
        error="A reason has a character that is not a space and no control characters.",
    ),
]


class BodySchema(Schema):
    class Meta:
        unknown = RAISE


class QuerySchema(Schema):
    class Meta:
        unknown = RAISE


class RegisterClientSchema(BodySchema):
    OPENAPI = {"example": {"name": "Acme"}}  # noqa: RUF012 (read by api/openapi.py)
    name = fields.String(required=True, validate=Name)


class RenameClientSchema(BodySchema):
    name = fields.String(required=True, validate=Name)


class RegisterPersonSchema(BodySchema):
    OPENAPI = {  # noqa: RUF012 (read by api/openapi.py)
        "example": {
            "first_name": "Ann",
            "last_name": "Lee",
            "email": "ann@example.com",
            "role": Role.MEMBER.value,
            "weekly_capacity_hours": 40,
            "default_bill_rate": "120.00",
        }
    }
    first_name = fields.String(required=True, validate=Name)
    last_name = fields.String(required=True, validate=Name)
    email = fields.Email(required=True, validate=validate.Length(max=320))
    role = fields.String(required=True, validate=validate.OneOf([role.value for role in Role]))
    weekly_capacity_hours = Hours(maximum=168, minimum_exclusive=0, metadata={"default": 40})
    default_bill_rate = Money(load_default=None, allow_none=True)
    cost_rate = Money(load_default=None, allow_none=True)


class CreateProjectSchema(BodySchema):
    OPENAPI = {  # noqa: RUF012 (read by api/openapi.py)
        "example": {
            "name": "Website relaunch",
            "client_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
            "manager_id": "9b2f1c5e-3d4a-4b8e-a1f0-2c6d7e8f9a0b",
            "start_date": "2026-11-02",
            "end_date": "2027-03-31",
            "budget": "25000.00",
            "default_bill_rate": "120.00",
        }
    }
    name = fields.String(required=True, validate=Name)
    client_id = fields.UUID(required=True)
    manager_id = fields.UUID(required=True)
    start_date = fields.Date(required=True)
    end_date = fields.Date(load_default=None, allow_none=True)
    budget = Money(required=True)
    default_bill_rate = Money(load_default=None, allow_none=True)


def margins(billed_cents: int, cost_cents: int) -> dict[str, Any]:
    return {
        "margin_cents": billed_cents - cost_cents,
        "margin_pct": margin_pct(billed_cents, cost_cents),
    }


class CommandResultSchema(Schema):
    id = fields.UUID(required=True)
    version = fields.Integer(required=True)
    position = fields.Integer(required=True, allow_none=True)


class PersonCreatedSchema(CommandResultSchema):
    token = fields.String(required=True)


class TokenSchema(Schema):
    id = fields.UUID(required=True)
    name = fields.String(required=True)
    created_at = UtcDateTime(required=True)
    last_used_at = UtcDateTime(
        allow_none=True, metadata={"description": "Recorded to within a minute."}
    )
    expires_at = UtcDateTime(allow_none=True)
    current = fields.Boolean(
        required=True, metadata={"description": "The token this request was made with."}
    )


class TokenListSchema(Schema):
    items = fields.List(fields.Nested(TokenSchema), required=True)


class CreateTokenSchema(BodySchema):
    name = fields.String(
        required=True,
        validate=[
            *Name,
            validate.Length(max=100),
            validate.NoneOf([ENVIRONMENT_TOKEN_NAME], error="This name is reserved."),
        ],
    )
    expires_in_days = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=1, max=3650),
        metadata={"description": "Lifetime in days (default: no expiry)."},
    )


class TokenCreatedSchema(TokenSchema):
    token = fields.String(required=True, metadata={"description": "Shown once, never again."})


class MinPositionSchema(QuerySchema):
    min_position = fields.Integer(
        validate=validate.Range(min=0, max=2**63 - 1),
        metadata={"description": "Answer once the read model holds this position (or 503)."},
    )


class TeamMemberSchema(Schema):
    person_id = fields.UUID(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)
    bill_rate = Money(allow_none=True, attribute="bill_rate_cents")


class DashboardSchema(Schema):
    project_id = fields.UUID(required=True)
    name = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["open", "closed"]))
    archived = fields.Boolean(required=True)
    client_id = fields.UUID(required=True)
    client_name = fields.String(required=True)
    manager_id = fields.UUID(required=True)
    manager_name = fields.String(required=True)
    start_date = fields.Date(required=True)
    end_date = fields.Date(allow_none=True)
    budget = Money(required=True, attribute="budget_cents")
    total_hours = Hours(
        required=True, attribute="total_hundredths", maximum=10**9, minimum_exclusive=-1
    )
    billable_hours = Hours(
        required=True, attribute="billable_hundredths", maximum=10**9, minimum_exclusive=-1
    )
    total_billed = Money(
        required=True,
        attribute="billed_cents",
        metadata={"description": "The sum of the counted entries' billable_amount."},
    )
    total_cost = Money(
        required=True,
        attribute="total_cost_cents",
        metadata={"description": "The counted entries' cost (hours x cost rate when logged)."},
    )
    margin = Money(
        signed=True,
        required=True,
        attribute="margin_cents",
        metadata={"description": "total_billed - total_cost."},
    )
    margin_pct = fields.Float(
        required=True,
        allow_none=True,
        metadata={"description": "margin / total_billed in percent; null when nothing is billed."},
    )
    budget_remaining = Money(signed=True, required=True, attribute="budget_remaining_cents")
    budget_used_pct = fields.Float(required=True)
    active_task_count = fields.Integer(required=True)
    completed_task_count = fields.Integer(required=True)
    team_members = fields.List(fields.Nested(TeamMemberSchema), attribute="team", required=True)
    updated_at = UtcDateTime(required=True)

    @pre_dump
    def _remaining(self, row: dict[str, Any], **_: Any) -> dict[str, Any]:
        return (
            row
            | {"budget_remaining_cents": row["budget_cents"] - row["billed_cents"]}
            | margins(row["billed_cents"], row["total_cost_cents"])
        )


class AtLeastOneField(BodySchema):
    OPENAPI = {"minProperties": 1}  # noqa: RUF012 (read by api/openapi.py)

    @validates_schema
    def _not_empty(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ValidationError("Send at least one field to change.", "_schema")


class UpdatePersonSchema(AtLeastOneField):
    first_name = fields.String(validate=Name)
    last_name = fields.String(validate=Name)
    weekly_capacity_hours = Hours(maximum=168)
    default_bill_rate = Money(allow_none=True)
    cost_rate = Money(allow_none=True)


class UpdateProjectSchema(AtLeastOneField):
    name = fields.String(validate=Name)
    budget = Money()
    manager_id = fields.UUID()
    end_date = fields.Date(allow_none=True)
    default_bill_rate = Money(allow_none=True)


class AddMemberSchema(BodySchema):
    person_id = fields.UUID(required=True)
    role = fields.String(required=True, validate=Name)
    bill_rate = Money(load_default=None, allow_none=True)


class AddTaskSchema(BodySchema):
    name = fields.String(required=True, validate=Name)
    estimate_hours = Hours(maximum=100_000, load_default=None, allow_none=True)


class LogTimeSchema(BodySchema):
    OPENAPI = {  # noqa: RUF012 (read by api/openapi.py)
        "example": {
            "project_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
            "person_id": "9b2f1c5e-3d4a-4b8e-a1f0-2c6d7e8f9a0b",
            "date": "2026-11-30",
            "hours": 7.5,
            "billable": True,
            "notes": "Design review",
        }
    }
    project_id = fields.UUID(required=True)
    person_id = fields.UUID(required=True)
    date = fields.Date(required=True)
    hours = Hours(required=True)
    billable = fields.Boolean(required=True, truthy={True}, falsy={False})
    task_id = fields.UUID(load_default=None, allow_none=True)
    notes = fields.String(load_default=None, allow_none=True, validate=Notes)


class AmendTimeEntrySchema(AtLeastOneField):
    date = fields.Date()
    hours = Hours()
    billable = fields.Boolean(truthy={True}, falsy={False})
    task_id = fields.UUID(allow_none=True)
    notes = fields.String(allow_none=True, validate=Notes)


class RejectTimeEntrySchema(BodySchema):
    OPENAPI = {"example": {"reason": "Log this on the Relaunch project."}}  # noqa: RUF012
    reason = fields.String(
        required=True,
        validate=Reason,
    )


class LockDateSchema(BodySchema):
    lock_date = fields.Date(
        required=True,
        allow_none=True,
        metadata={"description": "Entries dated on or before it are locked; null unlocks."},
    )


class LockDateViewSchema(Schema):
    lock_date = fields.Date(required=True, allow_none=True)
    set_by = fields.UUID(required=True, allow_none=True)


WEEK = validate.Regexp(r"^\d{4}-W\d{2}$", error="An ISO week like 2026-W48.")
WEEK_STATUSES = [*ENTRY_STATUSES, "mixed"]


class RejectTimesheetSchema(RejectTimeEntrySchema):
    pass


class TimesheetRowSchema(Schema):
    person_id = fields.UUID(required=True)
    person_name = fields.String(required=True)
    week = fields.String(required=True, metadata={"example": "2026-W48"})
    week_start = fields.Date(required=True)
    hours = Hours(
        required=True,
        attribute="hundredths",
        maximum=10**9,
        minimum_exclusive=-1,
        metadata={"description": "The hours that count: draft, submitted and approved."},
    )
    status = fields.String(required=True, validate=validate.OneOf(WEEK_STATUSES))
    draft_entries = fields.Integer(required=True)
    submitted_entries = fields.Integer(required=True)
    approved_entries = fields.Integer(required=True)
    rejected_entries = fields.Integer(required=True)
    last_action = fields.String(
        allow_none=True, required=True, metadata={"description": "submitted, approved, rejected"}
    )
    acted_by = fields.UUID(allow_none=True, required=True)
    acted_by_name = fields.String(allow_none=True, required=True)
    reason = fields.String(allow_none=True, required=True)


class TimesheetPageSchema(Schema):
    items = fields.List(fields.Nested(TimesheetRowSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class TaskResultSchema(CommandResultSchema):
    project_id = fields.UUID(required=True)


class PagingSchema(QuerySchema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String(
        load_default=None,
        validate=[
            validate.Length(min=1, max=2000),
            Pattern(r"^[A-Za-z0-9_-]+$", error="The cursor is not valid."),
        ],
        metadata={"description": "`next_cursor` of the previous page."},
    )


class PageQuerySchema(MinPositionSchema, PagingSchema):
    """A page of a read model's list."""


class ProjectListQuerySchema(PageQuerySchema):
    client_id = fields.UUID()
    manager_id = fields.UUID()
    status = fields.String(validate=validate.OneOf(["open", "closed"]))
    archived = fields.Boolean(
        load_default=False,
        metadata={"description": "true lists archived projects too (hidden by default)."},
    )
    sort = fields.String(load_default="name", validate=validate.OneOf(["name", "-budget_used_pct"]))


class TimeEntryQuerySchema(PageQuerySchema):
    person_id = fields.UUID()
    project_id = fields.UUID()
    status = fields.String(validate=validate.OneOf(list(ENTRY_STATUSES)))
    date_from = fields.Date(data_key="from", metadata={"description": "First date (inclusive)."})
    date_to = fields.Date(
        data_key="to", metadata={"description": "Last date (inclusive); before `from`: no rows."}
    )


class ReportQuerySchema(PageQuerySchema):
    date_from = fields.Date(
        data_key="from", required=True, metadata={"description": "First date (inclusive)."}
    )
    date_to = fields.Date(
        data_key="to",
        required=True,
        metadata={"description": "Last date (inclusive); before `from`: no rows."},
    )


class BudgetBurnQuerySchema(MinPositionSchema):
    project_id = fields.UUID(required=True)


class DashboardPageSchema(Schema):
    items = fields.List(fields.Nested(DashboardSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class TimeEntryRowSchema(Schema):
    id = fields.UUID(required=True)
    date = fields.Date(required=True)
    hours = Hours(required=True, attribute="hours_hundredths")
    billable = fields.Boolean(required=True)
    billable_amount = Money(
        required=True,
        attribute="billable_amount_cents",
        metadata={"description": "What the client is billed: value when billable, else 0."},
    )
    value = Money(
        required=True,
        attribute="value_cents",
        metadata={"description": "hours x rate, whether billable or not."},
    )
    status = fields.String(required=True)
    notes = fields.String(allow_none=True)
    person_id = fields.UUID(required=True)
    person_name = fields.String(required=True)
    project_id = fields.UUID(required=True)
    project_name = fields.String(required=True)
    client_name = fields.String(required=True)
    task_id = fields.UUID(allow_none=True)
    task_name = fields.String(allow_none=True)
    rejection_reason = fields.String(
        allow_none=True, metadata={"description": "Why it was rejected, while it is."}
    )


class TimeEntryPageSchema(Schema):
    items = fields.List(fields.Nested(TimeEntryRowSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class UtilizationRowSchema(Schema):
    person_id = fields.UUID(required=True)
    person_name = fields.String(required=True)
    week = fields.String(required=True, metadata={"example": "2026-W48"})
    hours = Hours(required=True, attribute="hundredths", maximum=10**9, minimum_exclusive=-1)
    billable_hours = Hours(
        required=True, attribute="billable_hundredths", maximum=10**9, minimum_exclusive=-1
    )
    capacity_hours = Hours(
        required=True, attribute="capacity_hundredths", maximum=10**9, minimum_exclusive=-1
    )
    utilization_pct = fields.Float(required=True)
    billable_utilization_pct = fields.Float(required=True)


class UtilizationPageSchema(Schema):
    items = fields.List(fields.Nested(UtilizationRowSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class RevenueRowSchema(Schema):
    client_id = fields.UUID(required=True)
    client_name = fields.String(required=True)
    month = fields.String(required=True, metadata={"example": "2026-11"})
    billable_hours = Hours(
        required=True, attribute="billable_hundredths", maximum=10**9, minimum_exclusive=-1
    )
    billed = Money(
        required=True,
        attribute="billed_cents",
        metadata={"description": "The sum of the counted entries' billable_amount."},
    )
    cost = Money(
        required=True,
        attribute="cost_cents",
        metadata={"description": "The cost of every counted entry, billable or not."},
    )
    margin = Money(signed=True, required=True, attribute="margin_cents")

    @pre_dump
    def _margin(self, row: dict[str, Any], **_: Any) -> dict[str, Any]:
        return row | {"margin_cents": row["billed_cents"] - row["cost_cents"]}


class ProfitabilityRowSchema(Schema):
    project_id = fields.UUID(required=True)
    project_name = fields.String(required=True)
    month = fields.String(required=True, metadata={"example": "2026-11"})
    hours = Hours(required=True, attribute="hundredths", maximum=10**9, minimum_exclusive=-1)
    billed = Money(
        required=True,
        attribute="billed_cents",
        metadata={"description": "The sum of the counted entries' billable_amount."},
    )
    cost = Money(required=True, attribute="cost_cents")
    margin = Money(signed=True, required=True, attribute="margin_cents")
    margin_pct = fields.Float(required=True, allow_none=True)

    @pre_dump
    def _margins(self, row: dict[str, Any], **_: Any) -> dict[str, Any]:
        return row | margins(row["billed_cents"], row["cost_cents"])


class ProfitabilityPageSchema(Schema):
    items = fields.List(fields.Nested(ProfitabilityRowSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class RevenuePageSchema(Schema):
    items = fields.List(fields.Nested(RevenueRowSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class BudgetBurnRowSchema(Schema):
    week = fields.String(required=True)
    hours = Hours(required=True, attribute="hundredths", maximum=10**9, minimum_exclusive=-1)
    billed = Money(
        required=True,
        attribute="billed_cents",
        metadata={"description": "The sum of the counted entries' billable_amount."},
    )
    cumulative_billed = Money(required=True, attribute="cumulative_billed_cents")
    budget_remaining = Money(signed=True, required=True, attribute="budget_remaining_cents")


class BudgetBurnPageSchema(Schema):
    items = fields.List(fields.Nested(BudgetBurnRowSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class TimesheetQuerySchema(PageQuerySchema):
    person_id = fields.UUID()
    week = fields.String(validate=WEEK)
    status = fields.String(validate=validate.OneOf(WEEK_STATUSES))
