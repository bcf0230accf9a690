"""Every form of the office, sent hostile values: never a 500, never a handler's crash.

Hypothesis posts each POST route of the office (``/bureau``, ``/bornes``, ``/comptes``) as
the administrator, with the forms' own field names filled with what a broken browser or a
malicious one can send: bytes that are not UTF-8 (a lone surrogate as a browser cannot
encode it), control characters, dates like 0001-01-01, 9999-12-31 or 2026-02-30, numbers
like 1e308, NaN, a 40-digit integer. Each answer is below 500, and no input was recorded
as a handler's crash (``internal_error``: the boundary turns a bug into a refusal, which a
status alone would hide).
"""

from __future__ import annotations

import re
from urllib.parse import quote_from_bytes

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.extensions import db
from app.models import Event
from tests.office.routes import board, orders, people, rgpd, school

PATHS = {**people.PATHS, **school.PATHS, **orders.PATHS, **board.PATHS, **rgpd.PATHS}
# Known objects of the minimal school, where a rule has arguments the table does not give.
KNOWN = {
    "code": "E2026-001",
    "number": "OF-2026-0001",
    "framework": "cap-rics",
    "kiosk_id": "999999",
    "user_id": "999999",
    "token_id": "999999",
}
FIELDS = (
    "active",
    "au",
    "code",
    "confirm",
    "content",
    "copy_of",
    "count",
    "create",
    "customer",
    "derogation_until",
    "drawing",
    "du",
    "due_on",
    "email",
    "end",
    "filename",
    "framework",
    "habilitation",
    "kind",
    "left_on",
    "medical_until",
    "mqtt_device",
    "name",
    "number",
    "of",
    "operation",
    "position",
    "printer",
    "process",
    "product",
    "quantity",
    "qui",
    "quoi",
    "read",
    "remove",
    "replaces",
    "requires",
    "role",
    "routing",
    "sha256",
    "start",
    "station",
    "station_kind",
    "status",
    "statut",
    "stock",
    "student",
    "template",
    "trained_on",
    "trainer",
    "until",
    "i_min_a",
    "i_max_a",
    "u_min_v",
    "u_max_v",
    "q_min_kj_mm",
    "q_max_kj_mm",
    "step_0",
    "type_0",
    "wps_0",
    "step_1",
    "type_1",
    "wps_1",
    "cell",
)
VALUES = st.one_of(
    st.sampled_from(
        [
            b"",
            b"0001-01-01",
            b"9999-12-31",
            b"2026-02-30",
            b"31/12/9999",
            b"1e308",
            b"-1e308",
            b"nan",
            b"inf",
            b"-0",
            b"9" * 40,
            b"-1",
            b"E2026-001",
            b"OF-2026-0001-10",
            b"cap-rics",
            b"cap-rics:C3",
            b"closed",
            b"1",
            b"\xed\xa0\x80",  # a lone surrogate, as no browser can encode it in UTF-8
            b"\xff\xfe",
            b"\x00",
            b"a" * 5000,
        ]
    ),
    st.text(max_size=30).map(lambda text: text.encode("utf-8")),
)
FORMS = st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=8)


def office_posts(app: Flask) -> list[str]:
    """Return the path of every POST route of the office, with known objects in it."""
    paths = []
    for rule in app.url_map.iter_rules():
        if "POST" not in (rule.methods or set()):
            continue
        if not rule.rule.startswith(("/bureau", "/bornes", "/comptes")):
            continue
        path = PATHS.get(rule.rule) or re.sub(
            r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: KNOWN.get(m.group(1), "X"), rule.rule
        )
        paths.append(path)
    return sorted(set(paths))


def encoded(form: dict[str, bytes]) -> bytes:
    """Return a form as a browser's urlencoded body, bytes as they are."""
    return "&".join(
        f"{name}={quote_from_bytes(value)}" for name, value in sorted(form.items())
    ).encode("ascii")


def test_every_office_form_answers_hostile_values_without_a_500(
    app: Flask, office: FlaskClient
) -> None:
    paths = office_posts(app)
    assert len(paths) >= 25, paths

    seen: set[tuple[str, int]] = set()

    def hostile(path: str) -> None:
        @settings(
            max_examples=12,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(form=FORMS)
        def post(form: dict[str, bytes]) -> None:
            answer = office.post(
                path, data=encoded(form), content_type="application/x-www-form-urlencoded"
            )
            assert answer.status_code < 500, (path, form, answer.status_code)
            seen.add((path, answer.status_code))

        post()

    for path in paths:
        hostile(path)
    # The forms got past their doors (not only 403s and 404s).
    assert {status for _, status in seen} & {200, 302, 303, 422}, sorted(seen)
    crashed = db.session.scalar(
        select(func.count()).select_from(Event).where(Event.error_code == "internal_error")
    )
    assert crashed == 0
