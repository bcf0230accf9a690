"""The livret pages: the class's « non vu », a student's record, levels by hand, signatures,
exports and the mastery rule — for a signed-in teacher of the student's own site.

The data is made through the real paths: scans through the scan API, a weld through the
MQTT transport's decoder (tests/board/welding.py), a review through the core. The browser
test drives the pages in Debian's Chromium at the tablet's two sizes, checks them with
axe-core and leaves a screenshot of each in ``test-artifacts/teacher/``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select

from app import create_app
from app.boundary import submit, web_origin
from app.config import TestingConfig
from app.extensions import db
from app.ingest.events import (
    Actor,
    AssessmentInput,
    AttachPhoto,
    Origin,
    ReviewPiece,
    SelfAssess,
)
from app.models import ContinuityConfirmation, Event, LevelOverride, Site, utcnow
from app.teacher import records as records_pages
from tests.board.welding import WeldingStation
from tests.factories import (
    MINIMAL_SCHOOL,
    Scanner,
    load_school,
    make_staff,
    make_token,
    site_id,
)
from tests.support.browser import launch_chromium, sync_api
from tests.support.server import GunicornServer

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "teacher"
AXE_URL = "/borne/static/vendor/axe-core/axe.min.js"
AXE_RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
LANDSCAPE = {"width": 1180, "height": 820}
PORTRAIT = {"width": 820, "height": 1180}
PASSWORD = "un-mot-de-passe-long"
TEACHER = "prof@example.org"
LUCAS, LEA = "0A00F1C2D3", "B-0003"  # E2026-001 (cap-rics), E2026-003 (cap-metallier)
PIECE = "P-2026-000001"


# -- the data ------------------------------------------------------------------------------


def make_livret(client: FlaskClient) -> None:
    """Lucas and Léa weld a piece of OF-2026-0001 (one weld, WPS 135 PB), Léa cuts and
    checks it; Lucas says at the kiosk it was easy; the teacher reviews it (Lucas's C4 at
    level 2, Léa's C3.6 at 3) and takes a photo of it."""
    welder = Scanner(client, make_token("ST-SOUD-01", name="soudure 1"))
    cutter = Scanner(client, make_token("ST-PLASMA", name="plasma"))
    for code in (LUCAS, LEA, "OF-2026-0001-20", PIECE):
        welder.ok(code)
    WeldingStation("ws01").weld(utcnow(), arc_s=14.0, i_mean=180.0, u_mean=23.0)
    welder.ok("A-FIN")
    for code in (LEA, "OF-2026-0001-10", PIECE, "A-FIN", "OF-2026-0001-30", PIECE, "A-FIN"):
        cutter.ok(code)
    kiosk = Origin(site_id(), "http", uuid.uuid4().hex, Actor("kiosk", "borne"), utcnow(), "")
    assert submit(kiosk, SelfAssess(PIECE, 20, "E2026-001", "facile")).accepted
    teacher = make_staff(TEACHER, password=PASSWORD)
    review = ReviewPiece(
        PIECE,
        "conforme",
        (
            AssessmentInput("E2026-001", "cap-rics:C4", "2", "Cordon irrégulier"),
            AssessmentInput("E2026-003", "cap-metallier:C3.6", "3", None),
        ),
    )
    outcome = submit(web_origin(teacher), review)
    assert outcome.accepted, outcome.body
    picture = io.BytesIO()
    Image.new("RGB", (320, 240), (200, 90, 20)).save(picture, "PNG")
    photo = submit(web_origin(teacher), AttachPhoto(PIECE, "image/png", picture.getvalue()))
    assert photo.accepted, photo.body


@pytest.fixture
def livret(client: FlaskClient, school: None) -> None:
    """The school with one reviewed, welded piece; the teacher not signed in yet."""
    make_livret(client)


def sign_in(client: FlaskClient, email: str = TEACHER) -> FlaskClient:
    response = client.post("/connexion", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


def page_of(response: Any, status: int = 200) -> str:
    html: str = response.get_data(as_text=True)
    assert response.status_code == status, html[:1500]
    assert response.headers["Cache-Control"] == "no-store"
    return html


def events(kind: str) -> list[Event]:
    db.session.commit()
    return list(db.session.execute(select(Event).where(Event.kind == kind)).scalars())


def overrides() -> int:
    db.session.commit()
    return int(db.session.execute(select(func.count()).select_from(LevelOverride)).scalar_one())


def text_of(html: str) -> str:
    """Return a page's words without its tags and with its spaces collapsed."""
    words = re.sub(r"<[^>]+>", " ", html)
    return " ".join(words.replace("&#39;", "'").replace("&nbsp;", " ").split())


# -- who may open them ---------------------------------------------------------------------


def test_the_livret_pages_need_a_signed_in_teacher_and_change_nothing_otherwise(
    client: FlaskClient, livret: None
) -> None:
    for path in (
        "/enseignant/eleves",
        "/enseignant/eleves/E2026-001",
        "/enseignant/eleves/E2026-001/livret.pdf",
        "/enseignant/eleves/E2026-001/livret.csv",
        "/enseignant/regle",
    ):
        response = client.get(path)
        assert response.status_code == 302 and "/connexion" in response.headers["Location"], path
    for path, form in (
        ("/enseignant/eleves/E2026-001/niveau", {"competency": "cap-rics:C4", "level": "3"}),
        ("/enseignant/eleves/E2026-001/continuite", {"process": "135", "position": "PB"}),
        ("/enseignant/regle", {"kind": "recent", "n": "3"}),
    ):
        assert client.post(path, data={**form, "reason": "x"}).status_code == 302, path
    assert overrides() == 0
    assert events("record.export") == [] and events("record.rule") == []


def test_another_sites_student_is_introuvable_everywhere(app: Flask, livret: None) -> None:
    load_school(
        MINIMAL_SCHOOL,
        text=MINIMAL_SCHOOL.read_text("utf-8")
        .replace("site: belfort", "site: mulhouse")
        .replace("mqtt_device: ws0", "mqtt_device: mws0")
        .replace("E2026-", "M2026-")
        .replace("m.perrin@example.org", "m.klein@example.org"),
    )
    client = sign_in(app.test_client())
    for path in (
        "/enseignant/eleves/M2026-001",
        "/enseignant/eleves/M2026-001/livret.pdf",
        "/enseignant/eleves/M2026-001/livret.csv",
        "/enseignant/eleves/personne",
    ):
        html = page_of(client.get(path), 404)
        assert "Élève introuvable" in html, path
    for path, form in (
        ("/enseignant/eleves/M2026-001/niveau", {"competency": "cap-rics:C4", "level": "3"}),
        ("/enseignant/eleves/M2026-001/continuite", {"process": "135", "position": "PB"}),
    ):
        assert "Élève introuvable" in page_of(client.post(path, data={**form, "reason": "r"}), 404)
    students = page_of(client.get("/enseignant/eleves"))
    assert "E2026-001" in students and "M2026-001" not in students
    assert overrides() == 0 and events("record.export") == []


# -- the class's « non vu » -----------------------------------------------------------------


def test_the_students_page_lists_each_class_and_who_has_not_seen_what(
    client: FlaskClient, livret: None
) -> None:
    html = page_of(sign_in(client).get("/enseignant/eleves"))
    words = text_of(html)
    assert "CAP Réalisations industrielles en chaudronnerie ou soudage" in words
    assert "CAP Métallier" in words
    for code in ("E2026-001", "E2026-002", "E2026-003", "E2026-004"):
        assert f'href="/enseignant/eleves/{code}"' in html, code
    rows = [
        text_of(row).replace("○ ", "").replace("✓ ", "")
        for row in re.findall(r"<tr>(.*?)</tr>", html.split("<tbody>", 1)[1], re.S)
    ]
    # Lucas welded (C4 seen) and nothing else; Inès did nothing yet: all three not seen;
    # Léa cut, welded and checked: she has seen all three of her framework.
    assert "Lucas M. E2026-001 non vu vu non vu 2" in rows
    assert "Inès K. E2026-002 non vu non vu non vu 3" in rows
    assert "Léa C. E2026-003 vu vu vu 0" in rows
    assert "À donner dans le prochain OF" in words
    assert (
        "C3 — Réaliser tout ou partie d'un ouvrage (débit, usinage, conformation) :"
        " Inès K., Lucas M." in words
    )
    assert "Référentiel provisoire : ses compétences peuvent encore changer" in words


# -- the livret ------------------------------------------------------------------------------


def test_the_livret_says_each_level_in_words_how_it_came_and_the_pieces_behind_it(
    client: FlaskClient, livret: None
) -> None:
    html = page_of(sign_in(client).get("/enseignant/eleves/E2026-001"))
    words = text_of(html)
    assert "Livret de Lucas M." in words
    assert "Référentiel provisoire (CAP Réalisations industrielles" in words
    assert "Source : Arrêté du 3 janvier 2017" in words
    c4 = text_of(html.split('id="c-cap-rics-C4"', 1)[1].split("</li>", 1)[0])
    assert "niveau 2 : insuffisamment maîtrisé" in c4
    assert "Calculé par la règle" in c4 and "1 preuve" in c4
    assert "Cordon irrégulier" in c4 and "OF-2026-0001" in c4
    assert "Ressenti de l'élève : facile" in c4
    assert f'href="/enseignant/pieces/{PIECE}"' in html
    c3 = text_of(html.split('id="c-cap-rics-C3"', 1)[1].split("</li>", 1)[0])
    assert "Non vu : aucune preuve encore" in c3 and "pas encore évalué" in c3
    # The chart's data, for record.js: C4's one numeric level.
    data = re.search(r'<script type="application/json" id="record-data">(.*?)</script>', html, re.S)
    assert data is not None and '"cap-rics:C4": [[' in data[1]
    assert "<script>" not in html  # the CSP forbids inline scripts
    assert "Soudage par procédé et position" in words and "135 MAG" in words
    assert "Qualification de soudeur" in words and "Signer la confirmation" in words
    assert re.search(
        r'<img src="/enseignant/photos/\d+\.jpg" alt="Pièce P-2026-000001, photo du', html
    )
    assert 'href="/enseignant/eleves/E2026-001/livret.pdf"' in html
    assert 'href="/enseignant/eleves/E2026-001/livret.csv"' in html


def test_a_long_history_shows_its_newest_evaluations_and_all_on_demand(
    client: FlaskClient, livret: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A second review of the piece: C4 now has two evaluations, the newest at level 3.
    review = ReviewPiece(
        PIECE, "conforme", (AssessmentInput("E2026-001", "cap-rics:C4", "3", "Reprise nette"),)
    )
    outcome = submit(web_origin(make_staff("autre@example.org", password=PASSWORD)), review)
    assert outcome.accepted, outcome.body
    monkeypatch.setattr(records_pages, "HISTORY_SHOWN", 1)
    sign_in(client)

    def c4_of(path: str) -> tuple[str, str]:
        html = page_of(client.get(path))
        part = html.split('id="c-cap-rics-C4"', 1)[1].split("</li>", 1)[0]
        data = re.search(r'id="record-data">(.*?)</script>', html, re.S)
        assert data is not None
        return part, data[1]

    # By default the newest only, a link to all of them; the chart keeps every level.
    part, data = c4_of("/enseignant/eleves/E2026-001")
    words = text_of(part)
    assert "Reprise nette" in words and "Cordon irrégulier" not in words
    assert "Les 2 évaluations et leurs pièces (les 1 plus récentes ci-dessous)" in words
    assert 'href="/enseignant/eleves/E2026-001?tout=1#c-cap-rics-C4"' in part
    assert len(json.loads(data)["charts"]["cap-rics:C4"]) == 2
    assert part.count(f'href="/enseignant/pieces/{PIECE}"') == 1
    # « Voir tout »: both rows, newest first, and the way back.
    part, data = c4_of("/enseignant/eleves/E2026-001?tout=1")
    words = text_of(part)
    assert words.index("Reprise nette") < words.index("Cordon irrégulier")
    assert 'href="/enseignant/eleves/E2026-001#c-cap-rics-C4"' in part
    assert "Ne montrer que les 1 plus récentes" in words
    assert len(json.loads(data)["charts"]["cap-rics:C4"]) == 2
    assert page_of(client.get("/enseignant/eleves/E2026-001?tout=oui"))  # any other value: short


def test_a_level_set_by_hand_needs_a_reason_and_shows_who_and_why(
    client: FlaskClient, livret: None
) -> None:
    sign_in(client)
    path = "/enseignant/eleves/E2026-001/niveau"
    refusals = [
        ({"competency": "cap-rics:C4", "level": "3", "reason": "   "}, "Donnez la raison"),
        ({"competency": "cap-rics:C4", "level": "7", "reason": "vu"}, "Niveau inconnu"),
        ({"competency": "cap-metallier:C3.6", "level": "3", "reason": "vu"}, "Compétence inconnue"),
        ({"competency": "cap-rics:C4", "level": "3", "reason": "x" * 301}, "Raison trop longue"),
        ({"level": "3", "reason": "vu"}, "Compétence inconnue"),
    ]
    for form, message in refusals:
        html = page_of(client.post(path, data=form), 422)
        assert message in text_of(html), form
        assert 'role="alert"' in html
        assert overrides() == 0
    # The refused form keeps what was typed.
    html = page_of(
        client.post(path, data={"competency": "cap-rics:C4", "level": "9", "reason": "à revoir"}),
        422,
    )
    assert "à revoir</textarea>" in html
    response = client.post(
        path,
        data={"competency": "cap-rics:C4", "level": "3", "reason": "Reprise réussie devant moi"},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/enseignant/eleves/E2026-001#c-cap-rics-C4")
    assert overrides() == 1
    [event] = events("record.level")
    assert (event.payload or {})["reason"] == "Reprise réussie devant moi"
    html = page_of(client.get("/enseignant/eleves/E2026-001"))
    c4 = text_of(html.split('id="c-cap-rics-C4"', 1)[1].split("</li>", 1)[0])
    assert "niveau 3 : maîtrisé" in c4
    assert "Fixé à la main par M. Test" in c4 and "« Reprise réussie devant moi »" in c4
    assert "La règle donnerait niveau 2 : insuffisamment maîtrisé" in c4


def test_a_continuity_confirmation_is_signed_with_the_teachers_name(
    client: FlaskClient, livret: None
) -> None:
    sign_in(client)
    path = "/enseignant/eleves/E2026-001/continuite"
    refused = page_of(client.post(path, data={"process": "141", "position": "PF"}), 422)
    assert "rien n'a été signé" in text_of(refused)
    db.session.commit()
    assert db.session.execute(select(ContinuityConfirmation)).first() is None
    response = client.post(path, data={"process": "135", "position": "PB"})
    assert response.status_code == 302 and response.headers["Location"].endswith("#qualification")
    [event] = events("record.confirm")
    assert (event.payload or {}) == {"student": "E2026-001", "process": "135", "position": "PB"}
    html = page_of(client.get("/enseignant/eleves/E2026-001"))
    qualification = text_of(html.split('id="qualification"', 1)[1].split("</section>", 1)[0])
    assert "Continuité tenue" in qualification
    assert "signée par M. Test" in qualification
    assert "135 MAG — position PB" in qualification


def test_the_livret_downloads_as_pdf_and_csv_and_each_export_is_audited(
    client: FlaskClient, livret: None
) -> None:
    sign_in(client)
    pdf = client.get("/enseignant/eleves/E2026-001/livret.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert re.fullmatch(
        r'attachment; filename="livret-E2026-001-\d{4}-\d{2}-\d{2}\.pdf"',
        pdf.headers["Content-Disposition"],
    )
    assert pdf.headers["Cache-Control"] == "no-store"
    assert pdf.get_data().startswith(b"%PDF")
    response = client.get("/enseignant/eleves/E2026-001/livret.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].endswith('.csv"')
    assert response.headers["Cache-Control"] == "no-store"
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig")), delimiter=";"))
    cells = [cell for row in rows for cell in row]
    assert "cap-rics:C4" in cells and "niveau 2 : insuffisamment maîtrisé" in cells
    exports = events("record.export")
    assert [((e.payload or {})["student"], (e.payload or {})["format"]) for e in exports] == [
        ("E2026-001", "pdf"),
        ("E2026-001", "csv"),
    ]


# -- the mastery rule -----------------------------------------------------------------------


def test_the_rule_page_explains_both_rules_and_changes_the_sites_rule(
    client: FlaskClient, livret: None
) -> None:
    sign_in(client)
    words = text_of(page_of(client.get("/enseignant/regle")))
    assert "La dernière évaluation" in words and "pondérées" in words
    assert "Un exemple" in words and "arrondi au plus proche : 3" in words
    for form, message in (
        ({"kind": "moyenne", "n": "3"}, "Règle inconnue"),
        ({"kind": "recent", "n": "40"}, "Nombre d'évaluations invalide : 40"),
        ({"kind": "recent", "n": "trois"}, "Nombre d'évaluations invalide : trois"),
    ):
        assert message in text_of(page_of(client.post("/enseignant/regle", data=form), 422))
    assert events("record.rule") == []
    response = client.post("/enseignant/regle", data={"kind": "recent", "n": "4"})
    assert response.status_code == 302
    db.session.commit()
    site = db.session.execute(select(Site)).scalar_one()
    assert (site.mastery_rule, site.mastery_n) == ("recent", 4)
    page = page_of(client.get("/enseignant/regle"))
    assert 'value="recent" checked' in page and 'value="4"' in page
    assert client.post("/enseignant/regle", data={"kind": "latest"}).status_code == 302
    db.session.commit()
    db.session.refresh(site)
    assert (site.mastery_rule, site.mastery_n) == ("latest", 4)  # N kept for a return
    assert "Dernier niveau évalué." in text_of(page_of(client.get("/enseignant/eleves/E2026-001")))


# -- CSRF ------------------------------------------------------------------------------------


def test_every_livret_form_is_refused_without_its_csrf_token(database_url: str) -> None:
    app = create_app(TestingConfig(database_url, WTF_CSRF_ENABLED=True))
    with app.app_context():
        load_school()
        client = app.test_client()
        make_livret(client)
        login = client.get("/connexion").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', login)
        assert token is not None
        client.post(
            "/connexion", data={"email": TEACHER, "password": PASSWORD, "csrf_token": token[1]}
        )
        forms = (
            (
                "/enseignant/eleves/E2026-001/niveau",
                {"competency": "cap-rics:C4", "level": "3", "reason": "vu"},
            ),
            ("/enseignant/eleves/E2026-001/continuite", {"process": "135", "position": "PB"}),
            ("/enseignant/regle", {"kind": "recent", "n": "3"}),
        )
        for path, form in forms:
            refused = client.post(path, data=form)
            assert refused.status_code == 400 and "Formulaire expiré" in refused.get_data(
                as_text=True
            )
        assert overrides() == 0 and events("record.confirm") == [] and events("record.rule") == []
        page = client.get("/enseignant/eleves/E2026-001").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        accepted = client.post(forms[0][0], data={**forms[0][1], "csrf_token": token[1]})
        assert accepted.status_code == 302 and overrides() == 1
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


# -- in a real browser, at the tablet's two sizes --------------------------------------------


class Tablet:
    """A teacher's tablet on the live server; checks each page it shows with axe-core."""

    def __init__(self, browser: Any, server: GunicornServer) -> None:
        self.server = server
        self.context = browser.new_context(
            viewport=LANDSCAPE, locale="fr-FR", timezone_id="Europe/Paris", accept_downloads=True
        )
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        self.page.on("console", self._console)
        self.page.on("response", self._response)

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            self.problems.append(f"CSP: {message.text}")

    def _response(self, response: Any) -> None:
        # A stylesheet, a script or a photo that does not load (the browser's own
        # favicon.ico request aside: the app has none).
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            self.problems.append(f"{response.status} {response.url}")

    def open(self, path: str) -> Any:
        """Open a path and check it answered 200."""
        response = self.page.goto(self.server.url + path)
        assert response is not None and response.status == 200, path
        return self.page

    def sign_in(self) -> None:
        """Sign in through the form, as the teacher does."""
        self.open("/connexion")
        self.page.get_by_label("E-mail").fill(TEACHER)
        self.page.get_by_label("Mot de passe").fill(PASSWORD)
        self.page.get_by_role("button", name="Se connecter").click()
        self.page.wait_for_load_state()

    def check(self, name: str) -> None:
        """Run axe-core at both sizes (no serious or critical finding); save both screenshots."""
        page = self.page
        if not page.evaluate("() => typeof window.axe === 'object'"):
            page.add_script_tag(url=AXE_URL)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        found: list[str] = []
        for size in (LANDSCAPE, PORTRAIT):
            page.set_viewport_size(size)
            page.wait_for_timeout(250)  # the charts redraw at their new width
            result = page.evaluate(
                "rules => axe.run(document, {runOnly: {type: 'tag', values: rules}})", AXE_RULES
            )
            page.screenshot(
                path=str(ARTIFACTS / f"{name}-{size['width']}x{size['height']}.png"), full_page=True
            )
            assert result["passes"], f"{name}: axe-core checked nothing"
            found += [
                f"{size['width']}x{size['height']} {v['id']} ({v['impact']}): {v['help']} — "
                + "; ".join(str(node["target"][0]) for node in v["nodes"][:5])
                for v in result["violations"]
                if v["impact"] in {"serious", "critical"}
            ]
            small = page.evaluate(
                """() => [...document.querySelectorAll('.teacher-page :is(a, button, select,'
                    + ' summary, input[type=radio])')]
                    .filter(e => e.offsetParent !== null && !e.closest('td, .rec-todo'))
                    .map(e => [e, e.closest('label') || e])
                    .filter(([e, t]) => t.getBoundingClientRect().height < 47.5)
                    .map(([e]) => e.outerHTML.slice(0, 80))"""
            )
            found += [
                f"{size['width']}x{size['height']} touch target under 48 px: {s}" for s in small
            ]
        page.set_viewport_size(LANDSCAPE)
        assert found == [], f"{name}:\n" + "\n".join(found)
        assert self.problems == [], self.problems


@pytest.fixture
def tablet(live_server: GunicornServer, livret: None) -> Iterator[Tablet]:
    with launch_chromium() as browser:
        yield Tablet(browser, live_server)


def test_a_teacher_reads_a_livret_sets_a_level_signs_and_exports_on_the_tablet(
    tablet: Tablet,
) -> None:
    expect = sync_api.expect
    tablet.sign_in()
    page = tablet.open("/enseignant/eleves")
    expect(page.locator("h1")).to_have_text("Élèves et compétences non vues")
    tablet.check("eleves")
    page.get_by_role("link", name=re.compile("Lucas M.")).click()
    expect(page.locator("h1")).to_contain_text("Livret de Lucas M.")
    page.wait_for_selector("body[data-charts='1'] .rec-chart canvas")
    photo = page.locator(".rec-photos img").first
    photo.scroll_into_view_if_needed()
    expect(photo).to_have_js_property("complete", True)
    assert photo.evaluate("img => img.naturalWidth") == 320
    tablet.check("livret")

    c4 = page.locator("#c-cap-rics-C4")
    c4.get_by_text("Fixer le niveau à la main").click()
    c4.get_by_label("Niveau de C4").select_option("3")
    c4.get_by_label("Raison").fill("Reprise réussie devant moi")
    c4.get_by_role("button", name="Enregistrer le niveau").click()
    expect(page.get_by_role("status").first).to_contain_text("C4 : niveau 3 : maîtrisé")
    expect(c4.locator(".rec-how")).to_contain_text("Fixé à la main")

    page.get_by_role("button", name="Signer la confirmation 135 PB").click()
    expect(page.get_by_role("status").first).to_contain_text("signée par M. Test")
    expect(page.locator("#qualification")).to_contain_text("signée par M. Test le")
    tablet.check("livret-signe")

    with page.expect_download() as pdf_download:
        page.get_by_role("link", name="Exporter en PDF").click()
    pdf = pdf_download.value
    assert re.fullmatch(r"livret-E2026-001-\d{4}-\d{2}-\d{2}\.pdf", pdf.suggested_filename)
    assert Path(pdf.path()).read_bytes().startswith(b"%PDF")
    with page.expect_download() as csv_download:
        page.get_by_role("link", name="Exporter en CSV").click()
    text = Path(csv_download.value.path()).read_text(encoding="utf-8-sig")
    cells = [cell for row in csv.reader(io.StringIO(text), delimiter=";") for cell in row]
    assert "cap-rics:C4" in cells and "Reprise réussie devant moi" in cells
    assert [(e.payload or {})["format"] for e in events("record.export")] == ["pdf", "csv"]

    page = tablet.open("/enseignant/regle")
    tablet.check("regle")
    page.get_by_label("Les évaluations les plus récentes, pondérées", exact=False).check()
    page.get_by_label("N, le nombre").fill("4")
    page.get_by_role("button", name="Enregistrer la règle").click()
    expect(page.get_by_role("status").first).to_contain_text("Règle enregistrée")
    tablet.context.close()
