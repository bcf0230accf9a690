"""What the kiosk is told to show: the instruction, the steps' pictograms, a weld's verdict."""

from __future__ import annotations

from typing import Any

import pytest

from app.read.kiosk import next_step, pictogram, weld_message


def status(**changes: Any) -> dict[str, Any]:
    """Return a station's status with nothing going on, changed as given."""
    base: dict[str, Any] = {
        "students": [{"id": "E2026-001", "name": "Lucas"}],
        "work_order": None,
        "operation": None,
        "piece": None,
        "run": None,
        "help_since": None,
    }
    return {**base, **changes}


@pytest.mark.parametrize(
    ("changes", "kind"),
    [
        ({"students": []}, "badge"),
        ({}, "work_order"),
        ({"work_order": {"number": "OF-2026-0001"}}, "operation"),
        ({"work_order": {"number": "OF-2026-0001"}, "operation": {"step": 10}}, "piece"),
        ({"run": {"status": "running"}}, "finish"),
        ({"run": {"status": "paused"}}, "paused"),
        ({"run": {"status": "running"}, "help_since": "2026-12-01T10:00:00Z"}, "help"),
        ({"students": [], "help_since": "2026-12-01T10:00:00Z"}, "badge"),
    ],
)
def test_the_kiosk_asks_for_one_thing_at_a_time(changes: dict[str, Any], kind: str) -> None:
    step = next_step(status(**changes))
    assert step["kind"] == kind
    assert step["message"].endswith(".")
    assert "\n" not in step["message"]


@pytest.mark.parametrize(
    ("code", "name", "process", "picture"),
    [
        ("SOUD-MAG", "Soudage MAG (135)", "135", "welding"),
        ("TIG", "Soudure TIG", None, "welding"),
        ("DEBIT", "Débit", None, "debit"),
        ("PLASMA", "Découpe plasma", None, "debit"),
        ("PLIAGE", "Pliage", None, "bending"),
        ("ROUL", "Roulage", None, "bending"),
        ("ASSEMB", "Assemblage", None, "assembly"),
        ("MEUL", "Meulage", None, "grinding"),
        ("CONTROLE", "Contrôle", None, "control"),
        ("CONTROLE", "Contrôle dimensionnel et visuel des soudures", None, "control"),
        ("EMB", "Emballage", None, "generic"),
    ],
)
def test_each_operation_type_gets_a_pictogram_of_the_sprite(
    code: str, name: str, process: str | None, picture: str
) -> None:
    assert pictogram(code, name, process) == picture


def test_a_weld_verdict_is_said_in_words_a_student_reads() -> None:
    assert weld_message("in_range", []) == "Soudure dans la plage du DMOS."
    assert weld_message(None, None) is None
    assert weld_message("no_wps", None) == "Soudure enregistrée (pas de DMOS pour cette opération)."
    out = weld_message(
        "out_of_range",
        [
            {"field": "i_a", "value": 212.0, "min": 160, "max": 200},
            {"field": "u_v", "value": 19.5, "min": 21, "max": 25},
        ],
    )
    assert out == (
        "Soudure hors de la plage : Intensité trop haute de 12\u00a0A, "
        "Tension trop basse de 1,5\u00a0V."
    )
    assert weld_message("out_of_range", "pas une liste") == "Soudure hors de la plage du DMOS."
    process = [{"field": "process", "value": "111", "expected": "135"}]
    assert weld_message("out_of_range", process) == (
        "Soudure hors de la plage : Procédé 111 au lieu de 135."
    )
