"""The helpers of bench/compare.py: reading the benchmarks' figures, verdicts, the table."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import pytest

from bench import mqtt_ingest, scan_api
from bench.compare import (
    HIGHER,
    INFO,
    LOWER,
    ZERO,
    Figure,
    figures_for,
    format_table,
    mqtt_figures,
    overlap,
    parse_mqtt_text,
    parse_scan_text,
    saturation_note,
    scan_figures,
    score,
    statement_figures,
    table_rows,
    verdict,
)
from bench.sql_probe import describe, scan_kinds, statement_verb


def scan_result(backend: str) -> dict[str, Any]:
    return {
        "backend": backend,
        "trivial_req_s": [3431.5, 3453.2],
        "scan_req_s": 598.37,
        "ratio": 598.37 / 3442.35,
        "scan_p50_ms": 32.04,
        "scan_p99_ms": 62.0,
        "non_201": 2,
        "errors": {"connect_errors": 0, "read_errors": 0, "write_errors": 0, "timeouts": 0},
        "last_error": "",
        "open_loop": {
            "sent": 1000,
            "statuses": {201: 1000},
            "p50_ms": 3.94,
            "p99_ms": 7.71,
            "max_ms": 12.04,
            "achieved_per_s": 200.0,
        },
        "database_is_locked": 1,
        "check": {
            "events": 4022,
            "unique": 4021,
            "answered_not_recorded": 3,
            "recorded_not_sent": 4,
            "details": [(1, [2], [])],
            "open_loop_recorded": 999,
            "open_loop_sent": 1000,
            "by_status": {"accepted": 4021},
            "internal_errors": 5,
        },
        "statements": {
            "mean": {"scans": 3, "statements": 10.26, "begin": 1.0, "commit": 1.0},
            "by_kind": {"badge in": {"statements": 9.75}, "A-FIN": {"statements": 15.0}},
            "statuses": {"badge in: 201": 2, "A-FIN: 409": 1},
        },
    }


def mqtt_result(backend: str) -> dict[str, Any]:
    return {
        "backend": backend,
        "bare": {"messages": 20973, "seconds": 3.473, "per_s": 6038.8, "publisher_per_s": 6868.8},
        "live": {"messages": 21088, "seconds": 4.38, "per_s": 4812.7, "publisher_per_s": 7168.4},
        "drain": {"messages": 21021, "seconds": 3.73, "per_s": 5629.5},
        "ratio": 4812.7 / 6038.8,
        "check": {
            "messages_sent": 42109,
            "recorded": 42110,
            "distinct": 42108,
            "welds_sent": 8000,
            "welds_stored": 7999,
            "rejected": 0,
            "seq_gaps": 2,
        },
    }


def test_the_scan_benchmark_text_reads_as_its_json(capsys: pytest.CaptureFixture[str]) -> None:
    print("scan API benchmark: gunicorn 2 workers, 2026-12-01 08:12, 5 s per load")
    for backend in ("sqlite", "postgresql"):
        scan_api.report(scan_result(backend))
    parsed = parse_scan_text(capsys.readouterr().out)
    assert set(parsed) == {"sqlite", "postgresql"}
    expected = scan_figures(scan_result("sqlite"))
    # The text rounds: req/s to units, milliseconds to tenths.
    assert parsed["sqlite"] == pytest.approx(expected, rel=0.01, abs=0.06)
    assert expected["scan.doubled"] == 1 and expected["scan.open_unrecorded"] == 1


def test_the_text_of_670a9cf_without_the_statements_line_reads(
    capsys: pytest.CaptureFixture[str],
) -> None:
    scan_api.report(scan_result("sqlite"))
    text = "\n".join(
        line for line in capsys.readouterr().out.splitlines() if "statements" not in line
    )
    assert parse_scan_text(text)["sqlite"]["scan.closed"] == 598


def test_the_mqtt_benchmark_text_reads_as_its_json(capsys: pytest.CaptureFixture[str]) -> None:
    mqtt_ingest.report(mqtt_result("postgresql"))
    parsed = parse_mqtt_text(capsys.readouterr().out)
    expected = mqtt_figures(mqtt_result("postgresql"))
    assert parsed["postgresql"] == pytest.approx(expected, rel=0.01)
    assert (expected["mqtt.lost"], expected["mqtt.doubled"]) == (1, 2)


def test_a_missing_line_is_an_error() -> None:
    with pytest.raises(ValueError, match="trivial endpoint"):
        parse_scan_text("== sqlite ==\nnothing here\n")


def test_the_sequence_of_the_bench_is_named_by_kind() -> None:
    codes = list(itertools.islice(scan_api.station_codes(1), scan_api.PROBE_SCANS))
    kinds = Counter(scan_kinds(codes))
    assert kinds == {
        "badge in": 4,
        "work order": 1,
        "operation": 150,
        "piece (starts a run)": 150,
        "A-PAUSE (pause)": 5,
        "A-PAUSE (resume)": 5,
        "A-FIN": 150,
        "badge out": 2,
    }


def test_statement_verbs() -> None:
    assert statement_verb("  select 1") == "SELECT"
    assert statement_verb("(SELECT 1) UNION (SELECT 2)") == "SELECT"
    assert statement_verb("BEGIN IMMEDIATE") == "BEGIN"
    assert statement_verb("") == ""


def test_statement_figures_and_their_line() -> None:
    probe = scan_result("sqlite")["statements"]
    figures = statement_figures(probe)
    assert figures["sql.statements"] == 10.26
    assert figures["sql.rollback"] == 0.0
    assert figures["sql.non_201"] == 1
    assert figures["sql.kind.A-FIN"] == 15.0
    assert describe(probe).startswith("10.26 (+ 1.00 BEGIN, 1.00 COMMIT, 0.00 ROLLBACK)")


@pytest.mark.parametrize(
    ("direction", "base", "head", "ratio", "expected"),
    [
        (HIGHER, 100.0, 95.0, 0.95, "ok"),
        (HIGHER, 100.0, 85.0, 0.85, "WORSE"),
        (LOWER, 10.0, 12.0, 10 / 12, "WORSE"),
        (LOWER, 10.0, 5.0, 2.0, "ok"),
        (LOWER, 0.0, 0.0, 1.0, "ok"),
        (LOWER, 0.0, 1.0, 0.0, "WORSE"),
        (LOWER, 1.0, 0.0, None, "ok"),
        (HIGHER, 0.0, 5.0, None, "ok"),
        (HIGHER, 5.0, 0.0, 0.0, "WORSE"),
        (ZERO, 3.0, 0.0, None, "ok"),
        (ZERO, 0.0, 1.0, None, "CHECK"),
        (INFO, 1.0, 100.0, None, "info"),
        (HIGHER, None, 1.0, None, "n/a"),
    ],
)
def test_verdicts(
    direction: str, base: float | None, head: float | None, ratio: float | None, expected: str
) -> None:
    figure = Figure("x", "x", "", direction)
    assert score(figure, base, head) == (None if ratio is None else pytest.approx(ratio))
    assert verdict(figure, base, head) == expected


def test_the_table_gives_medians_ratios_and_spreads() -> None:
    keys = {"sql.kind.A-FIN", "sql.kind.badge in", "sql.kind.new kind"}
    figures = figures_for(["scan", "statements"], keys)
    kinds = [f.label.strip() for f in figures if f.key.startswith("sql.kind.")]
    assert kinds == ["statements: badge in", "statements: A-FIN", "statements: new kind"]
    rows = table_rows(
        figures,
        {"scan.closed": [500.0, 600.0, 550.0], "scan.open_p99": [10.0]},
        {"scan.closed": [540.0, 560.0, 520.0], "scan.open_p99": [20.0]},
    )
    by_key = {row["key"]: row for row in rows}
    assert by_key["scan.closed"]["base"] == 550 and by_key["scan.closed"]["head"] == 540
    assert by_key["scan.closed"]["spread"] == pytest.approx(100 / 550)
    assert by_key["scan.open_p99"]["ratio"] == 0.5
    assert by_key["scan.open_p99"]["verdict"] == "WORSE"
    assert by_key["scan.lost"]["verdict"] == "n/a"
    table = format_table(rows)
    lines = table.splitlines()
    assert lines[0].startswith("| figure") and "spread" in lines[0]
    assert len({len(line) for line in lines}) == 1
    assert "scan API: open loop p99 ↓" in table


def test_a_miss_within_the_spread_is_marked_in_noise() -> None:
    figure = Figure("scan.closed", "closed", "scans/s", HIGHER)
    assert overlap(figure, [100.0, 80.0, 120.0], [70.0, 85.0, 60.0])
    assert not overlap(figure, [100.0, 95.0, 120.0], [70.0, 85.0, 60.0])
    assert not overlap(figure, [100.0], [70.0])
    latency = Figure("scan.open_p99", "p99", "ms", LOWER)
    assert overlap(latency, [10.0, 12.0, 9.0], [13.0, 11.5, 14.0])


def test_saturation_note() -> None:
    rows = table_rows(
        figures_for(["scan"], set()),
        {"scan.open_rate": [200.0], "scan.closed": [205.0]},
        {"scan.open_rate": [200.0], "scan.closed": [600.0]},
    )
    note = saturation_note(rows)
    assert note is not None and "33–98 %" in note
    assert saturation_note(rows[:1]) is None
