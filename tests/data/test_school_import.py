"""Import and export of the school data file (docs/contract.md section 2)."""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskCliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.boundary import cli_origin, submit
from app.data.school import dump_school, export_school, read_school_file
from app.data.yamlfile import SchoolFileError
from app.extensions import db
from app.models import (
    Badge,
    Habilitation,
    Operation,
    OperationType,
    Site,
    Station,
    Student,
    StudentHabilitation,
    WorkOrder,
)
from tests.factories import DEMO_SCHOOL, MINIMAL_SCHOOL, Scanner, make_token, site_id

MINIMAL = yaml.safe_load(MINIMAL_SCHOOL.read_text(encoding="utf-8"))


@dataclass
class Summary:
    """What an import did, per kind of record, as the core answered."""

    created: Counter[str]
    updated: Counter[str]
    removed: Counter[str]
    unchanged: Counter[str]
    message: str

    @property
    def changed(self) -> bool:
        return bool(sum((self.created + self.updated + self.removed).values()))

    def line(self) -> str:
        return self.message


class Refused(Exception):
    """The core refused the import (nothing changed)."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__(messages)
        self.messages = messages


def run_import(data: dict[str, Any] | str, name: str = "ecole.yaml") -> Summary:
    """Import data (or YAML text) as the command does: read, validate, hand to the core."""
    text = (
        data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    )
    event = read_school_file(text, name)
    existing = db.session.execute(select(Site.id).where(Site.code == event.spec.site)).scalar()
    outcome = submit(cli_origin(existing), event)
    if not outcome.accepted:
        raise Refused(list(outcome.body.get("errors") or [outcome.body["error"]["message"]]))
    body = outcome.body
    return Summary(
        Counter(body["created"]),
        Counter(body["updated"]),
        Counter(body["removed"]),
        Counter(body["unchanged"]),
        body["message"],
    )


def import_errors(data: dict[str, Any] | str) -> list[str]:
    with pytest.raises((SchoolFileError, Refused)) as info:
        run_import(data)
    error = info.value
    assert isinstance(error, SchoolFileError | Refused)
    return list(error.messages)


def snapshot() -> str:
    db.session.commit()  # end the read snapshot: scans commit on their own connection
    return dump_school(export_school(db.session(), site_id()))


def test_demo_school_imports_and_a_second_import_changes_nothing(app: Flask) -> None:
    first = run_import(DEMO_SCHOOL.read_text(encoding="utf-8"), "belfort.yaml")
    assert first.changed
    assert first.created["students"] >= 12 and first.created["work_orders"] >= 6
    second = run_import(DEMO_SCHOOL.read_text(encoding="utf-8"), "belfort.yaml")
    assert not second.changed
    assert second.line().startswith("belfort.yaml : 0 créé(s), 0 modifié(s), 0 retiré(s)")


def test_export_writes_the_same_format_back(app: Flask) -> None:
    run_import(DEMO_SCHOOL.read_text(encoding="utf-8"))
    exported = snapshot()
    again = run_import(exported, "export.yaml")
    assert not again.changed
    assert snapshot() == exported
    original = yaml.safe_load(DEMO_SCHOOL.read_text(encoding="utf-8"))
    reloaded = yaml.safe_load(exported)
    assert reloaded["site"] == original["site"]
    assert reloaded["site_name"] == original["site_name"] == "École de Production de Belfort"
    assert {s["id"]: s["badges"] for s in reloaded["students"]} == {
        s["id"]: sorted(s.get("badges", [])) for s in original["students"]
    }
    assert {w["number"]: [o["step"] for o in w["operations"]] for w in reloaded["work_orders"]} == {
        w["number"]: [o["step"] for o in w["operations"]] for w in original["work_orders"]
    }


def test_changes_in_the_file_update_the_records(app: Flask) -> None:
    run_import(MINIMAL)
    data = copy.deepcopy(MINIMAL)
    data["students"][0]["name"] = "Lucas P."
    data["students"][1]["badges"].append(data["students"][0]["badges"].pop())  # B-0001 moves
    data["work_orders"][0]["operations"].pop()  # step 30 removed: never done yet
    summary = run_import(data)
    assert summary.updated["students"] == 1
    assert summary.removed["badges"] + summary.created["badges"] + summary.updated["badges"] >= 1
    assert summary.removed["operations"] == 1
    badge = db.session.execute(select(Badge).where(Badge.code == "B-0001")).scalar_one()
    assert badge.student is not None and badge.student.code == "E2026-002"
    assert (
        db.session.execute(select(Student).where(Student.code == "E2026-001")).scalar_one().name
        == "Lucas P."
    )


def test_the_schools_name_comes_from_the_file_and_shows_on_its_board(
    app: Flask, client: Any
) -> None:
    run_import(MINIMAL)
    assert db.session.execute(select(Site.name)).scalar_one() == "belfort"  # no name: the id
    assert "<small>en direct</small>" in client.get("/").get_data(as_text=True)
    data = copy.deepcopy(MINIMAL)
    data["site_name"] = "École de Production de Belfort"
    assert run_import(data).updated["sites"] == 1
    db.session.commit()
    assert db.session.execute(select(Site.name)).scalar_one() == "École de Production de Belfort"
    assert "<small>École de Production de Belfort</small>" in client.get("/").get_data(as_text=True)
    data["site_name"] = "x" * 151
    with pytest.raises(SchoolFileError, match="site_name : trop long"):
        run_import(data)


def test_swapping_two_stations_mqtt_devices_works(app: Flask) -> None:
    run_import(MINIMAL)
    data = copy.deepcopy(MINIMAL)
    data["stations"][0]["mqtt_device"], data["stations"][1]["mqtt_device"] = "ws02", "ws01"
    run_import(data)
    devices = dict(db.session.execute(select(Station.code, Station.mqtt_device)).all())
    assert devices["ST-SOUD-01"] == "ws02" and devices["ST-SOUD-02"] == "ws01"


def test_a_step_already_done_cannot_be_removed(app: Flask, client: Any) -> None:
    run_import(MINIMAL)
    welder = Scanner(client, make_token("ST-SOUD-01"))
    welder.ok("B-0001")
    welder.ok("OF-2026-0001-20")
    welder.ok("P-2026-000001")
    data = copy.deepcopy(MINIMAL)
    data["work_orders"][0]["operations"] = [
        op for op in data["work_orders"][0]["operations"] if op["step"] != 20
    ]
    errors = import_errors(data)
    assert any("l'étape 20 de OF-2026-0001 a déjà été réalisée" in e for e in errors)
    steps = db.session.execute(select(func.count()).select_from(Operation)).scalar_one()
    assert steps == 5


def with_habilitations(data: dict[str, Any]) -> dict[str, Any]:
    """Add habilitations to a school: the press brake and bending need one, Lucas holds it."""
    data["habilitations"] = [
        {"id": "PLIEUSE", "name": "Presse plieuse", "derogation_until": "2028-09-01"}
    ]
    data["stations"][3]["requires"] = ["PLIEUSE"]  # ST-PLIEUSE
    data["operation_types"][1]["requires"] = ["PLIEUSE"]  # PLIAGE
    data["students"][0]["habilitations"] = [
        {
            "id": "PLIEUSE",
            "until": "2027-06-30",
            "medical_until": "2027-03-31",
            "trained_on": "2026-09-15",
            "trainer": "M. Perrin",
        }
    ]
    return data


def error_for(mutate: Any) -> list[str]:
    data = copy.deepcopy(MINIMAL)
    mutate(data)
    return import_errors(data)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d["students"][0].update(birth_date="2010-01-01"),
            "students[0].birth_date : clé inconnue « birth_date »",
        ),
        (
            lambda d: d["students"][1].update(framework="cap-nope"),
            "students[1].framework : référentiel « cap-nope » inconnu",
        ),
        (
            lambda d: d["operation_types"][0]["competencies"].append("cap-rics:C9"),
            "operation_types[0].competencies[2] : compétence « cap-rics:C9 » inconnue",
        ),
        (
            lambda d: d["work_orders"][0]["operations"][1].update(wps="WPS-NOPE"),
            "work_orders[0].operations[1].wps : DMOS « WPS-NOPE » inconnu",
        ),
        (
            lambda d: d["work_orders"][0]["operations"][0].update(type="SOUDER"),
            "work_orders[0].operations[0].type : type d'opération « SOUDER » inconnu",
        ),
        (
            lambda d: d["work_orders"][0].update(customer="C-NOPE"),
            "work_orders[0].customer : client « C-NOPE » inconnu",
        ),
        (
            lambda d: d["students"].append(dict(d["students"][0], badges=[])),
            "students[4].id : élève « E2026-001 » en double",
        ),
        (
            lambda d: d["teachers"][0]["badges"].append("B-0001"),
            "teachers[0].badges[1] : badge « B-0001 » en double",
        ),
        (
            lambda d: d["stations"][0].update(code="SOUD-01"),
            "stations[0].code : « SOUD-01 » n'est pas un code de poste",
        ),
        (
            lambda d: d["stations"][0].update(kind="laser"),
            "stations[0].kind : type de poste « laser » inconnu",
        ),
        (
            lambda d: d["wps"][0].update(i_a=[200, 160]),
            "wps[0].i_a : la plage doit être positive avec min ≤ max",
        ),
        (
            lambda d: d["work_orders"][0].update(quantity="four"),
            "work_orders[0].quantity : un nombre entier est attendu",
        ),
        (
            lambda d: d["work_orders"][0].update(number="OF-26-1"),
            "work_orders[0].number : « OF-26-1 » n'est pas un numéro d'OF",
        ),
        (
            lambda d: d["work_orders"][0]["operations"].append({"step": 10, "type": "DEBIT"}),
            "work_orders[0].operations[3].step : étape « 10 » en double",
        ),
        (
            lambda d: d["students"][0]["badges"].append("b-12"),
            "students[0].badges[2] : « b-12 » n'est pas un badge valide",
        ),
        (
            lambda d: d["stations"][3].update(requires=["PLIEUSE"]),
            "stations[3].requires[0] : habilitation « PLIEUSE » inconnue",
        ),
        (
            lambda d: with_habilitations(d)["operation_types"][1].update(requires=["LASER"]),
            "operation_types[1].requires[0] : habilitation « LASER » inconnue",
        ),
        (
            lambda d: with_habilitations(d)["students"][1].update(
                habilitations=[{"id": "LASER", "until": "2027-06-30"}]
            ),
            "students[1].habilitations[0].id : habilitation « LASER » inconnue",
        ),
        (
            lambda d: with_habilitations(d)["habilitations"].append(
                {"id": "PLIEUSE", "name": "Autre"}
            ),
            "habilitations[1].id : habilitation « PLIEUSE » en double",
        ),
        (
            lambda d: with_habilitations(d)["students"][0]["habilitations"].append(
                {"id": "PLIEUSE", "until": "2028-06-30"}
            ),
            "students[0].habilitations[1].id : habilitation « PLIEUSE » en double",
        ),
        (
            lambda d: with_habilitations(d)["students"][0]["habilitations"][0].update(valid=True),
            "students[0].habilitations[0].valid : clé inconnue « valid »",
        ),
        (
            lambda d: with_habilitations(d)["students"][0]["habilitations"][0].pop("until"),
            "students[0].habilitations[0] : champ obligatoire « until » manquant",
        ),
        (
            lambda d: with_habilitations(d)["students"][0]["habilitations"][0].update(
                medical_until="2027-02-30"
            ),
            "students[0].habilitations[0].medical_until : « 2027-02-30 » n'est pas une date",
        ),
        (
            lambda d: with_habilitations(d)["habilitations"][0].update(code="X"),
            "habilitations[0].code : clé inconnue « code »",
        ),
        (lambda d: d.pop("site"), "champ obligatoire « site » manquant"),
        (lambda d: d.update(students={"id": "x"}), "students : une liste est attendue"),
        (
            lambda d: d["students"][0].pop("name"),
            "students[0] : champ obligatoire « name » manquant",
        ),
    ],
)
def test_invalid_file_names_the_file_line_and_field(app: Flask, mutate: Any, expected: str) -> None:
    errors = error_for(mutate)
    assert any(expected in error for error in errors), errors
    assert all(error.startswith("ecole.yaml:") for error in errors)


def test_error_line_numbers_point_at_the_offending_line(app: Flask) -> None:
    text = MINIMAL_SCHOOL.read_text(encoding="utf-8")
    lines = text.splitlines()
    target = next(i for i, line in enumerate(lines) if "E2026-002" in line)
    lines[target] = lines[target].replace("cap-rics", "cap-ricz")
    errors = import_errors("\n".join(lines))
    assert errors == [
        f"ecole.yaml:{target + 1}: students[1].framework : référentiel « cap-ricz » inconnu"
    ]


def test_yaml_syntax_errors_and_duplicate_keys_are_reported_with_their_line(app: Flask) -> None:
    errors = import_errors("site: belfort\nstudents:\n  - {id: E1, name: [}\n")
    assert errors[0].startswith("ecole.yaml:3: YAML invalide")
    errors = import_errors("site: belfort\nsite: autre\n")
    assert errors == ["ecole.yaml:2: site : clé en double"]


def test_invalid_file_changes_nothing(app: Flask) -> None:
    run_import(MINIMAL)
    before = snapshot()
    data = copy.deepcopy(MINIMAL)
    data["students"][0]["name"] = "Changé"
    data["customers"].append({"id": "C-NEW", "name": "Nouveau"})
    data["work_orders"][1]["customer"] = "C-NOPE"
    import_errors(data)
    assert snapshot() == before


def test_import_command_prints_a_summary_and_fails_cleanly(
    runner: FlaskCliRunner, tmp_path: Path
) -> None:
    ok = runner.invoke(args=["data", "import", str(MINIMAL_SCHOOL)])
    assert ok.exit_code == 0, ok.output
    assert ok.output.strip().splitlines()[-1].startswith(f"{MINIMAL_SCHOOL} : 41 créé(s)")
    bad = tmp_path / "ecole.yaml"
    bad.write_text(
        "site: belfort\nstudents:\n  - {id: E1, name: Zoé, framework: nope}\n", encoding="utf-8"
    )
    result = runner.invoke(args=["data", "import", str(bad)])
    assert result.exit_code != 0
    assert f"{bad}:3: students[0].framework : référentiel « nope » inconnu" in result.output
    assert "rien n'a été modifié" in result.output
    missing = runner.invoke(args=["data", "import", str(tmp_path / "absent.yaml")])
    assert missing.exit_code != 0 and "lecture impossible" in missing.output


def test_export_command_writes_a_file_that_imports_unchanged(
    runner: FlaskCliRunner, tmp_path: Path
) -> None:
    runner.invoke(args=["data", "import", str(MINIMAL_SCHOOL)])
    out = tmp_path / "export.yaml"
    assert runner.invoke(args=["data", "export", "-o", str(out)]).exit_code == 0
    result = runner.invoke(args=["data", "import", str(out)])
    assert result.exit_code == 0 and " 0 créé(s), 0 modifié(s), 0 retiré(s)" in result.output


# -- property: random invalid files fail cleanly and change nothing ----------------------

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


ALL_PATHS = [p for p in _paths(MINIMAL) if p]


@st.composite
def mutated_school(draw: st.DrawFn) -> dict[str, Any]:
    data = copy.deepcopy(MINIMAL)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(ALL_PATHS))
        parent: Any = data
        try:
            for part in path[:-1]:
                parent = parent[part]
            action = draw(st.sampled_from(["replace", "delete", "unknown_key"]))
            if action == "replace":
                parent[path[-1]] = draw(JUNK)
            elif action == "delete":
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent[draw(st.text(min_size=1, max_size=8))] = draw(JUNK)
        except (KeyError, IndexError, TypeError):
            continue
    return data


@settings(max_examples=60)
@given(data=mutated_school())
def test_random_mutations_fail_cleanly_and_change_nothing(app: Flask, data: dict[str, Any]) -> None:
    if db.session.execute(select(func.count()).select_from(WorkOrder)).scalar_one() == 0:
        run_import(MINIMAL)
    before = snapshot()
    try:
        text = yaml.safe_dump(data, allow_unicode=True)
    except yaml.YAMLError:
        return
    try:
        run_import(text)
    except SchoolFileError as exc:
        assert exc.messages and all(m.startswith("ecole.yaml:") for m in exc.messages)
        assert snapshot() == before
        return
    # A mutation that keeps the file valid is imported; importing it again changes nothing.
    assert not run_import(text).changed
    run_import(MINIMAL)


@settings(max_examples=60)
@given(text=st.text(max_size=300))
def test_random_text_never_crashes_the_import(app: Flask, text: str) -> None:
    try:
        run_import(text)
    except SchoolFileError as exc:
        assert exc.messages


@pytest.mark.parametrize("value", ["2026-13-45", "2026-02-30"])
def test_an_impossible_date_names_its_line_and_field_in_french(app: Flask, value: str) -> None:
    text = MINIMAL_SCHOOL.read_text(encoding="utf-8").replace("due: 2026-12-15", f"due: {value}")
    line = next(i for i, row in enumerate(text.splitlines(), 1) if f"due: {value}" in row)
    errors = import_errors(text)
    assert errors == [
        f"ecole.yaml:{line}: work_orders[0].due : « {value} » n'est pas une date valide "
        "(AAAA-MM-JJ)"
    ]


def test_a_student_can_say_when_their_schooling_ends_and_an_order_its_drawing(
    app: Flask,
) -> None:
    data = copy.deepcopy(MINIMAL)
    data["students"][0]["left_on"] = "2027-06-30"
    data["work_orders"][0]["drawing"] = "PLAN-SUP-12 ind. B"
    run_import(data)
    exported = yaml.safe_load(snapshot())
    assert str(exported["students"][0]["left_on"]) == "2027-06-30"
    assert exported["work_orders"][0]["drawing"] == "PLAN-SUP-12 ind. B"


def test_habilitations_are_imported_and_exported_back(app: Flask) -> None:
    first = run_import(with_habilitations(copy.deepcopy(MINIMAL)))
    assert first.created["habilitations"] == 1 and first.created["student_habilitations"] == 1
    exported = snapshot()
    assert not run_import(exported, "export.yaml").changed
    assert snapshot() == exported
    data = yaml.safe_load(exported)
    assert data["habilitations"] == [
        {"id": "PLIEUSE", "name": "Presse plieuse", "derogation_until": date(2028, 9, 1)}
    ]
    stations = {s["code"]: s for s in data["stations"]}
    assert stations["ST-PLIEUSE"]["requires"] == ["PLIEUSE"]
    assert "requires" not in stations["ST-SOUD-01"]
    types = {t["id"]: t for t in data["operation_types"]}
    assert types["PLIAGE"]["requires"] == ["PLIEUSE"] and "requires" not in types["DEBIT"]
    students = {s["id"]: s for s in data["students"]}
    assert students["E2026-001"]["habilitations"] == [
        {
            "id": "PLIEUSE",
            "until": date(2027, 6, 30),
            "medical_until": date(2027, 3, 31),
            "trained_on": date(2026, 9, 15),
            "trainer": "M. Perrin",
        }
    ]
    assert "habilitations" not in students["E2026-002"]


def test_a_school_without_habilitations_exports_none(app: Flask) -> None:
    run_import(MINIMAL)
    data = yaml.safe_load(snapshot())
    assert "habilitations" not in data
    assert not any("requires" in s for s in data["stations"])


def test_a_changed_or_dropped_habilitation_stays_on_record(app: Flask) -> None:
    data = with_habilitations(copy.deepcopy(MINIMAL))
    run_import(data)
    data["students"][0]["habilitations"][0]["until"] = "2028-06-30"
    changed = run_import(data)
    assert changed.updated["student_habilitations"] == 1
    data["students"][0]["habilitations"] = []
    data["stations"][3].pop("requires")
    dropped = run_import(data)
    assert dropped.removed["student_habilitations"] == 1
    assert dropped.updated["stations"] == 1
    rows = db.session.execute(
        select(StudentHabilitation).order_by(StudentHabilitation.id)
    ).scalars()
    history = [(row.until, row.ended_at is not None, row.trainer) for row in rows]
    assert history == [
        (date(2027, 6, 30), True, "M. Perrin"),
        (date(2028, 6, 30), True, "M. Perrin"),
    ]
    press = db.session.execute(select(Station).where(Station.code == "ST-PLIEUSE")).scalar_one()
    assert press.requires == []
    bending = db.session.execute(
        select(OperationType).where(OperationType.code == "PLIAGE")
    ).scalar_one()
    assert [h.code for h in bending.requires] == ["PLIEUSE"]
    assert db.session.execute(select(Habilitation.name)).scalar_one() == "Presse plieuse"
