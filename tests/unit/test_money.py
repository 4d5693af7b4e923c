from decimal import Decimal

import pytest

from domain.money import cents_from_decimal, entry_amount_cents, format_cents


@pytest.mark.parametrize(
    ("hundredths", "rate", "cents"),
    [
        (750, 12000, 90000),  # 7.5 h at 120.00 = 900.00
        (1, 50, 1),  # 0.01 h at 0.50 = 0.005, rounds half up to 0.01
        (1, 49, 0),  # 0.0049 rounds down
        (333, 10001, 33303),  # 3.33 h at 100.01 = 333.0333
        (150, 333, 500),  # 1.5 h at 3.33 = 4.995, rounds half up to 5.00
    ],
)
def test_entry_amount_is_rounded_half_up_to_the_cent(
    hundredths: int, rate: int, cents: int
) -> None:
    assert entry_amount_cents(hundredths, rate) == cents


def test_money_round_trips_through_cents() -> None:
    assert cents_from_decimal(Decimal("1250.5")) == 125050
    assert format_cents(125050) == "1250.50"
    assert format_cents(5) == "0.05"
    assert format_cents(-1999) == "-19.99"
