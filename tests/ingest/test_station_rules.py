"""Scenario tests of the station state rules, one per rule, through the HTTP scan API."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select, update

from app.extensions import db
from app.models import (
    Evidence,
    OperationRun,
    Piece,
    Presence,
    RunInterval,
    Station,
    Student,
)
from tests.factories import Scanner, make_token

LUCAS = "0A00F1C2D3"  # E2026-001, CAP RICS (RFID badge)
LUCAS_PRINTED = "B-0001"
INES = "B-0002"  # E2026-002, CAP RICS
LEA = "B-0003"  # E2026-003, CAP Métallier
HUGO = "B-0004"  # E2026-004, CAP Métallier
TEACHER = "B-9001"


def present_at(station_code: str) -> list[str]:
    """Return the student ids badged in at a station."""
    db.session.commit()  # see what scans committed on their own connection
    rows = db.session.execute(
        select(Student.code)
        .join(Presence, Presence.student_id == Student.id)
        .join(Station, Station.id == Presence.station_id)
        .where(Station.code == station_code, Presence.ended_at.is_(None))
        .order_by(Student.code)
    ).scalars()
    return list(rows)


def evidence_of(student_code: str) -> list[str]:
    """Return the competencies a student has evidence of, as framework:code."""
    db.session.commit()
    rows = db.session.execute(
        select(Evidence)
        .join(Student, Student.id == Evidence.student_id)
        .where(Student.code == student_code)
    ).scalars()
    return sorted(e.competency.full_code for e in rows)


def run_of(piece: str, step: int) -> OperationRun | None:
    """Return the run of a routing step on a piece."""
    db.session.commit()
    for run in db.session.execute(
        select(OperationRun).join(Piece).where(Piece.code == piece)
    ).scalars():
        if run.operation.step == step:
            return run
    return None


def start_weld(scanner: Scanner, *badges: str, piece: str = "P-2026-000001") -> dict:
    """Badge in, select OF-2026-0001 step 20 and start it on a piece."""
    for badge in badges:
        scanner.ok(badge)
    scanner.ok("OF-2026-0001")
    scanner.ok("OF-2026-0001-20")
    return scanner.ok(piece)


# -- badges ------------------------------------------------------------------------------


def test_badge_scan_badges_the_student_in_with_a_greeting(scanner: Scanner) -> None:
    body = scanner.ok(LUCAS)
    assert body["kind"] == "badge"
    assert body["message"].startswith("Bonjour Lucas — badge accepté")
    assert body["station"]["students"] == [{"id": "E2026-001", "name": "Lucas M."}]
    assert present_at("ST-SOUD-01") == ["E2026-001"]


def test_printed_and_rfid_badges_of_one_student_are_the_same_person(scanner: Scanner) -> None:
    scanner.ok(LUCAS)
    body = scanner.ok(LUCAS_PRINTED)
    assert body["message"].startswith("À bientôt Lucas")
    assert present_at("ST-SOUD-01") == []


def test_badge_scanned_again_badges_the_student_out(scanner: Scanner) -> None:
    scanner.ok(LUCAS)
    body = scanner.ok(LUCAS)
    assert "sortie" in body["message"]
    assert body["station"]["students"] == []


def test_several_students_can_be_badged_in_at_once_for_team_work(scanner: Scanner) -> None:
    scanner.ok(LUCAS)
    scanner.ok(LEA)
    body = scanner.ok(INES)
    assert [s["id"] for s in body["station"]["students"]] == ["E2026-001", "E2026-003", "E2026-002"]


def test_badging_in_elsewhere_moves_the_student(client: FlaskClient, scanner: Scanner) -> None:
    other = Scanner(client, make_token("ST-SOUD-02"))
    scanner.ok(LUCAS)
    body = other.ok(LUCAS)
    assert "sorti·e du poste Poste MAG 1" in body["message"]
    assert present_at("ST-SOUD-01") == []
    assert present_at("ST-SOUD-02") == ["E2026-001"]


def test_unknown_badge_is_refused(scanner: Scanner) -> None:
    body = scanner.refused("B-4242", "unknown_code")
    assert "Badge inconnu" in body["error"]["message"]


def test_staff_badge_cannot_work_at_a_station(scanner: Scanner) -> None:
    scanner.refused(TEACHER, "not_allowed")


def test_inactive_student_badge_is_refused(scanner: Scanner) -> None:
    db.session.execute(update(Student).where(Student.code == "E2026-001").values(active=False))
    db.session.commit()
    scanner.refused(LUCAS, "not_allowed")


# -- work order, operation, piece --------------------------------------------------------


def test_labels_need_a_student_badged_in_first(scanner: Scanner) -> None:
    for code in ("OF-2026-0001", "OF-2026-0001-20", "P-2026-000001", "A-FIN", "A-PAUSE"):
        body = scanner.refused(code, "no_student")
        assert "badge" in body["error"]["message"]


def test_work_order_scan_sets_the_station_context(scanner: Scanner) -> None:
    scanner.ok(LUCAS)
    body = scanner.ok("OF-2026-0001")
    assert body["kind"] == "work_order"
    assert body["station"]["work_order"] == {"number": "OF-2026-0001", "product": "Support soudé"}
    assert "OF-2026-0001 — Support soudé (4 pièces)" in body["message"]


def test_unknown_work_order_and_step_are_refused(scanner: Scanner) -> None:
    scanner.ok(LUCAS)
    scanner.refused("OF-2026-0999", "unknown_code")
    body = scanner.refused("OF-2026-0001-50", "unknown_code")
    assert "pas d'opération 50" in body["error"]["message"]


def test_operation_then_piece_starts_an_operation_run(scanner: Scanner) -> None:
    body = start_weld(scanner, LUCAS)
    assert body["kind"] == "piece"
    assert "C'est parti" in body["message"]
    run = body["station"]["run"]
    assert run["piece"] == "P-2026-000001" and run["status"] == "running"
    assert run["operation"]["code"] == "OF-2026-0001-20"
    stored = run_of("P-2026-000001", 20)
    assert stored is not None and [p.student.code for p in stored.participants] == ["E2026-001"]


def test_piece_then_operation_starts_the_same_run(scanner: Scanner) -> None:
    scanner.ok(LUCAS)
    scanner.ok("OF-2026-0001")
    scanner.ok("P-2026-000001")
    body = scanner.ok("OF-2026-0001-20")
    assert body["kind"] == "operation"
    assert body["station"]["run"]["piece"] == "P-2026-000001"


def test_operation_scan_alone_implies_its_work_order(scanner: Scanner) -> None:
    scanner.ok(LUCAS)
    body = scanner.ok("OF-2026-0001-20")
    assert body["station"]["work_order"]["number"] == "OF-2026-0001"
    assert body["station"]["operation"]["step"] == 20


def test_unknown_piece_label_is_created_under_the_work_order_in_context(scanner: Scanner) -> None:
    scanner.ok(LUCAS)
    scanner.ok("OF-2026-0001")
    body = scanner.ok("P-2026-000777")
    assert "Nouvelle pièce P-2026-000777 enregistrée pour OF-2026-0001" in body["message"]
    piece = db.session.execute(select(Piece).where(Piece.code == "P-2026-000777")).scalar_one()
    assert piece.work_order.number == "OF-2026-0001" and piece.status == "in_progress"


def test_unknown_piece_label_without_work_order_is_refused(scanner: Scanner) -> None:
    scanner.ok(LUCAS)
    body = scanner.refused("P-2026-000777", "no_work_order")
    assert "fiche suiveuse" in body["error"]["message"]
    assert db.session.execute(select(Piece)).first() is None


def test_known_piece_switches_the_context_to_its_own_work_order(
    client: FlaskClient, scanner: Scanner
) -> None:
    scanner.ok(LUCAS)
    scanner.ok("OF-2026-0001")
    scanner.ok("P-2026-000001")
    scanner.ok("OF-2026-0002")
    body = scanner.ok("P-2026-000001")
    assert body["station"]["work_order"]["number"] == "OF-2026-0001"


def test_operation_on_the_wrong_kind_of_station_is_refused(scanner: Scanner) -> None:
    scanner.ok(LUCAS)
    body = scanner.refused("OF-2026-0001-10", "not_allowed")
    assert "poste de découpe" in body["error"]["message"]


def test_operation_without_station_kind_is_allowed_anywhere(scanner: Scanner) -> None:
    scanner.ok(LUCAS)
    scanner.ok("OF-2026-0001-30")


# -- finishing and evidence --------------------------------------------------------------


def test_finish_creates_evidence_only_for_each_students_own_framework(scanner: Scanner) -> None:
    start_weld(scanner, LUCAS, LEA)
    body = scanner.ok("A-FIN")
    assert body["message"].startswith("Bravo !")
    assert evidence_of("E2026-001") == ["cap-rics:C4"]
    assert evidence_of("E2026-003") == ["cap-metallier:C3.6"]
    run = run_of("P-2026-000001", 20)
    assert run is not None and run.status == "finished" and run.finished_at is not None
    assert body["station"]["run"] is None


def test_operation_mapped_to_one_framework_gives_nothing_to_the_other(
    client: FlaskClient, school: None
) -> None:
    bender = Scanner(client, make_token("ST-PLIEUSE"))
    bender.ok(LUCAS)
    bender.ok(LEA)
    bender.ok("OF-2026-0002-20")
    bender.ok("P-2026-000100")
    bender.ok("A-FIN")
    assert evidence_of("E2026-001") == ["cap-rics:C3"]
    assert evidence_of("E2026-003") == []


def test_student_who_joins_a_running_operation_gets_its_evidence(scanner: Scanner) -> None:
    start_weld(scanner, LUCAS)
    body = scanner.ok(INES)
    assert "Tu rejoins" in body["message"]
    scanner.ok("A-FIN")
    assert evidence_of("E2026-002") == ["cap-rics:C4"]


def test_finish_without_an_active_run_is_refused(scanner: Scanner) -> None:
    scanner.ok(LUCAS)
    scanner.refused("A-FIN", "no_operation")


def test_finished_operation_cannot_be_started_again_on_the_piece(scanner: Scanner) -> None:
    start_weld(scanner, LUCAS)
    scanner.ok("A-FIN")
    body = scanner.refused("P-2026-000001", "not_allowed")
    assert "déjà terminée" in body["error"]["message"]


def test_piece_with_complete_routing_awaits_review(client: FlaskClient, school: None) -> None:
    cutter = Scanner(client, make_token("ST-PLASMA"))
    welder = Scanner(client, make_token("ST-SOUD-01"))
    cutter.ok(LUCAS)
    cutter.ok("OF-2026-0001-10")
    cutter.ok("P-2026-000001")
    cutter.ok("A-FIN")
    welder.ok(LUCAS)
    welder.ok("OF-2026-0001-20")
    welder.ok("P-2026-000001")
    body = welder.ok("A-FIN")
    assert "attend la validation" not in body["message"]
    welder.ok("OF-2026-0001-30")
    welder.ok("P-2026-000001")
    body = welder.ok("A-FIN")
    assert "attend la validation du maître pro" in body["message"]
    piece = db.session.execute(select(Piece).where(Piece.code == "P-2026-000001")).scalar_one()
    assert piece.status == "awaiting_review" and piece.completed_at is not None
    refused = welder.refused("P-2026-000001", "not_allowed")
    assert "attend la validation" in refused["error"]["message"]


# -- pause, parallel pieces and leaving --------------------------------------------------


def test_pause_then_pause_again_resumes(scanner: Scanner) -> None:
    start_weld(scanner, LUCAS)
    body = scanner.ok("A-PAUSE")
    assert body["message"].startswith("Pause") and body["station"]["run"]["status"] == "paused"
    body = scanner.ok("A-PAUSE")
    assert body["message"].startswith("Reprise") and body["station"]["run"]["status"] == "running"
    run = run_of("P-2026-000001", 20)
    assert run is not None
    intervals = (
        db.session.execute(
            select(RunInterval).where(RunInterval.run_id == run.id).order_by(RunInterval.id)
        )
        .scalars()
        .all()
    )
    assert (
        len(intervals) == 2 and intervals[0].ended_at is not None and intervals[1].ended_at is None
    )


def test_scanning_the_next_piece_pauses_the_current_one(scanner: Scanner) -> None:
    start_weld(scanner, LUCAS)
    body = scanner.ok("P-2026-000002")
    assert "mis en pause" in body["message"]
    assert body["station"]["run"]["piece"] == "P-2026-000002"
    first = run_of("P-2026-000001", 20)
    assert first is not None and first.status == "paused"
    body = scanner.ok("P-2026-000001")
    assert body["message"].startswith("Pièce P-2026-000001") and "Reprise" in body["message"]


def test_last_student_leaving_pauses_the_run_and_coming_back_resumes_it(scanner: Scanner) -> None:
    start_weld(scanner, LUCAS)
    body = scanner.ok(LUCAS)
    assert "mis en pause" in body["message"]
    assert body["station"]["run"]["status"] == "paused"
    body = scanner.ok(LUCAS)
    assert "Reprise" in body["message"]
    assert body["station"]["run"]["status"] == "running"


def test_leave_action_badges_everyone_out(scanner: Scanner) -> None:
    start_weld(scanner, LUCAS, LEA)
    body = scanner.ok("A-SORTIE")
    assert body["message"].startswith("À bientôt Lucas et Léa")
    assert present_at("ST-SOUD-01") == []
    assert body["station"]["run"]["status"] == "paused"


def test_piece_in_progress_at_another_station_is_refused(
    client: FlaskClient, scanner: Scanner
) -> None:
    start_weld(scanner, LUCAS)
    other = Scanner(client, make_token("ST-SOUD-02"))
    other.ok(INES)
    other.ok("OF-2026-0001-20")
    body = other.refused("P-2026-000001", "not_allowed")
    assert "déjà en cours" in body["error"]["message"]


# -- undo --------------------------------------------------------------------------------


def test_undo_of_a_finish_reopens_the_run_and_withdraws_the_evidence(scanner: Scanner) -> None:
    start_weld(scanner, LUCAS)
    scanner.ok("A-FIN")
    assert evidence_of("E2026-001") == ["cap-rics:C4"]
    body = scanner.ok("A-ANNULE")
    assert body["message"] == "Annulé : le scan « A-FIN » ne compte plus."
    assert evidence_of("E2026-001") == []
    run = run_of("P-2026-000001", 20)
    assert run is not None and run.status == "running" and run.finished_at is None
    assert body["station"]["run"]["status"] == "running"
    scanner.ok("A-FIN")
    assert evidence_of("E2026-001") == ["cap-rics:C4"]


def test_undo_of_a_piece_scan_removes_the_new_piece_and_its_run(scanner: Scanner) -> None:
    start_weld(scanner, LUCAS)
    scanner.ok("A-ANNULE")
    assert db.session.execute(select(Piece)).first() is None
    assert db.session.execute(select(OperationRun)).first() is None


def test_undo_twice_goes_back_two_scans(scanner: Scanner) -> None:
    scanner.ok(LUCAS)
    scanner.ok("OF-2026-0001")
    scanner.ok("A-ANNULE")
    body = scanner.ok("A-ANNULE")
    assert body["station"]["students"] == [] and body["station"]["work_order"] is None


def test_undo_is_refused_once_the_scan_is_older_than_the_window(app, scanner: Scanner) -> None:
    scanner.ok(LUCAS)
    # The event log is append-only: the scan cannot be made older, so the window shrinks.
    app.config["ATELIER_UNDO_WINDOW_S"] = 0.0
    scanner.refused("A-ANNULE", "nothing_to_undo")
    assert present_at("ST-SOUD-01") == ["E2026-001"]


def test_undo_skips_refused_scans(scanner: Scanner) -> None:
    scanner.ok(LUCAS)
    scanner.refused("OF-2026-0999", "unknown_code")
    scanner.ok("A-ANNULE")
    assert present_at("ST-SOUD-01") == []


def test_undo_refuses_when_the_shop_moved_on_since(client: FlaskClient, scanner: Scanner) -> None:
    scanner.ok(LUCAS)
    Scanner(client, make_token("ST-SOUD-02")).ok(LUCAS)
    body = scanner.refused("A-ANNULE", "undo_conflict")
    assert "Impossible d'annuler" in body["error"]["message"]
    assert present_at("ST-SOUD-02") == ["E2026-001"]


def test_undo_with_nothing_to_undo_is_refused(scanner: Scanner) -> None:
    scanner.refused("A-ANNULE", "nothing_to_undo")


# -- kiosks ------------------------------------------------------------------------------


def test_station_scan_at_a_kiosk_makes_it_act_for_that_station(
    client: FlaskClient, school: None
) -> None:
    kiosk = Scanner(client, make_token("ST-KIOSK-1"))
    body = kiosk.ok("ST-SOUD-02")
    assert body["kind"] == "station"
    assert body["station"]["acting_for"] == "ST-SOUD-02"
    body = kiosk.ok(LUCAS)
    assert body["station"]["code"] == "ST-SOUD-02"
    assert body["station"]["via_kiosk"] == "ST-KIOSK-1"
    assert present_at("ST-SOUD-02") == ["E2026-001"]
    body = kiosk.ok("A-SORTIE")
    assert present_at("ST-SOUD-02") == []
    # Badged out, the kiosk acts for nobody else: the next badge works at the kiosk itself.
    body = kiosk.ok(LUCAS)
    assert body["station"]["code"] == "ST-KIOSK-1" and "via_kiosk" not in body["station"]
    assert present_at("ST-KIOSK-1") == ["E2026-001"]


def test_a_kiosk_acting_for_no_station_is_a_station_itself(
    client: FlaskClient, school: None
) -> None:
    kiosk = Scanner(client, make_token("ST-KIOSK-1"))
    body = kiosk.ok(LUCAS)
    assert body["message"].startswith("Bonjour Lucas")
    assert body["station"]["code"] == "ST-KIOSK-1"
    assert body["station"]["acting_for"] is None
    kiosk.ok("OF-2026-0001")
    kiosk.ok("OF-2026-0001-30")  # Contrôle: no station kind, so the bench beside the kiosk
    body = kiosk.ok("P-2026-000001")
    assert body["station"]["run"]["status"] == "running"
    assert body["station"]["code"] == "ST-KIOSK-1"
    body = kiosk.ok("A-FIN")
    assert evidence_of("E2026-001") == ["cap-rics:C5"]
    # A welding step is still refused at the kiosk's bench.
    kiosk.refused("OF-2026-0001-20", "not_allowed")


def test_a_student_who_badges_then_scans_a_station_is_badged_in_there(
    client: FlaskClient, school: None
) -> None:
    kiosk = Scanner(client, make_token("ST-KIOSK-1"))
    kiosk.ok(LUCAS)
    kiosk.ok(LEA)
    body = kiosk.ok("ST-SOUD-02")
    assert body["message"] == (
        "La borne agit maintenant pour : Poste MAG 2 (135). Lucas et Léa sont badgé·e·s à ce poste."
    )
    assert present_at("ST-KIOSK-1") == []
    assert present_at("ST-SOUD-02") == ["E2026-001", "E2026-003"]
    body = kiosk.ok("OF-2026-0001-20")
    assert body["station"]["code"] == "ST-SOUD-02"
    assert [s["id"] for s in body["station"]["students"]] == ["E2026-001", "E2026-003"]


def test_a_kiosk_moves_only_the_students_who_badged_on_it(
    client: FlaskClient, school: None
) -> None:
    welder = Scanner(client, make_token("ST-SOUD-01"))
    kiosk = Scanner(client, make_token("ST-KIOSK-1"))
    kiosk.ok("ST-SOUD-01")
    welder.ok(INES)  # badged in with the machine's own reader
    kiosk.ok(LUCAS)  # badged in at the same station through the kiosk
    kiosk.ok("ST-SOUD-02")
    assert present_at("ST-SOUD-01") == ["E2026-002"]
    assert present_at("ST-SOUD-02") == ["E2026-001"]


def test_kiosk_forgets_its_station_after_inactivity(app, client: FlaskClient, school: None) -> None:
    kiosk = Scanner(client, make_token("ST-KIOSK-1"))
    kiosk.ok("ST-SOUD-02")
    app.config["ATELIER_KIOSK_STATION_TIMEOUT_S"] = 0.0
    body = kiosk.ok(LUCAS)
    assert body["station"]["code"] == "ST-KIOSK-1" and body["station"]["acting_for"] is None
    assert present_at("ST-SOUD-02") == [] and present_at("ST-KIOSK-1") == ["E2026-001"]


def test_station_scan_at_a_workstation_is_refused(scanner: Scanner) -> None:
    scanner.refused("ST-SOUD-02", "not_allowed")
    body = scanner.ok("ST-SOUD-01")
    assert "Tu es bien au poste" in body["message"]


def test_unknown_station_label_is_refused(client: FlaskClient, school: None) -> None:
    Scanner(client, make_token("ST-KIOSK-1")).refused("ST-NOPE", "unknown_code")


def test_keyboard_layout_problem_is_reported_at_the_station(scanner: Scanner) -> None:
    body = scanner.refused("OF)éàé-)ààà&", "keyboard_layout")
    assert "clavier" in body["error"]["message"]


def test_two_stations_keep_separate_state(client: FlaskClient, school: None) -> None:
    one = Scanner(client, make_token("ST-SOUD-01"))
    two = Scanner(client, make_token("ST-SOUD-02"))
    one.ok(LUCAS)
    two.ok(INES)
    one.ok("OF-2026-0001-20")
    two.ok("OF-2026-0002")
    body_one = one.ok("P-2026-000001")
    body_two = two.ok("P-2026-000500")
    assert body_one["station"]["run"]["piece"] == "P-2026-000001"
    assert body_two["station"]["run"] is None
    assert body_two["station"]["work_order"]["number"] == "OF-2026-0002"


# -- quantity ------------------------------------------------------------------------------


def test_a_label_past_the_orders_quantity_and_margin_asks_for_the_teacher(
    app, scanner: Scanner
) -> None:
    scanner.ok(LUCAS)
    scanner.ok("OF-2026-0001")  # 4 pieces ordered, 2 more allowed for rework by default
    for number in range(1, 7):
        scanner.ok(f"P-2026-00000{number}")
    body = scanner.refused("P-2026-000007", "too_many_pieces")
    assert "demande à ton maître pro" in body["error"]["message"]
    assert db.session.execute(select(Piece).where(Piece.code == "P-2026-000007")).first() is None
    # A piece already made under the order is no new label: it is always accepted.
    scanner.ok("P-2026-000003")
    app.config["ATELIER_EXTRA_PIECES"] = 3
    scanner.ok("P-2026-000007")


# -- calling the teacher (A-AIDE) ----------------------------------------------------------


def test_a_aide_calls_the_teacher_until_a_staff_badge_is_scanned_at_the_station(
    scanner: Scanner,
) -> None:
    scanner.ok(LUCAS)
    body = scanner.ok("A-AIDE")
    assert body["kind"] == "action"
    assert "maître pro est prévenu" in body["message"]
    since = body["station"]["help_since"]
    assert since is not None
    # Calling again changes nothing: the call keeps its time, and says it is already made.
    again = scanner.ok("A-AIDE")
    assert "déjà prévenu" in again["message"]
    assert again["station"]["help_since"] == since
    # The teacher's badge at the station answers the call (and badges nobody in).
    done = scanner.ok(TEACHER)
    assert done["message"].startswith("M. Perrin est là")
    assert done["station"]["help_since"] is None
    assert present_at("ST-SOUD-01") == ["E2026-001"]
    # With no call open, a staff badge still does not work at a station.
    scanner.refused(TEACHER, "not_allowed")


def test_a_aide_needs_a_student_badged_in(scanner: Scanner) -> None:
    scanner.refused("A-AIDE", "no_student")


def test_the_call_ends_when_the_last_student_leaves(scanner: Scanner) -> None:
    scanner.ok(LUCAS)
    scanner.ok(INES)
    scanner.ok("A-AIDE")
    assert scanner.ok(LUCAS)["station"]["help_since"] is not None  # Inès still waits
    assert scanner.ok(INES)["station"]["help_since"] is None
    assert scanner.ok(INES)["station"]["help_since"] is None  # back in: no call open


def test_a_call_for_help_made_by_mistake_is_undone(scanner: Scanner) -> None:
    scanner.ok(LUCAS)
    scanner.ok("A-AIDE")
    body = scanner.ok("A-ANNULE")
    assert "A-AIDE" in body["message"]
    assert body["station"]["help_since"] is None
    assert body["station"]["students"] == [{"id": "E2026-001", "name": "Lucas M."}]


def test_a_call_keeps_going_through_the_work(scanner: Scanner) -> None:
    start_weld(scanner, LUCAS)
    body = scanner.ok("A-AIDE")
    assert body["station"]["run"]["status"] == "running"
    assert scanner.ok("A-PAUSE")["station"]["help_since"] == body["station"]["help_since"]


def test_undo_that_would_badge_a_student_in_twice_changes_nothing(
    client: FlaskClient, scanner: Scanner
) -> None:
    # The badge-out is undone only if its presence can be reopened: Lucas is at another
    # station by then (a unique index says no), so the undo is refused and changes nothing.
    other = Scanner(client, make_token("ST-SOUD-02"))
    scanner.ok(LUCAS)
    scanner.ok(INES)
    scanner.ok(LUCAS)  # Lucas badges out of ST-SOUD-01
    other.ok(LUCAS)  # … and in at ST-SOUD-02, from another device
    body = scanner.refused("A-ANNULE", "undo_conflict")
    assert "Impossible d'annuler" in body["error"]["message"]
    assert present_at("ST-SOUD-01") == ["E2026-002"]
    assert present_at("ST-SOUD-02") == ["E2026-001"]


def test_the_call_ends_when_its_last_student_moves_to_another_station(
    client: FlaskClient, scanner: Scanner
) -> None:
    other = Scanner(client, make_token("ST-SOUD-02"))
    scanner.ok(LUCAS)
    scanner.ok("A-AIDE")
    other.ok(LUCAS)  # Lucas badges in elsewhere: nobody waits at ST-SOUD-01 any more
    # Inès arriving later does not inherit Lucas's call.
    assert scanner.ok(INES)["station"]["help_since"] is None
