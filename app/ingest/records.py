"""The teacher's records: levels set by hand, the mastery rule, welders' continuity, photos,
the students' own feeling, and the record's exports (docs/contract.md §8).

Each handler checks everything before it writes, and refuses in the domain's words. The
event log is the audit log: a level set by hand, a signature, an export are there with who
did it and when; an export changes nothing else.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from typing import Any

from PIL import Image, ImageOps
from sqlalchemy import func, select, update

from app.ingest.core import Done, Refusal, Scope, handles, insert_for
from app.ingest.events import (
    FEELINGS,
    MASTERY_RULES,
    AttachPhoto,
    ConfirmContinuity,
    ExportRecord,
    SelfAssess,
    SetLevel,
    SetMasteryRule,
)
from app.models import (
    ASSESSMENT_LEVELS,
    CONTINUITY_MONTHS,
    Competency,
    ContinuityConfirmation,
    Framework,
    LevelOverride,
    Operation,
    OperationRun,
    Piece,
    PieceReview,
    ReviewPhoto,
    RunParticipant,
    SelfAssessment,
    Site,
    Student,
    Weld,
    WeldStudent,
    Wps,
    months_before,
    table_of,
)

PIECES = table_of(Piece)
STUDENTS = table_of(Student)
COMPETENCIES = table_of(Competency)
FRAMEWORKS = table_of(Framework)
OPERATIONS = table_of(Operation)
RUNS = table_of(OperationRun)
PARTICIPANTS = table_of(RunParticipant)
REVIEWS = table_of(PieceReview)
SITES = table_of(Site)
WELDS = table_of(Weld)
WELD_STUDENTS = table_of(WeldStudent)
WPS = table_of(Wps)
SELF = table_of(SelfAssessment)
OVERRIDES = table_of(LevelOverride)
CONFIRMATIONS = table_of(ContinuityConfirmation)
PHOTOS = table_of(ReviewPhoto)

MAX_REASON = 300
RULE_N = (1, 10)
EXPORT_FORMATS = ("pdf", "csv", "json")  # json: everything held (app.read.rgpd)

MAX_PHOTO_BYTES = 2 * 1024 * 1024
MAX_PHOTO_SIDE = 1600
MAX_PHOTO_PIXELS = 40_000_000  # a 2 MB file that decodes into more is a decompression bomb
PHOTO_QUALITY = 80
PHOTO_FORMATS = {"JPEG", "MPO", "PNG", "WEBP"}


def _student(scope: Scope, code: str) -> Any:
    row = scope.conn.execute(
        select(STUDENTS.c.id, STUDENTS.c.framework_id).where(
            STUDENTS.c.site_id == scope.site_id, STUDENTS.c.code == code
        )
    ).first()
    if row is None:
        raise Refusal("not_found", f"Élève {code} inconnu.", "unknown student")
    scope.columns["student_id"] = row.id
    return row


def _piece(scope: Scope, code: str) -> Any:
    row = scope.conn.execute(
        select(PIECES.c.id, PIECES.c.work_order_id).where(
            PIECES.c.site_id == scope.site_id, PIECES.c.code == code
        )
    ).first()
    if row is None:
        raise Refusal("not_found", f"Pièce {code} inconnue.", "unknown piece")
    return row


def _staff(scope: Scope) -> int:
    user_id = scope.origin.actor.user_id
    if user_id is None:
        raise RuntimeError(f"{scope.origin.actor.kind} input that needs a staff member")
    return user_id


@handles(SelfAssess)
def self_assess(scope: Scope, answer: SelfAssess) -> Done:
    """Keep how a student felt their latest finished run of a piece's step went."""
    if scope.origin.actor.kind != "kiosk":
        raise Refusal(
            "forbidden",
            "Le ressenti d'un élève se donne à la borne.",
            f"self-assessment from a {scope.origin.actor.kind}",
        )
    if answer.feeling not in FEELINGS:
        raise Refusal(
            "bad_feeling",
            f"Ressenti inconnu : {answer.feeling} ({', '.join(FEELINGS)}).",
            f"unknown feeling {answer.feeling!r}",
        )
    piece = _piece(scope, answer.piece_code)
    student = _student(scope, answer.student_code)
    run = scope.conn.execute(
        select(RUNS.c.id)
        .join(OPERATIONS, OPERATIONS.c.id == RUNS.c.operation_id)
        .where(
            RUNS.c.piece_id == piece.id,
            OPERATIONS.c.step == answer.step,
            RUNS.c.status == "finished",
        )
        .order_by(RUNS.c.round.desc(), RUNS.c.id.desc())
        .limit(1)
    ).first()
    if run is None:
        raise Refusal(
            "not_finished",
            f"L'étape {answer.step} de la pièce {answer.piece_code} n'est pas terminée.",
            f"no finished run of step {answer.step}",
        )
    took_part = scope.conn.execute(
        select(PARTICIPANTS.c.run_id).where(
            PARTICIPANTS.c.run_id == run.id, PARTICIPANTS.c.student_id == student.id
        )
    ).first()
    if took_part is None:
        raise Refusal(
            "not_participant",
            f"L'élève {answer.student_code} n'a pas travaillé sur cette opération.",
            "student not a participant of the run",
        )
    values = {"feeling": answer.feeling, "answered_at": scope.now, "event_id": scope.event_id}
    scope.write(
        insert_for(scope.conn.dialect.name)(SELF)
        .values(student_id=student.id, run_id=run.id, **values)
        .on_conflict_do_update(index_elements=["student_id", "run_id"], set_=values)
    )
    return Done(
        "Merci, ton ressenti est enregistré.",
        {"piece": answer.piece_code, "step": answer.step, "feeling": answer.feeling},
    )


@handles(SetLevel)
def set_level(scope: Scope, change: SetLevel) -> Done:
    """Set a student's current level of a competency by hand, with the teacher's reason."""
    student = _student(scope, change.student_code)
    framework_code, _, code = change.competency.partition(":")
    competency = scope.conn.execute(
        select(COMPETENCIES.c.id)
        .join(FRAMEWORKS, FRAMEWORKS.c.id == COMPETENCIES.c.framework_id)
        .where(
            FRAMEWORKS.c.id == student.framework_id,
            FRAMEWORKS.c.code == framework_code,
            COMPETENCIES.c.code == code,
        )
    ).first()
    if competency is None:
        raise Refusal(
            "unknown_competency",
            f"La compétence {change.competency} n'est pas dans le référentiel "
            f"de l'élève {change.student_code}.",
            f"{change.competency} not in the student's framework",
        )
    if change.level not in ASSESSMENT_LEVELS:
        raise Refusal(
            "bad_level",
            f"Niveau inconnu : {change.level} ({', '.join(ASSESSMENT_LEVELS)}).",
            f"unknown level {change.level!r}",
        )
    reason = change.reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise Refusal(
            "bad_reason",
            f"Donnez la raison du niveau choisi ({MAX_REASON} caractères au plus).",
            "empty reason" if not reason else "reason too long",
        )
    scope.write(
        OVERRIDES.insert(),
        {
            "student_id": student.id,
            "competency_id": competency.id,
            "level": change.level,
            "reason": reason,
            "set_by_id": _staff(scope),
            "set_at": scope.now,
            "event_id": scope.event_id,
        },
    )
    return Done(
        f"Niveau de {change.competency} fixé à {change.level} pour {change.student_code}.",
        {"student": change.student_code, "competency": change.competency, "level": change.level},
    )


@handles(SetMasteryRule)
def set_mastery_rule(scope: Scope, rule: SetMasteryRule) -> Done:
    """Choose how the site computes a competency's current level from its assessments."""
    low, high = RULE_N
    if rule.kind not in MASTERY_RULES or not low <= rule.n <= high:
        raise Refusal(
            "bad_rule",
            f"Règle inconnue : choisissez le dernier niveau, ou les N derniers (N de {low} "
            f"à {high}).",
            f"bad rule {rule.kind!r} {rule.n!r}",
        )
    scope.write(
        update(SITES)
        .where(SITES.c.id == scope.site_id)
        .values(mastery_rule=rule.kind, mastery_n=rule.n)
    )
    if rule.kind == "latest":
        message = "Règle enregistrée : le dernier niveau évalué."
    else:
        message = f"Règle enregistrée : les {rule.n} derniers niveaux, le plus récent compte plus."
    return Done(message, {"kind": rule.kind, "n": rule.n})


@handles(ConfirmContinuity)
def confirm_continuity(scope: Scope, confirm: ConfirmContinuity) -> Done:
    """Sign a welder's 6-monthly confirmation: they welded with this process and position."""
    student = _student(scope, confirm.student_code)
    since = months_before(scope.now, CONTINUITY_MONTHS)
    weld = scope.conn.execute(
        select(WELDS.c.id)
        .join(WELD_STUDENTS, WELD_STUDENTS.c.weld_id == WELDS.c.id)
        .join(WPS, WPS.c.id == WELDS.c.wps_id)
        .where(
            WELD_STUDENTS.c.student_id == student.id,
            WELDS.c.process == confirm.process,
            WPS.c.position == confirm.position,
            WELDS.c.started_at >= since,
            WELDS.c.started_at <= scope.now,
        )
        .limit(1)
    ).first()
    if weld is None:
        raise Refusal(
            "no_recent_weld",
            f"Aucune soudure {confirm.process} en position {confirm.position} de l'élève "
            f"{confirm.student_code} depuis 6 mois : la continuité ne peut pas être confirmée.",
            "no weld of that process and position in the last 6 months",
        )
    scope.write(
        CONFIRMATIONS.insert(),
        {
            "student_id": student.id,
            "process": confirm.process,
            "position": confirm.position,
            "confirmed_by_id": _staff(scope),
            "confirmed_at": scope.now,
            "event_id": scope.event_id,
        },
    )
    return Done(
        f"Continuité {confirm.process} {confirm.position} confirmée pour {confirm.student_code}.",
        {
            "student": confirm.student_code,
            "process": confirm.process,
            "position": confirm.position,
        },
    )


def _bad_photo(reason: str) -> Refusal:
    return Refusal(
        "bad_photo",
        "Photo refusée : envoyez une image JPEG, PNG ou WebP de 2 Mo au plus.",
        reason,
    )


def reencode_photo(data: bytes) -> tuple[bytes, int, int]:
    """Decode an image and write it again as a JPEG without its metadata (EXIF, GPS).

    It is turned upright first (its EXIF orientation), then fits in 1600 px. Raise
    ``Refusal`` (``bad_photo``) for anything that is not such an image.
    """
    if len(data) > MAX_PHOTO_BYTES:
        raise _bad_photo(f"photo of {len(data)} bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format not in PHOTO_FORMATS:
                    raise _bad_photo(f"image format {image.format}")
                if image.width * image.height > MAX_PHOTO_PIXELS:
                    raise _bad_photo(f"image of {image.width}x{image.height} pixels")
                image.load()
                upright = ImageOps.exif_transpose(image) or image
                picture = upright.convert("RGB")
    except Refusal:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Warning) as error:
        raise _bad_photo(f"not an image: {type(error).__name__}") from error
    picture.thumbnail((MAX_PHOTO_SIDE, MAX_PHOTO_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=PHOTO_QUALITY, optimize=True)
    return out.getvalue(), picture.width, picture.height


@handles(AttachPhoto)
def attach_photo(scope: Scope, photo: AttachPhoto) -> Done:
    """Keep a photo of a piece, re-encoded, with the piece's latest review if it has one."""
    piece = _piece(scope, photo.piece_code)
    jpeg, width, height = reencode_photo(photo.data)
    review_id = scope.conn.execute(
        select(func.max(REVIEWS.c.id)).where(REVIEWS.c.piece_id == piece.id)
    ).scalar()
    photo_id = scope.write(
        PHOTOS.insert().returning(PHOTOS.c.id),
        {
            "site_id": scope.site_id,
            "piece_id": piece.id,
            "review_id": review_id,
            "media_type": "image/jpeg",
            "data": jpeg,
            "sha256": hashlib.sha256(jpeg).hexdigest(),
            "size": len(jpeg),
            "width": width,
            "height": height,
            "taken_by_id": scope.origin.actor.user_id,
            "taken_at": scope.now,
            "event_id": scope.event_id,
        },
    ).scalar_one()
    return Done(
        f"Photo de la pièce {photo.piece_code} enregistrée.",
        {"piece": photo.piece_code, "photo": photo_id},
    )


@handles(ExportRecord)
def export_record(scope: Scope, export: ExportRecord) -> Done:
    """Note that a student's record was exported (the event row is the audit entry)."""
    _student(scope, export.student_code)
    if export.fmt not in EXPORT_FORMATS:
        raise Refusal(
            "bad_format",
            f"Format inconnu : {export.fmt} (pdf, csv ou json).",
            f"unknown format {export.fmt!r}",
        )
    what = "Données" if export.fmt == "json" else "Livret"
    done = "exportées" if export.fmt == "json" else "exporté"
    return Done(
        f"{what} de {export.student_code} {done} ({export.fmt.upper()}).",
        {"student": export.student_code, "format": export.fmt},
    )
