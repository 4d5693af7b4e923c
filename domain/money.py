"""Money as integer cents and hours as integer hundredths, with exact conversions."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def round_half_up_div(numerator: int, denominator: int) -> int:
    """Integer division rounding halves away from zero."""
    quotient = Decimal(numerator) / Decimal(denominator)
    return int(quotient.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def entry_amount_cents(hours_hundredths: int, rate_cents: int) -> int:
    """An entry's amount: hours times the hourly rate, rounded half up to the cent."""
    return round_half_up_div(hours_hundredths * rate_cents, 100)


def cents_from_decimal(amount: Decimal) -> int:
    return int((amount * 100).to_integral_exact())


def format_cents(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"


def percent(part: int, whole: int) -> Decimal:
    """part / whole in percent, rounded half away from zero to one decimal; 0 when whole is 0."""
    if whole == 0:
        return Decimal("0.0")
    return Decimal(round_half_up_div(part * 1000, whole)) / 10


def margin_pct(billed_cents: int, cost_cents: int) -> float | None:
    """(billed - cost) / billed in percent, to one decimal; None when nothing is billed (a
    margin on no revenue has no percentage)."""
    if billed_cents == 0:
        return None
    return float(percent(billed_cents - cost_cents, billed_cents))
