"""The metric-name extraction that keeps ops/ in step with what the app exports."""

from __future__ import annotations

from tests.support.monitoring import metric_names


def test_functions_labels_ranges_and_variables_are_not_metric_names() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (command, le) (rate(tally_command_seconds_bucket{job="x",'
        'projection=~"$projection"}[$__rate_interval])))'
    )
    assert metric_names(expr) == {"tally_command_seconds_bucket"}


def test_binary_operators_absent_and_recording_rules() -> None:
    expr = (
        'absent(up{job="tally-worker"} == 1) and on () max(delta(tally_event_log_head[10m])) > 0'
        " or tally:command_error_ratio:rate5m > 0.05 unless bool time()"
    )
    assert metric_names(expr) == {"up", "tally_event_log_head", "tally:command_error_ratio:rate5m"}


def test_strings_never_yield_names() -> None:
    assert metric_names('count by (a) (tally_projection_up{status="tally_x"}) > 0') == {
        "tally_projection_up"
    }
