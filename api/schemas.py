"""Request and response schemas: they validate, and they are the OpenAPI document."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema

from api.fields import Hours, Money, UtcDateTime
from domain.money import format_cents

Name = validate.And(validate.Length(min=1, max=200), validate.Regexp(r"\S", error="Blank name."))


class BodySchema(Schema):
    class Meta:
        unknown = RAISE


class QuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE


class RegisterClientSchema(BodySchema):
    name = fields.String(required=True, validate=Name)


class RenameClientSchema(BodySchema):
    name = fields.String(required=True, validate=Name)


class RegisterPersonSchema(BodySchema):
    first_name = fields.String(required=True, validate=Name)
    last_name = fields.String(required=True, validate=Name)
    email = fields.Email(required=True, validate=validate.Length(max=320))
    role = fields.String(required=True, validate=validate.OneOf(["admin", "manager", "member"]))
    weekly_capacity_hours = Hours(maximum=168, minimum_exclusive=0, metadata={"default": 40})
    default_bill_rate = Money(load_default=None, allow_none=True)
    cost_rate = Money(load_default=None, allow_none=True)


class CreateProjectSchema(BodySchema):
    name = fields.String(required=True, validate=Name)
    client_id = fields.UUID(required=True)
    manager_id = fields.UUID(required=True)
    start_date = fields.Date(required=True)
    end_date = fields.Date(load_default=None, allow_none=True)
    budget = Money(required=True)
    default_bill_rate = Money(load_default=None, allow_none=True)


class CommandResultSchema(Schema):
    id = fields.UUID(required=True)
    version = fields.Integer(required=True)
    position = fields.Integer(required=True, allow_none=True)


class PersonCreatedSchema(CommandResultSchema):
    token = fields.String(required=True)


class MinPositionSchema(QuerySchema):
    min_position = fields.Integer(validate=validate.Range(min=0))


class TeamMemberSchema(Schema):
    person_id = fields.UUID(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)
    bill_rate = Money(allow_none=True, attribute="bill_rate_cents")


class DashboardSchema(Schema):
    project_id = fields.UUID(required=True)
    name = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["open", "closed"]))
    client_id = fields.UUID(required=True)
    client_name = fields.String(required=True)
    manager_id = fields.UUID(required=True)
    manager_name = fields.String(required=True)
    start_date = fields.Date(required=True)
    end_date = fields.Date(allow_none=True)
    budget = Money(required=True, attribute="budget_cents")
    total_hours = Hours(required=True, attribute="total_hundredths", maximum=10**9)
    billable_hours = Hours(required=True, attribute="billable_hundredths", maximum=10**9)
    total_billed = Money(required=True, attribute="billed_cents")
    budget_remaining = fields.Method("get_budget_remaining", metadata={"type": "string"})
    budget_used_pct = fields.Float(required=True)
    active_task_count = fields.Integer(required=True)
    completed_task_count = fields.Integer(required=True)
    team_members = fields.List(fields.Nested(TeamMemberSchema), attribute="team", required=True)
    updated_at = UtcDateTime(required=True)

    def get_budget_remaining(self, row: dict[str, int]) -> str:
        return format_cents(row["budget_cents"] - row["billed_cents"])


Notes = validate.Length(max=2000)


class AtLeastOneField(BodySchema):
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
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class TaskResultSchema(CommandResultSchema):
    project_id = fields.UUID(required=True)
