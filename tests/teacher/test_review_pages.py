"""The teacher's review pages: the queue, a piece with its weld charts, the review in three
taps, a batch, unattributed welds and photos — through the pages, on both databases.

The browser tests drive Debian's Chromium on the live gunicorn server at the tablet's two
sizes; axe-core checks each page and a screenshot of each is saved to
``test-artifacts/teacher/``. The others post the plain forms (no JavaScript), as a tablet
with scripts off would, and read the database to see what changed.
"""

from __future__ import annotations

import functools
import io
import json
import re
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image, ImageChops
from sqlalchemy import event, select, update
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from app import create_app
from app.boundary import submit
from app.config import TestingConfig
from app.extensions import db
from app.ingest.events import Actor, Origin, SelfAssess
from app.models import (
    Assessment,
    Competency,
    Event,
    Evidence,
    OperationRun,
    Piece,
    PieceReview,
    ReviewPhoto,
    Student,
    Weld,
    utcnow,
)
from app.teacher import review as review_pages
from tests.factories import Scanner, load_school, make_staff, make_token, site_id
from tests.teacher.conftest import EMAIL, ORDER, PASSWORD, Tablet, Workshop, expect

HUGO = "B-0004"  # E2026-004 « Hugo L. » (cap-metallier)
BENT = "OF-2026-0002"  # débit, then pliage at ST-PLIEUSE


@functools.cache
def camera_photo() -> bytes:
    """A tablet camera's photo: a 4 MB JPEG, 4000x3000 as stored, EXIF « rotate 90° ».

    Upright it is 3000x4000 (portrait). Noise keeps it heavy, as a real photo is.
    """
    size = (4000, 3000)
    gradient = Image.linear_gradient("L").resize(size)
    bands = [ImageChops.add(Image.effect_noise(size, 36), gradient, scale=2.0) for _ in "rgb"]
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: the camera was held upright, turn 90° clockwise
    out = io.BytesIO()
    Image.merge("RGB", bands).save(out, "JPEG", quality=85, exif=exif)
    return out.getvalue()


def photo_file(tmp_path: Path) -> Path:
    path = tmp_path / "IMG_20261126_094112.jpg"
    path.write_bytes(camera_photo())
    assert 3_500_000 < path.stat().st_size < 6_000_000, path.stat().st_size
    return path


def post_photo(
    client: FlaskClient, path: str, fields: dict[str, str], data: bytes, accept: str = "text/html"
) -> Any:
    """Post the photo form with a photo of ``data``, encoded in memory.

    (The test client spools a large multipart body to a temporary file it never closes.)
    """
    photo = FileStorage(io.BytesIO(data), filename="IMG_0001.jpg", content_type="image/jpeg")
    boundary, body = encode_multipart({**fields, "photo": photo})
    return client.post(
        path,
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers={"Accept": accept},
    )


def photos_of(code: str) -> list[ReviewPhoto]:
    db.session.commit()  # a new transaction: sees what the server committed
    return list(
        db.session.execute(
            select(ReviewPhoto)
            .join(Piece, Piece.id == ReviewPhoto.piece_id)
            .where(Piece.code == code)
        ).scalars()
    )


def finish_bent_piece(client: FlaskClient, workshop: Workshop, code: str) -> str:
    """Make a piece of OF-2026-0002: Léa cuts it at the plasma, Hugo bends it."""
    bender = Scanner(client, make_token("ST-PLIEUSE", name="plieuse"))
    bender.ok(HUGO)
    workshop.cutter.ok(f"{BENT}-10")
    workshop.cutter.ok(code)
    workshop.cutter.ok("A-FIN")
    bender.ok(f"{BENT}-20")
    bender.ok(code)
    bender.ok("A-FIN")
    return code


def sign_in(client: FlaskClient) -> None:
    response = client.post("/connexion", data={"email": EMAIL, "password": PASSWORD})
    assert response.status_code in (302, 303), response.status_code


def piece_row(code: str) -> Piece:
    db.session.commit()  # a new transaction: sees what the server committed
    piece = db.session.execute(select(Piece).where(Piece.code == code)).scalar_one()
    return piece


def reviews_of(code: str) -> list[PieceReview]:
    db.session.commit()  # a new transaction: sees what the server committed
    return list(
        db.session.execute(
            select(PieceReview)
            .join(Piece, Piece.id == PieceReview.piece_id)
            .where(Piece.code == code)
        ).scalars()
    )


def levels_of(code: str) -> dict[tuple[str, str], str]:
    """The latest level of each (student, competency code) evidenced by a piece."""
    db.session.commit()  # a new transaction: sees what the server committed
    rows = db.session.execute(
        select(Student.code, Competency.code, Assessment.level)
        .join(Evidence, Evidence.id == Assessment.evidence_id)
        .join(Student, Student.id == Evidence.student_id)
        .join(Competency, Competency.id == Evidence.competency_id)
        .join(OperationRun, OperationRun.id == Evidence.run_id)
        .join(Piece, Piece.id == OperationRun.piece_id)
        .where(Piece.code == code)
        .order_by(Assessment.assessed_at, Assessment.id)
    ).all()
    return {(student, competency): level for student, competency, level in rows}


def form_fields(html: str) -> dict[str, str]:
    """The hidden fields of the first review form of a page (its CSRF token and event key)."""
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))


def review_form(client: FlaskClient, code: str) -> dict[str, str]:
    """Open a piece's page and return its review form's hidden fields."""
    page = client.get(f"/enseignant/pieces/{code}")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    return form_fields(page.get_data(as_text=True))


def test_without_javascript_the_form_fills_in_then_records_once_whatever_the_retries(
    client: FlaskClient, workshop: Workshop, teacher: Any
) -> None:
    code = workshop.finish_piece(spike=True)
    # Lucas said at the kiosk, after « A-FIN », that his welding went well.
    kiosk = Origin(site_id(), "kiosk", uuid.uuid4().hex, Actor("kiosk", "borne"), utcnow(), "")
    assert submit(kiosk, SelfAssess(code, 20, "E2026-001", "facile")).accepted
    sign_in(client)
    queue = client.get("/enseignant/").get_data(as_text=True)
    assert f'href="/enseignant/pieces/{code}"' in queue and "À évaluer <span" in queue
    assert 'data-count="awaiting">(1)' in queue
    page = client.get(f"/enseignant/pieces/{code}").get_data(as_text=True)
    # The weld's samples are on the page for its chart, with the WPS band and the spike.
    charts = json.loads(page.split('id="weld-charts">', 1)[1].split("</script>", 1)[0])
    first = charts["weld-1"]
    assert first["band"]["i"] == [160.0, 200.0] and first["samples"] == 60
    assert len(first["out"]) == 1 and 1.9 <= first["out"][0][0] <= 2.1, first["out"]
    assert "1 passage hors de la plage" in page and "Apport de chaleur" in page
    lucas = page.split("<h3>Lucas M.</h3>", 1)[1]
    assert "Son ressenti : <strong>facile</strong>" in lucas.split("</details>", 1)[0]
    fields = review_form(client, code)

    # « Tout au niveau 3 » without JavaScript: the same form, every level at 3, no write.
    filled = client.post(
        f"/enseignant/pieces/{code}/evaluation",
        data={**fields, "verdict": "conforme", "fill": "3"},
    )
    assert filled.status_code == 200
    html = filled.get_data(as_text=True)
    assert len(re.findall(r'value="3" checked', html)) == 3, html
    assert reviews_of(code) == []

    levels = {
        "level:E2026-001:cap-rics:C4": "3",
        "level:E2026-003:cap-metallier:C3.3": "4",
        "level:E2026-003:cap-metallier:C3.8": "3",
        "canned:E2026-003": "Travail soigné",
        "comment:E2026-003": "Bonne coupe",
    }
    for _ in range(2):  # a double tap on « Valider »: the same key, one review
        done = client.post(
            f"/enseignant/pieces/{code}/evaluation",
            data={**fields, "verdict": "conforme", "action": "valider", **levels},
        )
        assert done.status_code == 303 and done.headers["Location"].endswith("/enseignant/")
    assert [review.verdict for review in reviews_of(code)] == ["conforme"]
    assert levels_of(code) == {
        ("E2026-001", "C4"): "3",
        ("E2026-003", "C3.3"): "4",
        ("E2026-003", "C3.8"): "3",
    }
    comments = (
        db.session.execute(select(Assessment.comment).where(Assessment.comment.is_not(None)))
        .scalars()
        .all()
    )
    assert comments == ["Travail soigné. Bonne coupe"] * 2, comments
    assert f"Pièce {code} conforme" in client.get("/enseignant/").get_data(as_text=True)


def test_refusals_are_said_in_french_and_change_nothing(
    client: FlaskClient, workshop: Workshop, teacher: Any
) -> None:
    code = workshop.finish_piece()
    sign_in(client)
    fields = review_form(client, code)
    cases = [
        ({"verdict": "parfait"}, "Verdict inconnu"),
        ({"verdict": "conforme", "level:E2026-001:cap-rics:C4": "5"}, "Niveau inconnu"),
        # Lucas's framework has no C3.3: the piece does not show it for him.
        ({"verdict": "conforme", "level:E2026-001:cap-metallier:C3.3": "3"}, None),
    ]
    for data, words in cases:
        answer = client.post(
            f"/enseignant/pieces/{code}/evaluation",
            data={**fields, "key": uuid.uuid4().hex, "action": "valider", **data},
        )
        if words is None:  # a field of no evidence on the page is not read at all
            assert answer.status_code == 303
            continue
        assert answer.status_code == 422, data
        html = answer.get_data(as_text=True)
        assert words in html and "Rien n'a été enregistré" in html, html
    assert [review.verdict for review in reviews_of(code)] == ["conforme"]
    assert set(levels_of(code).values()) == set(), levels_of(code)

    # A piece still in the making cannot be reviewed; an unknown one is « introuvable ».
    workshop.cutter.ok(f"{ORDER}-10")
    workshop.cutter.ok("P-2026-000099")
    fields = review_form(client, "P-2026-000099")
    busy = client.post(
        "/enseignant/pieces/P-2026-000099/evaluation",
        data={**fields, "verdict": "conforme", "action": "valider"},
    )
    assert busy.status_code == 422 and "pas terminée" in busy.get_data(as_text=True)
    assert reviews_of("P-2026-000099") == []
    for path in ("/enseignant/pieces/P-2026-999999", "/enseignant/of/OF-1999-0001/lot"):
        missing = client.get(path)
        assert missing.status_code in (200, 404), path
    assert client.get("/enseignant/pieces/P-2026-999999").status_code == 404
    gone = client.post("/enseignant/pieces/P-2026-999999/evaluation", data={"verdict": "conforme"})
    assert gone.status_code == 404 and "Introuvable" in gone.get_data(as_text=True)

    # Unattributed welds: an unknown piece or no student is refused, the weld stays waiting.
    weld_id = workshop.stray_weld()
    for data, words in (
        ({"piece": "P-2026-999999", "step": "20", "students": "E2026-001"}, "P-2026-999999"),
        ({"piece": code, "step": "20"}, "Choisissez au moins un élève"),
        ({"piece": code, "step": "vingt", "students": "E2026-001"}, "Numéro d&#39;opération"),
    ):
        answer = client.post(f"/enseignant/soudures/{weld_id}/attribuer", data=data)
        assert answer.status_code == 422 and words in answer.get_data(as_text=True), data
    assert (
        db.session.execute(select(Weld.run_id).where(Weld.weld_key == weld_id)).scalar_one() is None
    )


def test_a_photo_of_the_piece_is_kept_reencoded_and_served_uncached(
    client: FlaskClient, workshop: Workshop, teacher: Any
) -> None:
    code = workshop.finish_piece()
    sign_in(client)
    fields = review_form(client, code)
    picture = io.BytesIO()
    Image.new("RGB", (640, 480), (180, 120, 40)).save(picture, "PNG")
    sent = client.post(
        f"/enseignant/pieces/{code}/photo",
        data={**fields, "photo": (io.BytesIO(picture.getvalue()), "piece.png", "image/png")},
        content_type="multipart/form-data",
    )
    assert sent.status_code == 303, sent.get_data(as_text=True)
    page = client.get(f"/enseignant/pieces/{code}").get_data(as_text=True)
    found = re.search(r'src="(/enseignant/photos/(\d+)\.jpg)"', page)
    assert found, page
    served = client.get(found.group(1))
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert served.headers["Cache-Control"] == "no-store"
    assert Image.open(io.BytesIO(served.data)).size == (640, 480)
    refused = client.post(
        f"/enseignant/pieces/{code}/photo",
        data={
            **fields,
            "key": uuid.uuid4().hex,
            "photo": (io.BytesIO(b"not a picture"), "x.png", "image/png"),
        },
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    assert client.get("/enseignant/photos/999999.jpg").status_code == 404


def test_a_piece_is_reviewed_in_three_taps_and_one_level_changed_on_another(
    tablet: Tablet, workshop: Workshop
) -> None:
    first = workshop.finish_piece(spike=True)
    second = workshop.finish_piece()
    page = tablet.page
    tablet.open("/enseignant/")
    expect(page.get_by_role("link", name=re.compile(r"À évaluer \(2\)"))).to_be_visible()
    tablet.check("queue")

    # The usual case: the piece, « Tout au niveau 3 » (conforme is chosen), « Valider ».
    tablet.taps = 0
    tablet.tap(page.get_by_role("link", name=re.compile(first)))
    expect(page.locator("h1")).to_have_text(f"Pièce {first}")
    expect(page.locator(".weld-chart[data-drawn] canvas").first).to_be_visible()
    assert page.locator(".weld-chart[data-drawn]").count() == 2
    expect(page.get_by_role("radio", name="Conforme")).to_be_checked()
    tablet.check("piece")
    tablet.tap(page.get_by_role("button", name="Tout au niveau 3"))
    tablet.tap(page.get_by_role("button", name="Valider"))
    expect(page.locator(".flash")).to_contain_text(f"Pièce {first} conforme")
    assert tablet.taps == 3
    assert [review.verdict for review in reviews_of(first)] == ["conforme"]
    assert piece_row(first).status == "reviewed"
    levels = levels_of(first)
    assert len(levels) == 3 and set(levels.values()) == {"3"}, levels
    expect(page.get_by_role("link", name=re.compile(r"À évaluer \(1\)"))).to_be_visible()

    # One student at another level, and the piece to be made again.
    tablet.tap(page.get_by_role("link", name=re.compile(second)))
    tablet.tap(page.get_by_role("button", name="Tout au niveau 3"))
    page.get_by_role("radiogroup", name="Lucas M., C4").locator("label.level-2").click()
    page.get_by_text("À reprendre", exact=True).click()
    page.get_by_role("button", name="Valider").click()
    expect(page.locator(".flash")).to_contain_text("retourne en fabrication")
    levels = levels_of(second)
    assert levels[("E2026-001", "C4")] == "2", levels
    assert {level for key, level in levels.items() if key != ("E2026-001", "C4")} == {"3"}
    assert piece_row(second).status == "in_progress" and piece_row(second).round == 2
    tablet.check("queue-empty")


def test_a_batch_is_reviewed_in_one_confirm_and_a_stray_weld_assigned(
    tablet: Tablet, workshop: Workshop
) -> None:
    codes = [workshop.finish_piece(), workshop.finish_piece()]
    # Lucas welds again after « A-FIN », forgetting to scan the operation: no run is active.
    weld_id = workshop.weld(workshop.ws01, utcnow(), arc_s=5.0)
    page = tablet.page

    # The welds waiting: the run the weld most likely belongs to is proposed first.
    tablet.open("/enseignant/")
    tablet.tap(page.get_by_role("link", name=re.compile(r"Soudures à attribuer \(1\)")))
    expect(page.locator("h1")).to_have_text("Soudures à attribuer")
    expect(page.get_by_label("Pièce et opération")).to_have_value(f"{codes[1]}|20")
    tablet.check("soudures")
    tablet.tap(page.get_by_role("button", name="Attribuer"))
    expect(page.locator(".flash")).to_contain_text(f"Soudure {weld_id} attribuée à {codes[1]}")
    expect(page.get_by_text("Aucune soudure à attribuer.")).to_be_visible()
    db.session.commit()
    weld = db.session.execute(select(Weld).where(Weld.weld_key == weld_id)).scalar_one()
    assert weld.run_id is not None and [link.student.code for link in weld.students] == [
        "E2026-001"
    ]
    tablet.check("soudures-vide")

    # The weekly catch-up: both pieces of the order, the same students, one confirm.
    tablet.tap(page.get_by_role("link", name=re.compile(r"À évaluer \(2\)")))
    tablet.tap(page.get_by_role("link", name=f"Évaluer ensemble les 2 pièces de {ORDER}"))
    expect(page.locator("h1")).to_have_text(f"Évaluer ensemble : {ORDER}")
    tablet.check("lot")
    tablet.tap(page.get_by_role("button", name="Tout au niveau 3"))
    page.get_by_role("radiogroup", name="Léa C., C3.8").locator("label.level-4").click()
    page.get_by_role("button", name="Valider les 2 pièces").click()
    expect(page.locator(".flash")).to_contain_text("2 pièce(s) évaluée(s) ensemble, conforme")
    for code in codes:
        assert [review.verdict for review in reviews_of(code)] == ["conforme"]
        assert levels_of(code) == {
            ("E2026-001", "C4"): "3",
            ("E2026-003", "C3.3"): "3",
            ("E2026-003", "C3.8"): "4",
        }
    expect(page.get_by_role("link", name=re.compile(r"À évaluer \(0\)"))).to_be_visible()


def test_every_form_needs_its_csrf_token(database_url: str) -> None:
    app = create_app(TestingConfig(database_url, WTF_CSRF_ENABLED=True))
    with app.app_context():
        client = app.test_client()
        load_school()
        workshop = Workshop(client)
        code = workshop.finish_piece()
        make_staff(EMAIL, password=PASSWORD)
        login = client.get("/connexion").get_data(as_text=True)
        token = form_fields(login)["csrf_token"]
        client.post("/connexion", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token})
        fields = review_form(client, code)
        weld_id = workshop.stray_weld()
        for path in (
            f"/enseignant/pieces/{code}/evaluation",
            f"/enseignant/pieces/{code}/photo",
            f"/enseignant/of/{ORDER}/lot",
            f"/enseignant/soudures/{weld_id}/attribuer",
        ):
            answer = client.post(path, data={"verdict": "conforme", "key": fields["key"]})
            assert answer.status_code == 400, path
        assert reviews_of(code) == []
        done = client.post(
            f"/enseignant/pieces/{code}/evaluation",
            data={**fields, "verdict": "conforme", "action": "valider"},
        )
        assert done.status_code == 303
        assert [review.verdict for review in reviews_of(code)] == ["conforme"]
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def queue_codes(client: FlaskClient, query: str) -> list[str]:
    answer = client.get("/enseignant/" + query)
    assert answer.status_code == 200, query
    return re.findall(r'href="/enseignant/pieces/(P-[\d-]+)"', answer.get_data(as_text=True))


def test_the_queue_filters_by_student_work_order_and_station(
    client: FlaskClient, workshop: Workshop, teacher: Any
) -> None:
    welded = workshop.finish_piece()  # Léa and Lucas, OF-2026-0001, plasma and MAG 1
    bent = finish_bent_piece(client, workshop, "P-2026-000050")  # Léa and Hugo, plieuse
    sign_in(client)
    assert queue_codes(client, "") == [bent, welded]  # newest first
    page = client.get("/enseignant/").get_data(as_text=True)
    # The choices are those of the waiting pieces: Hugo is offered, Inès (no piece) is not.
    assert '<option value="E2026-004">Hugo L.</option>' in page
    assert "Inès" not in page
    assert '<option value="ST-PLIEUSE">ST-PLIEUSE</option>' in page
    cases = {
        "?eleve=E2026-004": [bent],
        "?eleve=E2026-001": [welded],
        "?eleve=E2026-003": [bent, welded],
        f"?of={ORDER}": [welded],
        f"?of={BENT}": [bent],
        "?poste=ST-SOUD-01": [welded],
        "?poste=ST-PLIEUSE": [bent],
        "?poste=ST-PLASMA": [bent, welded],
        f"?eleve=E2026-003&of={BENT}&poste=ST-PLASMA": [bent],
        "?eleve=E2026-001&poste=ST-PLIEUSE": [],
        # A hand-typed choice that is not offered is ignored, not a 500 nor an empty list.
        "?eleve=E2099-999&poste=%3Cscript%3E": [bent, welded],
    }
    for query, expected in cases.items():
        assert queue_codes(client, query) == expected, query
    chosen = client.get("/enseignant/?poste=ST-PLIEUSE").get_data(as_text=True)
    assert '<option value="ST-PLIEUSE" selected>' in chosen
    assert "1 affichée sur 2 en attente" in chosen and "Tout afficher" in chosen
    none = client.get("/enseignant/?eleve=E2026-001&poste=ST-PLIEUSE").get_data(as_text=True)
    assert "Aucune pièce en attente pour ce filtre." in none


def test_a_photo_over_the_limit_is_said_in_french_never_a_bare_413(
    client: FlaskClient, workshop: Workshop, teacher: Any
) -> None:
    code = workshop.finish_piece()
    sign_in(client)
    fields = review_form(client, code)
    heavy = b"\xff\xd8\xff\xe0" + bytes(3 * 1024 * 1024)  # 3 MB, past the route's limit
    path = f"/enseignant/pieces/{code}/photo"
    for accept in ("text/html", "application/json"):
        answer = post_photo(client, path, fields, heavy, accept)
        assert answer.status_code == 413, answer.status_code
        if accept == "text/html":
            html = answer.get_data(as_text=True)
            assert answer.mimetype == "text/html" and f"<h1>Pièce {code}</h1>" in html
            assert re.search(r"Photo trop lourde \(3,0\xa0Mo\) : la limite est de 2\xa0Mo", html)
            assert "Rien n'a été enregistré" in html and f'action="{path}"' in html
        else:
            body = answer.get_json()
            assert body["status"] == "error" and body["error"]["code"] == "too_large"
            assert body["error"]["message"].startswith("Photo trop lourde (3,0\u00a0Mo)")
            assert re.fullmatch(r"[0-9a-f]{32}", body["key"])
    # Just over what the core takes, under the route's limit: the same words, with its size.
    answer = post_photo(client, path, fields, b"\xff\xd8" + bytes(2 * 1024 * 1024))
    assert answer.status_code == 413
    assert "Photo trop lourde (2,0\u00a0Mo)" in answer.get_data(as_text=True)
    assert photos_of(code) == []
    # An unknown piece stays « introuvable », heavy body or not.
    gone = post_photo(client, "/enseignant/pieces/P-2026-999999/photo", fields, heavy)
    assert gone.status_code == 404
    # The script's way, within the limit: JSON with the page to go back to, message flashed.
    picture = io.BytesIO()
    Image.new("RGB", (300, 400), (90, 90, 90)).save(picture, "JPEG")
    sent = client.post(
        f"/enseignant/pieces/{code}/photo",
        data={**fields, "photo": (io.BytesIO(picture.getvalue()), "photo.jpg", "image/jpeg")},
        content_type="multipart/form-data",
        headers={"Accept": "application/json"},
    )
    assert sent.status_code == 200, sent.get_data(as_text=True)
    assert sent.get_json()["location"] == f"/enseignant/pieces/{code}#photos"
    assert f"Photo de la pièce {code} enregistrée" in client.get(
        f"/enseignant/pieces/{code}"
    ).get_data(as_text=True)
    assert [(p.width, p.height) for p in photos_of(code)] == [(300, 400)]


def test_a_camera_photo_is_shrunk_on_the_tablet_before_it_is_sent(
    tablet: Tablet, workshop: Workshop, tmp_path: Path
) -> None:
    code = workshop.finish_piece()
    original = photo_file(tmp_path)
    page = tablet.page
    tablet.open(f"/enseignant/pieces/{code}")
    status = page.locator("[data-photo-status]")
    expect(status).to_have_text("Aucune photo choisie.")
    page.get_by_label("Prendre ou choisir une photo").set_input_files(original)
    # Upright (the EXIF orientation applied), 1600 px on its longest side, well under 2 MB.
    expect(status).to_contain_text("Photo prête : 1200 × 1600 px, ", timeout=15_000)
    expect(status).to_contain_text("photo d'origine : ")
    expect(page.get_by_role("img", name="Aperçu de la photo choisie")).to_be_visible()
    tablet.check("piece-photo")
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/photo")) as sent:
        tablet.tap(page.get_by_role("button", name="Ajouter la photo"))
    expect(page.locator(".flash")).to_contain_text(f"Photo de la pièce {code} enregistrée")
    assert sent.value.headers["accept"] == "application/json"  # the script's fetch
    expect(page.get_by_role("img", name=f"Photo de la pièce {code} n° 1")).to_be_visible()
    assert page.url.endswith(f"/enseignant/pieces/{code}#photos")
    [kept] = photos_of(code)
    assert (kept.width, kept.height) == (1200, 1600)
    # What the server received is the shrunk photo, not the camera's 4 MB (the audit log
    # keeps its size and digest, never its bytes).
    [payload] = db.session.execute(select(Event.payload).where(Event.kind == "piece.photo")).one()
    assert 20_000 < payload["size"] < 2 * 1024 * 1024 and "data" not in payload, payload
    assert kept.size < 2 * 1024 * 1024
    with Image.open(io.BytesIO(kept.data)) as image:
        assert image.format == "JPEG" and image.size == (1200, 1600)
        assert not image.getexif(), "the photo kept its EXIF"
    tablet.check("piece-photo-ajoutee")


def test_without_javascript_a_camera_photo_gets_the_french_refusal(
    plain_tablet: Tablet, workshop: Workshop, tmp_path: Path
) -> None:
    code = workshop.finish_piece()
    original = photo_file(tmp_path)
    page = plain_tablet.page
    plain_tablet.open(f"/enseignant/pieces/{code}")
    page.get_by_label("Prendre ou choisir une photo").set_input_files(original)
    with page.expect_response(lambda r: r.url.endswith("/photo")) as answered:
        page.get_by_role("button", name="Ajouter la photo").click()
    assert answered.value.status == 413
    expect(page.locator("#review-error")).to_contain_text(
        re.compile(r"Photo trop lourde \(\d+,\d\xa0Mo\) : la limite est de 2\xa0Mo")
    )
    expect(page.locator("h1")).to_have_text(f"Pièce {code}")
    assert photos_of(code) == []
    plain_tablet.screenshots("piece-photo-trop-lourde")  # no axe-core: scripts are off


def test_the_welds_page_lists_the_newest_and_renders_one_assignment_form(
    client: FlaskClient, workshop: Workshop, teacher: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = workshop.finish_piece()  # Lucas welded it at ST-SOUD-01, Léa cut and checked it
    # Hugo has left the school (inactive), Inès's schooling ended yesterday: not offered.
    db.session.execute(update(Student).where(Student.code == "E2026-004").values(active=False))
    yesterday = (utcnow() - timedelta(days=1)).date()
    db.session.execute(update(Student).where(Student.code == "E2026-002").values(left_on=yesterday))
    db.session.commit()
    older = [workshop.weld(workshop.ws02, utcnow() - timedelta(minutes=30 - k)) for k in range(3)]
    newest = workshop.weld(workshop.ws01, utcnow(), arc_s=5.0)
    sign_in(client)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    def page(path: str = "/enseignant/soudures") -> str:
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            response = client.get(path)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        html: str = response.get_data(as_text=True)
        assert response.status_code == 200, html[:800]
        return html

    def forms(html: str) -> list[str]:
        return re.findall(r'action="/enseignant/soudures/([^"/]+)/attribuer"', html)

    def offered(html: str) -> list[str]:
        return re.findall(r'name="students" value="([^"]+)"', html)

    # Every weld listed, the newest open: its likely run first, its students first.
    html = page()
    assert forms(html) == [newest]
    assert html.count('class="t-card weld-card') == 4
    for weld_id in older:
        assert f'href="/enseignant/soudures?soudure={weld_id}#attribuer"' in html
    assert f'<option value="{code}|20" selected>' in html
    near = html.split("Élèves au poste à ce moment", 1)[1].split("</fieldset>", 1)[0]
    assert offered(near) == ["E2026-001"]
    assert 'value="E2026-001" checked' in near
    assert offered(html) == ["E2026-001", "E2026-003"]  # then the others, no one who left
    four = len(statements)

    # Another weld opens by its link; the page's statements do not follow the weld count.
    html = page(f"/enseignant/soudures?soudure={older[0]}")
    assert forms(html) == [older[0]]
    assert "Aucune opération récente à ce poste" in html
    assert sorted(offered(html)) == ["E2026-001", "E2026-003"]
    for k in range(4):
        workshop.weld(workshop.ws02, utcnow() - timedelta(minutes=50 - k))
    page()
    assert len(statements) == four, statements

    # Only the newest are listed, with the count of the rest; an older one still opens.
    monkeypatch.setattr(review_pages, "WELDS_SHOWN", 2)
    html = page()
    assert html.count('class="t-card weld-card') == 2
    assert "Les 2 plus récentes sur 8 : 6 autres plus anciennes attendent" in text_of(html)
    html = page(f"/enseignant/soudures?soudure={older[0]}")
    assert forms(html) == [older[0]] and html.count('class="t-card weld-card') == 3
    assert html.index(f"/enseignant/soudures/{older[0]}/attribuer") < html.index(newest)
    assert "6 autres plus anciennes attendent, dont celle ouverte ci-dessous" in text_of(html)
    # An unknown (or already assigned) weld: said in French, no form, never a 500.
    html = page("/enseignant/soudures?soudure=%3Cscript%3E")
    assert forms(html) == [] and "n'attend plus d'attribution" in html
    assert "<script>" not in html


def text_of(html: str) -> str:
    """Return a page's words without its tags and with its spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).replace("&#39;", "'").split())
