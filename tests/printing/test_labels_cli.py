"""``flask --app app labels …`` end to end: files written, serials allocated, French refusals."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result
from flask.testing import FlaskCliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.extensions import db
from app.models import Event, LabelBatch
from app.printing.documents import workshop_year
from labels.barcode import InvalidCode, check_code
from tests.factories import MINIMAL_SCHOOL, Scanner, load_school, make_token
from tests.printing.barcodes import pdf_codes, pdf_text, png_codes

ROOT = Path(__file__).resolve().parents[2]
FLASK = Path(sys.executable).parent / "flask"
RANGE = re.compile(r"(\d+) étiquettes : P-(\d{4})-(\d{6}) à P-\d{4}-(\d{6})")


def labels(runner: FlaskCliRunner, *args: str) -> Result:
    return runner.invoke(args=["labels", *args])


def written(runner: FlaskCliRunner, *args: str) -> Result:
    """Run a labels command that must succeed."""
    result = labels(runner, *args)
    assert result.exit_code == 0, result.output
    return result


def test_sheet_allocates_prints_the_range_and_writes_labels_a_scanner_reads(
    runner: FlaskCliRunner, school: None, tmp_path: Path
) -> None:
    year = workshop_year()
    out = tmp_path / "planche.pdf"
    result = runner.invoke(args=["labels", "sheet", "OF-2026-0001", "--count", "5", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"5 étiquettes : P-{year}-000001 à P-{year}-000005"
    pdf = out.read_bytes()
    assert pdf.startswith(b"%PDF")
    assert pdf_codes(pdf) == [f"P-{year}-00000{n}" for n in range(1, 6)]
    assert "OF-2026-0001" in pdf_text(pdf) and "Support soudé" in pdf_text(pdf)
    again = runner.invoke(
        args=[
            "labels",
            "sheet",
            "of-2026-0001",
            "--count",
            "2",
            "--stock",
            "2x7",
            "--start",
            "3",
            "-o",
            str(out),
        ]
    )
    assert again.exit_code == 0, again.output
    assert again.stdout.strip() == f"2 étiquettes : P-{year}-000006 à P-{year}-000007"
    assert pdf_codes(out.read_bytes()) == [f"P-{year}-000006", f"P-{year}-000007"]
    stocks = db.session.execute(select(LabelBatch.stock).order_by(LabelBatch.id)).scalars()
    assert list(stocks) == ["3x8", "2x7"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sheet", "OF-2026-9999", "--count", "3"], "OF inconnu : OF-2026-9999."),
        (["sheet", "OF-2026-0001", "--count", "0"], "Nombre d'étiquettes invalide : 0"),
        (["sheet", "OF-2026-0001", "--count", "1001"], "Nombre d'étiquettes invalide : 1001"),
        (
            ["sheet", "OF-2026-0001", "--count", "3", "--stock", "4x4"],
            "Support d'étiquettes inconnu",
        ),
        (
            ["sheet", "OF-2026-0001", "--count", "3", "--start", "24"],
            "Début de planche impossible : 24",
        ),
        (["sheet", "OF-2026-0001", "--count", "3", "--start", "-1"], "Début de planche impossible"),
        (["render", "é\"'(", "--format", "svg"], "mauvais clavier"),
        (["render", "P-26-1", "--format", "png"], "n'est pas un code de l'atelier"),
        (["traveller", "OF-2026-9999"], "OF inconnu : OF-2026-9999."),
        (["badges", "--framework", "cap-inconnu"], "Référentiel inconnu : cap-inconnu."),
        (["actions", "--station", "ST-NULLE-PART"], "Poste inconnu : ST-NULLE-PART."),
        (["stations", "--stock", "carré"], "Support d'étiquettes inconnu"),
        (
            ["sheet", "OF-2026-0001", "--count", "3", "--site", "mulhouse"],
            "Site inconnu : mulhouse",
        ),
    ],
)
def test_a_bad_input_stops_with_a_french_message_and_allocates_nothing(
    runner: FlaskCliRunner, school: None, tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "sortie"
    result = labels(runner, *args, "-o", str(out))
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
    assert db.session.execute(select(LabelBatch)).first() is None
    assert db.session.execute(select(Event).where(Event.kind == "labels.allocate")).first() is None


def test_render_captions_each_kind_of_code_with_what_the_site_knows(
    runner: FlaskCliRunner, school: None, tmp_path: Path
) -> None:
    runner.invoke(
        args=["labels", "sheet", "OF-2026-0002", "--count", "1", "-o", str(tmp_path / "s")]
    )
    year = workshop_year()
    cases = {
        f"P-{year}-000001": ["OF-2026-0002", "Console pliée"],
        "ST-PLIEUSE": ["Presse plieuse"],
        "B-0003": ["Léa C."],
        "a-fin": ["Terminer"],
        "A-AIDE": ["Appeler"],
        "OF-2026-0001-20": [],
    }
    for code, words in cases.items():
        out = tmp_path / "label.pdf"
        result = labels(runner, "render", code, "--format", "pdf", "-o", str(out))
        assert result.exit_code == 0, result.output
        pdf = out.read_bytes()
        assert pdf_codes(pdf) == [code.upper()]
        for word in words:
            assert word in pdf_text(pdf), (code, word)
    assert "E2026-003" not in pdf_text((tmp_path / "label.pdf").read_bytes())
    png = tmp_path / "poste.png"
    assert (
        labels(
            runner, "render", "ST-SOUD-01", "--format", "png", "--dpi", "300", "-o", str(png)
        ).exit_code
        == 0
    )
    assert png_codes(png.read_bytes()) == ["ST-SOUD-01"]
    svg = tmp_path / "poste.svg"
    written(runner, "render", "ST-SOUD-01", "--format", "svg", "-o", str(svg))
    assert svg.read_text(encoding="utf-8").lstrip().startswith(("<?xml", "<svg"))
    zpl = tmp_path / "poste.zpl"
    assert (
        labels(
            runner, "render", "ST-SOUD-01", "--format", "zpl", "--dpi", "300", "-o", str(zpl)
        ).exit_code
        == 0
    )
    text = zpl.read_text(encoding="utf-8")
    assert text.startswith("^XA") and "ST-SOUD-01" in text and "Poste MAG 1 (135)" in text


def test_traveller_badges_actions_and_stations_write_their_pdfs(
    runner: FlaskCliRunner, school: None, tmp_path: Path
) -> None:
    traveller = tmp_path / "fiche.pdf"
    result = labels(runner, "traveller", "OF-2026-0001", "-o", str(traveller))
    assert result.exit_code == 0, result.output
    codes = pdf_codes(traveller.read_bytes())
    assert {"OF-2026-0001-10", "OF-2026-0001-20", "OF-2026-0001-30"} <= set(codes)
    text = pdf_text(traveller.read_bytes())
    assert "Client industriel (fictif)" in text and "WPS-135-PB" in text

    badges = tmp_path / "badges.pdf"
    result = labels(runner, "badges", "--framework", "cap-metallier", "-o", str(badges))
    assert result.exit_code == 0, result.output
    assert sorted(pdf_codes(badges.read_bytes())) == ["B-0003", "B-0004"]
    assert "Léa C." in pdf_text(badges.read_bytes())

    actions = tmp_path / "actions.pdf"
    result = labels(runner, "actions", "--station", "ST-KIOSK-1", "-o", str(actions))
    assert result.exit_code == 0, result.output
    assert set(pdf_codes(actions.read_bytes())) == {
        "A-FIN",
        "A-PAUSE",
        "A-ANNULE",
        "A-SORTIE",
        "A-AIDE",
    }

    stations = tmp_path / "postes.pdf"
    result = labels(runner, "stations", "-o", str(stations))
    assert result.exit_code == 0, result.output
    assert set(pdf_codes(stations.read_bytes())) == {
        "ST-SOUD-01",
        "ST-SOUD-02",
        "ST-PLASMA",
        "ST-PLIEUSE",
        "ST-KIOSK-1",
    }


def test_badges_list_the_students_without_a_printed_badge(
    runner: FlaskCliRunner, app: object, tmp_path: Path
) -> None:
    load_school(
        MINIMAL_SCHOOL,
        text=MINIMAL_SCHOOL.read_text("utf-8")
        .replace('badges: ["0B0051E6F2", "B-0004"]', 'badges: ["0B0051E6F2"]')
        .replace('name: "Inès K."', 'name: "Inès Kaddour"'),
    )
    out = tmp_path / "badges.pdf"
    result = labels(runner, "badges", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "Sans badge imprimé : Hugo L." in result.stderr
    assert set(pdf_codes(out.read_bytes())) == {"B-0001", "B-0002", "B-0003"}
    text = pdf_text(out.read_bytes())
    assert "Inès K." in text and "Kaddour" not in text


def test_a_printed_label_scanned_at_a_station_becomes_a_piece_of_its_order(
    runner: FlaskCliRunner, client: object, school: None, tmp_path: Path
) -> None:
    out = tmp_path / "planche.pdf"
    written(runner, "sheet", "OF-2026-0002", "--count", "2", "-o", str(out))
    [_first, second] = pdf_codes(out.read_bytes())
    scanner = Scanner(client, make_token("ST-SOUD-01"))  # type: ignore[arg-type]
    scanner.ok("B-0001")
    scanner.ok("OF-2026-0001")
    body = scanner.ok(second)
    assert body["station"]["work_order"]["number"] == "OF-2026-0002"


def _sheet_process(url: str, count: int, out: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "ATELIER_DATABASE_URL": url,
        "ATELIER_SECRET_KEY": "test-secret",
        "PYTHONWARNINGS": "ignore",
    }
    return subprocess.Popen(
        [
            str(FLASK),
            "--app",
            "app",
            "labels",
            "sheet",
            "OF-2026-0001",
            "--count",
            str(count),
            "-o",
            str(out),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sheets_printed_at_once_in_two_processes_get_disjoint_contiguous_ranges(
    database_url: str, school: None, tmp_path: Path, runner: FlaskCliRunner
) -> None:
    db.session.remove()  # the processes write; this test only reads afterwards
    processes = [_sheet_process(database_url, 150, tmp_path / f"planche-{n}.pdf") for n in range(3)]
    ranges = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
        match = RANGE.fullmatch(stdout.strip())
        assert match is not None, stdout
        count, _year, first, last = (int(part) for part in match.groups())
        assert count == 150 and last - first + 1 == 150
        ranges.append((first, last))
    ranges.sort()
    assert ranges == [(1, 150), (151, 300), (301, 450)]
    out = tmp_path / "suite.pdf"
    result = labels(runner, "sheet", "OF-2026-0001", "--count", "1", "-o", str(out))
    assert result.stdout.strip().endswith("000451")


# Text a scanner could never have read from one of our labels: any printable text that the
# code grammar refuses (wrong layout, accents, foreign prefixes, malformed codes…).
def _refused_by_the_grammar(text: str) -> bool:
    try:
        check_code(text)
    except InvalidCode:
        return True
    return False


_NOT_A_CODE = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs")),
    min_size=1,
    max_size=30,
).filter(lambda text: text.strip() and not text.startswith("-") and _refused_by_the_grammar(text))


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=_NOT_A_CODE)
def test_render_refuses_any_text_that_is_not_a_code_in_french_with_a_non_zero_exit(
    runner: FlaskCliRunner, school: None, tmp_path: Path, text: str
) -> None:
    out = tmp_path / "refus.svg"
    result = labels(runner, "render", text, "--format", "svg", "-o", str(out))
    assert result.exit_code != 0, (text, result.output)
    assert "Traceback" not in result.output
    assert "n'est pas un code de l'atelier" in result.output, result.output
    assert not out.exists()


def test_a_class_badge_says_its_holder_its_code_and_the_school_and_nothing_else(
    runner: FlaskCliRunner, school: None, tmp_path: Path
) -> None:
    out = tmp_path / "badges.pdf"
    written(runner, "badges", "--framework", "cap-metallier", "-o", str(out))
    lines = [line for line in pdf_text(out.read_bytes()).splitlines() if line.strip()]
    # Léa C. and Hugo L. (MINIMAL_SCHOOL), each with the school's name (its site, unnamed).
    assert sorted(lines) == sorted(["Léa C.", "B-0003", "belfort", "Hugo L.", "B-0004", "belfort"])


def test_sheet_and_badges_write_zpl_for_a_thermal_printers_roll(
    runner: FlaskCliRunner, school: None, tmp_path: Path
) -> None:
    year = workshop_year()
    roll = tmp_path / "rouleau.zpl"
    result = written(
        runner,
        "sheet",
        "OF-2026-0001",
        "--count",
        "3",
        "--format",
        "zpl",
        "--dpi",
        "300",
        "-o",
        str(roll),
    )
    assert result.stdout.splitlines()[0] == f"3 étiquettes : P-{year}-000001 à P-{year}-000003"
    zpl = roll.read_text(encoding="utf-8")
    assert zpl.count("^XA") == zpl.count("^XZ") == 3 and zpl.count("^CI28") == 3
    assert re.findall(r"\^FD(P-\d{4}-\d{6})\^FS", zpl) == [f"P-{year}-00000{n}" for n in (1, 2, 3)]
    assert "^PW827" in zpl  # 70 mm at 300 dpi
    cards = tmp_path / "badges.zpl"
    written(runner, "badges", "--framework", "cap-metallier", "--format", "zpl", "-o", str(cards))
    zpl = cards.read_text(encoding="utf-8")
    assert zpl.count("^XA") == 2
    assert sorted(re.findall(r"\^FD(B-\d+)\^FS", zpl)) == ["B-0003", "B-0004"]  # by name
    refused = labels(
        runner,
        "sheet",
        "OF-2026-0001",
        "--count",
        "2",
        "--format",
        "zpl",
        "--start",
        "3",
        "-o",
        str(tmp_path / "x.zpl"),
    )
    assert refused.exit_code != 0
    assert "Un rouleau d'étiquettes (zpl) n'a pas de position de départ." in refused.output
