"""marshmallow fields for money (a string with 2 decimals) and hours (a number)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import ValidationError, fields

from domain.model import DAY_LIMIT_HUNDREDTHS
from domain.money import cents_from_decimal, format_cents
from domain.store.db import as_utc

MONEY_PATTERN = r"^\d{1,13}(\.\d{1,2})?$"
MAX_CENTS = 10**15


class Money(fields.Field[int]):
    """Money in and out as a string, "1250.00"; integer cents inside."""

    def __init__(self, *, signed: bool = False, **kwargs: Any) -> None:
        """signed: an output that may be negative (a budget overrun)."""
        metadata = kwargs.pop("metadata", {}) | {
            "type": "string",
            "pattern": r"^-?\d+\.\d{2}$" if signed else MONEY_PATTERN,
            "example": "1250.00",
        }
        super().__init__(metadata=metadata, **kwargs)

    def _serialize(self, value: int | None, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else format_cents(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if not isinstance(value, str):
            raise ValidationError('Money is a string with at most 2 decimals, like "1250.00".')
        text = value
        if not re.fullmatch(MONEY_PATTERN, text, re.ASCII):
            raise ValidationError(
                'Money is a non-negative amount with at most 2 decimals, like "1250.00".'
            )
        cents = cents_from_decimal(Decimal(text))
        if cents >= MAX_CENTS:
            raise ValidationError("The amount is too large.")
        return cents


class Hours(fields.Field[int]):
    """Hours in and out as a JSON number with at most 2 decimals; hundredths inside."""

    def __init__(
        self,
        *,
        minimum_exclusive: float = 0,
        maximum: float = DAY_LIMIT_HUNDREDTHS // 100,
        **kwargs: Any,
    ) -> None:
        metadata = kwargs.pop("metadata", {}) | {
            "type": "number",
            "minimum": minimum_exclusive,
            "exclusiveMinimum": True,  # OpenAPI 3.0: a flag beside minimum
            "maximum": maximum,
            "multipleOf": 0.01,
        }
        super().__init__(metadata=metadata, **kwargs)
        self.minimum_exclusive = Decimal(str(minimum_exclusive))
        self.maximum = Decimal(str(maximum))

    def _serialize(self, value: int | None, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else value / 100

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError("Hours are a number, like 7.5.")
        try:
            amount = Decimal(repr(value) if isinstance(value, float) else value)
        except InvalidOperation as error:
            raise ValidationError("Hours are a number, like 7.5.") from error
        # The range first: quantizing a huge number (1e26) raises InvalidOperation.
        if not amount.is_finite() or not self.minimum_exclusive < amount <= self.maximum:
            raise ValidationError(
                f"Hours are more than {self.minimum_exclusive} and at most {self.maximum}."
            )
        if amount != amount.quantize(Decimal("0.01")):
            raise ValidationError("Hours have at most 2 decimals.")
        return int(amount * 100)


class UtcDateTime(fields.DateTime):
    """A timestamp in ISO 8601 UTC; naive values (SQLite drops the zone) are UTC."""

    def _serialize(
        self, value: dt.datetime | None, attr: str | None, obj: Any, **kwargs: Any
    ) -> Any:
        return super()._serialize(as_utc(value), attr, obj, **kwargs)
