"""The kiosk shows a student the operations the office gave them (« À faire pour toi »).

The read side on both databases (what the kiosk's state and the student's page carry);
the screen in a real Chromium (screen_only: its database behaviour is the read tests'):
a student badges in and sees the operation given, then in « Mes pièces ».
"""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select

from app.boundary import submit, web_origin
from app.extensions import db
from app.ingest.office_events import AssignOperation, SetWorkOrderStatus
from app.models import StaffUser, Station, utcnow
from app.read.kiosk import kiosk_state, student_page
from tests.factories import Scanner, make_staff, make_token, site_id
from tests.kiosk.conftest import KioskBrowser, expect
from tests.kiosk.test_scanning import answered
from tests.support.backends import screen_only

LUCAS = "E2026-001"
LUCAS_BADGE = "B-0001"
OFFICE = "bureau@example.org"


def give(operation: str, student: str = LUCAS) -> None:
    """Give an operation to a student, as the office's « Confier » does."""
    user = db.session.execute(
        select(StaffUser).where(StaffUser.email == OFFICE)
    ).scalar_one_or_none() or make_staff(OFFICE, role="admin")
    outcome = submit(
        web_origin(user), AssignOperation(operation_code=operation, student_code=student)
    )
    assert outcome.accepted, outcome.body


def test_the_kiosk_state_and_the_students_page_carry_the_assigned_operations(
    client: FlaskClient, school: None
) -> None:
    give("OF-2026-0001-20")
    give("OF-2026-0002-10")
    scanner = Scanner(client, make_token("ST-KIOSK-1"))
    scanner.ok(LUCAS_BADGE)
    kiosk_id = db.session.execute(select(Station.id).where(Station.code == "ST-KIOSK-1")).scalar()
    assert kiosk_id is not None
    state = kiosk_state(db.session(), site_id(), kiosk_id, utcnow(), 300)
    assert state is not None
    (lucas,) = state["station"]["students"]
    assert [t["operation"] for t in lucas["assigned"]] == ["OF-2026-0001-20", "OF-2026-0002-10"]
    first = lucas["assigned"][0]
    assert (first["name"], first["product"], first["work_order"], first["due_on"]) == (
        "Soudage MAG (135)",
        "Support soudé",
        "OF-2026-0001",
        "2026-12-15",
    )
    assert first["pictogram"] == "welding"
    user = db.session.execute(select(StaffUser).where(StaffUser.email == OFFICE)).scalar_one()
    assert submit(web_origin(user), SetWorkOrderStatus("OF-2026-0001", "closed")).accepted
    own = student_page(db.session(), site_id(), LUCAS, utcnow())
    assert own is not None
    assert [t["operation"] for t in own["assigned"]] == ["OF-2026-0002-10"]


@screen_only
def test_a_student_badging_in_sees_the_operation_given_to_them(kiosks: KioskBrowser) -> None:
    give("OF-2026-0001-10")
    kiosk = kiosks.enrol()
    answered(kiosk, LUCAS_BADGE, lambda: kiosk.scan(LUCAS_BADGE))
    card = kiosk.page.locator(f"#students li[data-student='{LUCAS}']")
    todo = card.locator(".todo")
    expect(todo).to_be_visible()
    expect(todo).to_contain_text("À faire pour toi")
    expect(todo).to_contain_text("Débit")
    expect(todo).to_contain_text("OF-2026-0001-10")
    expect(todo).to_contain_text("Support soudé")
    card.locator("button[data-part='pieces']").click()
    panel = kiosk.page.locator("#panel-body")
    expect(panel.locator(".todo")).to_contain_text("OF-2026-0001-10")
    kiosk.check_accessibility("assigned")
