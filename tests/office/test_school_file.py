"""The school file from the web: upload, preview (nothing changes, the log says who looked),
apply (the command's summary line), export (a file that imports with no change).

The Flask client covers each answer on both databases; one browser test (``screen_only``)
uploads, previews and applies through the real pages, with axe-core on each.
"""

from __future__ import annotations

import html
import io
import re
from pathlib import Path
from typing import Any

import yaml
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from app.data.school import dump_school, export_school
from app.extensions import db
from app.models import Customer, Event, Site, Station
from tests.factories import MINIMAL_SCHOOL
from tests.office.conftest import Desk
from tests.office.conftest import text_of as raw_text
from tests.support.backends import screen_only


def text_of(response: Any) -> str:
    """Return a page's text with its HTML entities decoded."""
    return html.unescape(raw_text(response))


def snapshot() -> str:
    """Return the site's data as the export writes it (after ending the read snapshot)."""
    db.session.rollback()
    site_id = db.session.execute(select(Site.id)).scalar_one()
    return dump_school(export_school(db.session(), site_id))


def changed_school() -> str:
    """Return the minimal school with a customer added, a station renamed, a badge dropped."""
    data = yaml.safe_load(MINIMAL_SCHOOL.read_text(encoding="utf-8"))
    data["customers"].append({"id": "C-ALS", "name": "Alsace Métal"})
    data["stations"][0]["name"] = "Poste MAG 1 (atelier B)"
    data["students"][0]["badges"] = ["B-0001"]
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def upload(client: FlaskClient, text: str | bytes, name: str = "ecole.yaml") -> Any:
    """Post the upload form, encoded in memory.

    (The test client spools a large multipart body to a temporary file it never closes.)
    """
    body = text.encode("utf-8") if isinstance(text, str) else text
    upload = FileStorage(io.BytesIO(body), filename=name, content_type="application/yaml")
    boundary, encoded = encode_multipart({"file": upload})
    return client.post(
        "/bureau/fichier/apercu",
        data=encoded,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def apply_form(preview: Any) -> dict[str, str]:
    """Return the fields of the preview's « Appliquer » form."""
    page = raw_text(preview)
    form = page[page.index('action="/bureau/fichier/appliquer"') :]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    return {name: html.unescape(value) for name, value in fields.items()}


def test_the_page_lists_the_provisional_frameworks_and_the_export(office: FlaskClient) -> None:
    page = office.get("/bureau/fichier")
    assert page.status_code == 200
    text = text_of(page)
    assert "cap-rics" in text and "cap-metallier" in text and "provisoire" in text
    assert 'enctype="multipart/form-data"' in text and 'href="/bureau/fichier/export.yaml"' in text


def test_the_preview_says_what_would_change_and_changes_nothing(office: FlaskClient) -> None:
    before = snapshot()
    preview = upload(office, changed_school())
    assert preview.status_code == 200, text_of(preview)
    text = text_of(preview)
    assert "Rien n'a encore été modifié" in text
    assert "1 créé(s), 1 modifié(s), 1 retiré(s)" in text
    assert "<code>C-ALS</code>" in text and "<code>ST-SOUD-01</code>" in text
    assert "<code>0A00F1C2D3</code>" in text  # the badge the file drops
    assert "Clients créé(s) (1)" in text and "Badges retiré(s) (1)" in text
    assert "provisoire" in text and "Appliquer" in text
    assert snapshot() == before
    db.session.rollback()
    event = (
        db.session.execute(
            select(Event).where(Event.kind == "data.import").order_by(Event.id.desc())
        )
        .scalars()
        .first()
    )
    assert event is not None
    assert (event.status, event.error_code, event.actor_name) == (
        "rejected",
        "preview",
        "admin@example.org",
    )
    payload = event.payload or {}
    assert (payload["filename"], payload["preview"]) == ("ecole.yaml", True)


def test_apply_imports_the_previewed_file_and_flashes_the_commands_line(
    office: FlaskClient,
) -> None:
    preview = upload(office, changed_school())
    form = apply_form(preview)
    assert set(form) >= {"csrf_token", "key", "filename", "sha256", "content"}
    applied = office.post("/bureau/fichier/appliquer", data=form)
    assert applied.status_code == 303 and applied.headers["Location"] == "/bureau/fichier"
    page = text_of(office.get("/bureau/fichier"))
    assert re.search(
        r"ecole\.yaml : 1 créé\(s\), 1 modifié\(s\), 1 retiré\(s\), \d+ inchangé\(s\) — ", page
    )
    db.session.rollback()
    assert (
        db.session.execute(select(Customer.name).where(Customer.code == "C-ALS")).scalar()
        == "Alsace Métal"
    )
    assert db.session.execute(
        select(Station.name).where(Station.code == "ST-SOUD-01")
    ).scalar() == ("Poste MAG 1 (atelier B)")
    # The same form again is the same event: applied once.
    assert office.post("/bureau/fichier/appliquer", data=form).status_code == 303
    db.session.rollback()
    imports = (
        db.session.execute(
            select(Event.status).where(Event.kind == "data.import", Event.channel == "web")
        )
        .scalars()
        .all()
    )
    assert sorted(imports) == ["accepted", "rejected"]


def test_a_changed_content_is_not_applied(office: FlaskClient) -> None:
    before = snapshot()
    form = apply_form(upload(office, changed_school()))
    answer = office.post("/bureau/fichier/appliquer", data={**form, "sha256": "0" * 64})
    assert answer.status_code == 422 and "n'est pas celui de l'aperçu" in text_of(answer)
    assert (
        office.post("/bureau/fichier/appliquer", data={**form, "content": "%%%"}).status_code == 422
    )
    assert snapshot() == before


def test_an_invalid_file_shows_each_error_with_its_line(office: FlaskClient) -> None:
    before = snapshot()
    text = (
        MINIMAL_SCHOOL.read_text(encoding="utf-8")
        .replace("kind: cutting}", "kind: fusée}")
        .replace("i_a: [160, 200]", "i_a: [.nan, 200]")
    )
    answer = upload(office, text)
    assert answer.status_code == 422
    page = text_of(answer)
    assert "3 erreurs, rien n'a été modifié" in page
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "fusée" in row)
    assert f"ecole.yaml:{line}: stations[2].kind : type de poste « fusée » inconnu" in page
    assert "la plage doit être faite de nombres finis" in page
    assert snapshot() == before


def test_other_files_are_refused_in_french(office: FlaskClient) -> None:
    before = snapshot()
    other = MINIMAL_SCHOOL.read_text(encoding="utf-8").replace("site: belfort", "site: mulhouse")
    answer = upload(office, other)
    assert answer.status_code == 422
    assert "site « mulhouse », pas de celui-ci (« belfort »)" in text_of(answer)
    assert upload(office, b"\xff\xfe\x00binaire").status_code == 422
    empty = office.post("/bureau/fichier/apercu", data={}, content_type="multipart/form-data")
    assert empty.status_code == 422 and "Choisissez d'abord" in text_of(empty)
    assert snapshot() == before
    db.session.rollback()
    assert db.session.execute(select(Site.code)).scalars().all() == ["belfort"]


def test_a_too_big_file_gets_a_french_413(office: FlaskClient) -> None:
    big = "# " + "x" * (3 * 1024 * 1024) + "\n"
    answer = upload(office, big)
    assert answer.status_code == 413
    assert "Fichier trop lourd" in text_of(answer) and "2 Mo au plus" in text_of(answer)
    nginx = (Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "atelier.conf").read_text()
    assert "location ~ ^/bureau/fichier/(apercu|appliquer)$" in nginx


def test_the_export_downloads_and_imports_back_with_no_change(office: FlaskClient) -> None:
    export = office.get("/bureau/fichier/export.yaml")
    assert export.status_code == 200
    assert export.headers["Content-Disposition"] == 'attachment; filename="belfort.yaml"'
    assert export.headers["Cache-Control"] == "no-store"
    text = export.get_data(as_text=True)
    assert yaml.safe_load(text)["site"] == "belfort"
    preview = upload(office, text, "belfort.yaml")
    assert preview.status_code == 200
    assert "aucun changement" in text_of(preview)
    assert office.post("/bureau/fichier/appliquer", data=apply_form(preview)).status_code == 303
    assert "belfort.yaml : 0 créé(s), 0 modifié(s), 0 retiré(s)" in text_of(
        office.get("/bureau/fichier")
    )


def test_a_teacher_may_not_use_the_school_file(teacher_office: FlaskClient) -> None:
    assert teacher_office.get("/bureau/fichier").status_code == 403
    assert teacher_office.get("/bureau/fichier/export.yaml").status_code == 403
    assert upload(teacher_office, changed_school()).status_code == 403


@screen_only
def test_a_school_file_is_uploaded_previewed_and_applied_in_the_browser(
    desk: Desk, tmp_path: Path
) -> None:
    path = tmp_path / "ecole.yaml"
    path.write_text(changed_school(), encoding="utf-8")
    desk.open("/bureau/fichier")
    desk.check("file-upload")
    page = desk.page
    page.get_by_label("Fichier de l'école").set_input_files(str(path))
    page.get_by_role("button", name="Voir l'aperçu").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Aperçu de ecole.yaml"
    assert "C-ALS" in page.locator("main").inner_text()
    desk.check("file-preview")
    page.get_by_role("button", name="Appliquer").click()
    page.wait_for_load_state()
    assert page.url.endswith("/bureau/fichier")
    assert "1 créé(s), 1 modifié(s), 1 retiré(s)" in page.locator(".flash").inner_text()
