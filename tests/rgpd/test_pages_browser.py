"""The export and erasure pages in Debian's Chromium on the live server: accessible
(axe-core at two sizes) and usable without a mouse path of their own.

Screen-only (``screen_only``): the erasure's effect on each database is proved by
tests/rgpd/test_erasure.py on both backends.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from app.models import StaffUser
from tests.office.conftest import ADMIN_EMAIL, Desk, signed_in_desk
from tests.records.support import Workshop
from tests.support.backends import screen_only
from tests.support.server import GunicornServer
from tests.teacher.conftest import expect


@pytest.fixture
def desk(live_server: GunicornServer, admin: StaffUser) -> Iterator[Desk]:
    """The administrator's screen (the office's fixture, with this folder's history)."""
    yield from signed_in_desk(live_server, ADMIN_EMAIL)


@screen_only
def test_the_export_and_erasure_pages_read_well_and_erase_once_confirmed(
    history: Workshop, desk: Desk
) -> None:
    desk.open("/bureau/eleves/E2026-001/export")
    page = desk.page
    expect(page.get_by_role("heading", level=1)).to_contain_text("Lucas M.")
    expect(page.get_by_role("link", name="Télécharger ses données (JSON)")).to_be_visible()
    desk.check("rgpd-export")

    desk.open("/bureau/eleves/E2026-001/effacer")
    expect(page.get_by_role("heading", name="Ce qui est effacé")).to_be_visible()
    desk.check("rgpd-erase")
    page.get_by_label(re.compile("tapez le code de l'élève", re.I)).fill("E2026-00")
    page.get_by_role("button", name="Effacer définitivement").click()
    expect(page.get_by_role("alert")).to_contain_text("Tapez exactement le code")
    desk.problems.clear()  # the 422 of the refused confirmation, on purpose
    desk.check("rgpd-erase-refused")
    page.get_by_label(re.compile("tapez le code de l'élève", re.I)).fill("E2026-001")
    page.get_by_role("button", name="Effacer définitivement").click()
    expect(page).to_have_url(re.compile(r"/bureau/eleves$"))
    expect(page.get_by_text(re.compile("Données personnelles de l'élève effacées"))).to_be_visible()
    assert desk.problems == [], desk.problems
