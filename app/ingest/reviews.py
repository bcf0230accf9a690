"""A teacher's review of a finished piece (docs/contract.md §8).

Two separate decisions: the customer verdict (``conforme``, ``a_reprendre``, ``rebut``)
and, for each evidence the piece gave, the student's level on the reference scale with
an optional comment. A later review supersedes an earlier one; both stay, and the event
log keeps who decided what. A piece to rework goes back into production: its routing is
made again, in a new round of runs.
"""

from __future__ import annotations

from sqlalchemy import select, update

from app.ingest.core import Done, Refusal, Scope, handles
from app.ingest.events import ReviewPiece
from app.models import (
    ASSESSMENT_LEVELS,
    VERDICTS,
    Assessment,
    Competency,
    Evidence,
    Framework,
    OperationRun,
    Piece,
    PieceReview,
    Student,
    table_of,
)

PIECES = table_of(Piece)
REVIEWS = table_of(PieceReview)
ASSESSMENTS = table_of(Assessment)
EVIDENCE = table_of(Evidence)
RUNS = table_of(OperationRun)
STUDENTS = table_of(Student)
COMPETENCIES = table_of(Competency)
FRAMEWORKS = table_of(Framework)

MAX_COMMENT = 500


@handles(ReviewPiece)
def review_piece(scope: Scope, review: ReviewPiece) -> Done:
    """Record the verdict on a finished piece and the levels of its evidence."""
    conn = scope.conn
    piece = conn.execute(
        select(PIECES.c.id, PIECES.c.status, PIECES.c.round).where(
            PIECES.c.site_id == scope.site_id, PIECES.c.code == review.piece_code
        )
    ).first()
    if piece is None:
        raise Refusal("not_found", f"Pièce {review.piece_code} inconnue.", "unknown piece")
    if piece.status == "in_progress":
        raise Refusal(
            "not_finished",
            f"La pièce {review.piece_code} n'est pas terminée : elle ne peut pas être évaluée.",
            f"piece {review.piece_code} is in progress",
        )
    if review.verdict not in VERDICTS:
        raise Refusal(
            "bad_verdict",
            f"Verdict inconnu : {review.verdict} (conforme, a_reprendre ou rebut).",
            f"unknown verdict {review.verdict!r}",
        )
    evidence = {
        (row.student, f"{row.framework}:{row.competency}"): row.id
        for row in conn.execute(
            select(
                EVIDENCE.c.id,
                STUDENTS.c.code.label("student"),
                FRAMEWORKS.c.code.label("framework"),
                COMPETENCIES.c.code.label("competency"),
            )
            .join(RUNS, RUNS.c.id == EVIDENCE.c.run_id)
            .join(STUDENTS, STUDENTS.c.id == EVIDENCE.c.student_id)
            .join(COMPETENCIES, COMPETENCIES.c.id == EVIDENCE.c.competency_id)
            .join(FRAMEWORKS, FRAMEWORKS.c.id == COMPETENCIES.c.framework_id)
            .where(RUNS.c.piece_id == piece.id)
            .order_by(EVIDENCE.c.id)
        )
    }
    rows = []
    for item in review.assessments:
        if item.level not in ASSESSMENT_LEVELS:
            raise Refusal(
                "bad_level",
                f"Niveau inconnu : {item.level} ({', '.join(ASSESSMENT_LEVELS)}).",
                f"unknown level {item.level!r}",
            )
        evidence_id = evidence.get((item.student_code, item.competency))
        if evidence_id is None:
            raise Refusal(
                "not_evidenced",
                f"La pièce {review.piece_code} ne montre pas la compétence {item.competency} "
                f"pour l'élève {item.student_code}.",
                f"no evidence of {item.competency} for {item.student_code}",
            )
        rows.append(
            {
                "evidence_id": evidence_id,
                "level": item.level,
                "comment": (item.comment or "").strip()[:MAX_COMMENT] or None,
                "assessed_by_id": scope.origin.actor.user_id,
                "assessed_at": scope.now,
                "event_id": scope.event_id,
            }
        )
    if scope.origin.actor.user_id is None:
        raise RuntimeError("a review needs a staff member")
    scope.write(
        REVIEWS.insert(),
        {
            "piece_id": piece.id,
            "verdict": review.verdict,
            "reviewed_by_id": scope.origin.actor.user_id,
            "reviewed_at": scope.now,
            "event_id": scope.event_id,
        },
    )
    if rows:
        scope.write(ASSESSMENTS.insert(), rows)
    if review.verdict == "a_reprendre":
        scope.write(
            update(PIECES)
            .where(PIECES.c.id == piece.id)
            .values(status="in_progress", round=PIECES.c.round + 1, completed_at=None)
        )
        message = f"Pièce {review.piece_code} à reprendre : elle retourne en fabrication."
    else:
        scope.write(update(PIECES).where(PIECES.c.id == piece.id).values(status="reviewed"))
        word = "conforme" if review.verdict == "conforme" else "mise au rebut"
        message = f"Pièce {review.piece_code} {word} : évaluation enregistrée."
    return Done(message, {"piece": review.piece_code, "verdict": review.verdict})
