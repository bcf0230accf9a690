"""The teacher's records in the core: each input accepted, and each refusal changing nothing."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from PIL import ExifTags, Image
from sqlalchemy import select

from app.boundary import submit, web_origin
from app.extensions import db
from app.ingest.events import (
    AttachPhoto,
    ConfirmContinuity,
    ExportRecord,
    SelfAssess,
    SetLevel,
    SetMasteryRule,
)
from app.models import (
    ContinuityConfirmation,
    Event,
    LevelOverride,
    PieceReview,
    ReviewPhoto,
    SelfAssessment,
    Site,
    utcnow,
)
from app.read.records import photo
from tests.factories import make_staff, site_id
from tests.records.support import INES, LUCAS, Workshop, count, kiosk_origin, rejected

PIECE = "P-2026-000001"


@pytest.fixture
def shop(client: FlaskClient, school: None) -> Workshop:
    return Workshop(client, make_staff())


@pytest.fixture
def welded(shop: Workshop) -> Workshop:
    """Lucas welded step 20 of P-2026-000001 (one weld, WPS-135-PB, position PB)."""
    shop.weld_piece(PIECE, LUCAS)
    return shop


# -- SelfAssess ---------------------------------------------------------------------------------


def test_a_second_feeling_replaces_the_first_and_both_are_in_the_log(welded: Workshop) -> None:
    first = submit(kiosk_origin(), SelfAssess(PIECE, 20, "E2026-001", "difficile"))
    assert first.accepted, first.body
    second = submit(kiosk_origin(), SelfAssess(PIECE, 20, "E2026-001", "facile"))
    assert second.accepted, second.body
    db.session.rollback()
    rows = db.session.execute(select(SelfAssessment)).scalars().all()
    assert [(row.feeling, row.event_id) for row in rows] == [("facile", second.event_id)]
    logged = db.session.execute(
        select(Event.payload, Event.student_id).where(Event.kind == "record.self")
    ).all()
    assert [p["feeling"] for p, _ in logged] == ["difficile", "facile"]
    assert {student for _, student in logged} == {rows[0].student_id}


@pytest.mark.parametrize(
    ("piece", "step", "student", "feeling", "code"),
    [
        (PIECE, 20, "E2026-001", "super", "bad_feeling"),
        ("P-2026-000099", 20, "E2026-001", "facile", "not_found"),
        (PIECE, 20, "E2099-999", "facile", "not_found"),
        (PIECE, 40, "E2026-001", "facile", "not_finished"),  # no step 40
        (PIECE, 20, "E2026-002", "facile", "not_participant"),  # Inès was not there
    ],
)
def test_a_feeling_is_refused_and_changes_nothing(
    welded: Workshop, piece: str, step: int, student: str, feeling: str, code: str
) -> None:
    rejected(submit(kiosk_origin(), SelfAssess(piece, step, student, feeling)), code)
    assert count(SelfAssessment) == 0


def test_a_feeling_waits_for_the_end_of_the_run(shop: Workshop) -> None:
    for code in (LUCAS, "OF-2026-0001-20", PIECE):
        shop.welder.ok(code)
    outcome = submit(kiosk_origin(), SelfAssess(PIECE, 20, "E2026-001", "facile"))
    rejected(outcome, "not_finished")
    assert count(SelfAssessment) == 0


def test_a_feeling_comes_from_a_kiosk_only(welded: Workshop) -> None:
    outcome = welded.submit(SelfAssess(PIECE, 20, "E2026-001", "moyen"))
    rejected(outcome, "forbidden")
    assert count(SelfAssessment) == 0


def test_a_feeling_is_about_the_latest_finished_run_of_the_step(welded: Workshop) -> None:
    # Sent back to be reworked: step 20 is welded again, in round 2.
    assert welded.review(PIECE, {}, verdict="a_reprendre").accepted
    welded.weld_piece(PIECE, INES)
    rejected(submit(kiosk_origin(), SelfAssess(PIECE, 20, "E2026-001", "moyen")), "not_participant")
    assert submit(kiosk_origin(), SelfAssess(PIECE, 20, "E2026-002", "moyen")).accepted


# -- SetLevel -----------------------------------------------------------------------------------


def test_a_teacher_sets_a_level_by_hand_with_a_reason(shop: Workshop) -> None:
    outcome = shop.submit(SetLevel("E2026-001", "cap-rics:C5", "2", "  Vu en atelier  "))
    assert outcome.accepted, outcome.body
    db.session.rollback()
    row = db.session.execute(select(LevelOverride)).scalar_one()
    assert (row.level, row.reason, row.set_by_id) == ("2", "Vu en atelier", shop.teacher.id)
    event = db.session.get(Event, outcome.event_id)
    assert event is not None and event.kind == "record.level" and event.student_id is not None
    assert event.payload == {
        "student": "E2026-001",
        "competency": "cap-rics:C5",
        "level": "2",
        "reason": "  Vu en atelier  ",
    }


@pytest.mark.parametrize(
    ("student", "competency", "level", "reason", "code"),
    [
        ("E2099-999", "cap-rics:C4", "3", "ok", "not_found"),
        # Léa prepares the CAP Métallier: cap-rics:C4 is not hers.
        ("E2026-003", "cap-rics:C4", "3", "ok", "unknown_competency"),
        ("E2026-001", "cap-rics:C9", "3", "ok", "unknown_competency"),
        ("E2026-001", "C4", "3", "ok", "unknown_competency"),
        ("E2026-001", "cap-rics:C4", "5", "ok", "bad_level"),
        ("E2026-001", "cap-rics:C4", "3", "   ", "bad_reason"),
        ("E2026-001", "cap-rics:C4", "3", "x" * 301, "bad_reason"),
    ],
)
def test_a_level_is_refused_and_changes_nothing(
    shop: Workshop, student: str, competency: str, level: str, reason: str, code: str
) -> None:
    rejected(shop.submit(SetLevel(student, competency, level, reason)), code)
    assert count(LevelOverride) == 0


# -- SetMasteryRule -----------------------------------------------------------------------------


def _rule() -> tuple[str, int]:
    db.session.rollback()
    site = db.session.get(Site, site_id())
    assert site is not None
    return site.mastery_rule, site.mastery_n


def test_the_site_chooses_its_mastery_rule(shop: Workshop) -> None:
    assert _rule() == ("recent", 3)
    assert shop.submit(SetMasteryRule("latest", 1)).accepted
    assert _rule() == ("latest", 1)
    assert shop.submit(SetMasteryRule("recent", 10)).accepted
    assert _rule() == ("recent", 10)


@pytest.mark.parametrize(("kind", "n"), [("average", 3), ("recent", 0), ("recent", 11)])
def test_a_bad_rule_is_refused_and_changes_nothing(shop: Workshop, kind: str, n: int) -> None:
    rejected(shop.submit(SetMasteryRule(kind, n)), "bad_rule")
    assert _rule() == ("recent", 3)


# -- ConfirmContinuity --------------------------------------------------------------------------


def test_a_teacher_confirms_a_welders_continuity(welded: Workshop) -> None:
    outcome = welded.submit(ConfirmContinuity("E2026-001", "135", "PB"))
    assert outcome.accepted, outcome.body
    db.session.rollback()
    row = db.session.execute(select(ContinuityConfirmation)).scalar_one()
    assert (row.process, row.position, row.confirmed_by_id) == ("135", "PB", welded.teacher.id)
    assert row.event_id == outcome.event_id


@pytest.mark.parametrize(
    ("student", "process", "position", "months_later", "code"),
    [
        ("E2026-001", "135", "PB", 7, "no_recent_weld"),  # the weld is 7 months old
        ("E2026-001", "141", "PB", 0, "no_recent_weld"),  # never welded TIG
        ("E2026-001", "135", "PF", 0, "no_recent_weld"),  # never in PF
        ("E2026-002", "135", "PB", 0, "no_recent_weld"),  # Inès never welded
        ("E2099-999", "135", "PB", 0, "not_found"),
    ],
)
def test_continuity_is_refused_without_a_recent_weld(
    welded: Workshop, student: str, process: str, position: str, months_later: int, code: str
) -> None:
    at = utcnow() + timedelta(days=31 * months_later)
    rejected(welded.submit(ConfirmContinuity(student, process, position), at=at), code)
    assert count(ContinuityConfirmation) == 0


def test_continuity_is_confirmed_five_months_after_the_weld(welded: Workshop) -> None:
    at = utcnow() + timedelta(days=150)
    assert welded.submit(ConfirmContinuity("E2026-001", "135", "PB"), at=at).accepted


# -- AttachPhoto --------------------------------------------------------------------------------


def _jpeg_with_gps(size: tuple[int, int] = (2400, 1200), orientation: int = 6) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "Tablette"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (47.0, 38.0, 12.0),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (6.0, 51.0, 36.0),
    }
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=95)
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    return data


def test_a_photo_is_reencoded_upright_without_its_exif(welded: Workshop) -> None:
    assert welded.review(PIECE, {"E2026-001": "3"}).accepted
    data = _jpeg_with_gps()
    outcome = welded.submit(AttachPhoto(PIECE, "image/jpeg", data))
    assert outcome.accepted, outcome.body
    db.session.rollback()
    row = db.session.execute(select(ReviewPhoto)).scalar_one()
    review_id = db.session.execute(select(PieceReview.id)).scalar_one()
    assert row.review_id == review_id and row.taken_by_id == welded.teacher.id
    assert outcome.body["photo"] == row.id
    stored, media_type = photo(db.session(), site_id(), row.id) or (b"", "")
    assert media_type == "image/jpeg" and stored == row.data and len(stored) == row.size
    image = Image.open(io.BytesIO(stored))
    assert image.format == "JPEG"
    assert image.size == (800, 1600) == (row.width, row.height)  # turned upright, ≤ 1600 px
    assert dict(image.getexif()) == {}
    assert b"Exif" not in stored[:200] and b"Tablette" not in stored
    # The event log keeps the digest and size of what was sent, never the bytes.
    event = db.session.get(Event, outcome.event_id)
    assert event is not None and event.payload is not None
    assert event.payload["size"] == len(data) and len(event.payload["sha256"]) == 64
    assert "data" not in event.payload
    assert photo(db.session(), site_id(), row.id + 1) is None


def test_a_photo_before_any_review_belongs_to_the_piece_alone(welded: Workshop) -> None:
    png = io.BytesIO()
    Image.new("RGBA", (300, 200), (0, 0, 255, 128)).save(png, "PNG")
    assert welded.submit(AttachPhoto(PIECE, "image/png", png.getvalue())).accepted
    db.session.rollback()
    row = db.session.execute(select(ReviewPhoto)).scalar_one()
    assert row.review_id is None and (row.width, row.height) == (300, 200)


def _huge_jpeg() -> bytes:
    # Noise does not compress: over 2 MB.
    image = Image.effect_noise((2000, 2000), 120).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=100)
    assert len(out.getvalue()) > 2 * 1024 * 1024
    return out.getvalue()


def _gif() -> bytes:
    out = io.BytesIO()
    Image.new("P", (10, 10)).save(out, "GIF")
    return out.getvalue()


@pytest.mark.parametrize(
    ("piece", "data", "code"),
    [
        (PIECE, b"not an image at all", "bad_photo"),
        (PIECE, b"", "bad_photo"),
        (PIECE, b"\xff\xd8\xff\xe0" + b"\x00" * 64, "bad_photo"),  # a JPEG's start, no image
        (PIECE, b"<svg xmlns='http://www.w3.org/2000/svg'/>", "bad_photo"),
        (PIECE, "gif", "bad_photo"),
        (PIECE, "huge", "bad_photo"),
        ("P-2026-000099", "ok", "not_found"),
    ],
)
def test_a_bad_photo_is_refused_and_changes_nothing(
    welded: Workshop, piece: str, data: bytes | str, code: str
) -> None:
    body = (
        {"gif": _gif, "huge": _huge_jpeg, "ok": _jpeg_with_gps}[data]()
        if isinstance(data, str)
        else data
    )
    rejected(welded.submit(AttachPhoto(piece, "image/jpeg", body)), code)
    assert count(ReviewPhoto) == 0


# -- ExportRecord -------------------------------------------------------------------------------


def test_an_export_is_only_an_audit_entry(shop: Workshop) -> None:
    before = count(Event)
    outcome = shop.submit(ExportRecord("E2026-001", "pdf"))
    assert outcome.accepted, outcome.body
    assert count(Event) == before + 1
    db.session.rollback()
    event = db.session.get(Event, outcome.event_id)
    assert event is not None
    assert (event.kind, event.actor_kind, event.user_id) == (
        "record.export",
        "staff",
        shop.teacher.id,
    )
    assert event.payload == {"student": "E2026-001", "format": "pdf"}


@pytest.mark.parametrize(
    ("student", "fmt", "code"),
    [("E2099-999", "pdf", "not_found"), ("E2026-001", "xls", "bad_format")],
)
def test_a_bad_export_is_refused(shop: Workshop, student: str, fmt: str, code: str) -> None:
    rejected(submit(web_origin(shop.teacher), ExportRecord(student, fmt)), code)
