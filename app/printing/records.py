"""A student's record (livret) rendered for export: A4 PDF and CSV, in French.

Both take the dict of ``app.read.records.student_record`` and read nothing else: the
student by first name and initial only, the framework (with its provisional warning when
it is one), per competency the current level in words and its history with the pieces
behind it, the hours by operation type, the welding statistics and the welder-
qualification view (ISO 9606-1 continuity).

The PDF is drawn with reportlab's platypus in DejaVu Sans, the fonts of the labels
(``labels.typeface``), embedded so that every name prints and the text can be extracted.

The CSV is for French spreadsheets: fields separated by ``;`` and numbers with a decimal
comma, because a French Excel takes ``,`` as the decimal mark and ``;`` as the list
separator (a ``,``-separated file opens there as one column); UTF-8 with a byte-order mark
(U+FEFF at the start of the text), without which Excel reads UTF-8 as Windows-1252 and
garbles « é ». It is a series of sections (a title row, a header row, the data rows,
then an empty row): one row per competency, one per history entry, and so on. A text
field that a spreadsheet would take for a formula (``=``, ``+``, ``-``, ``@``) starts
with an apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.flowables import Flowable

from app.models import parse_timestamp
from app.read.board import workshop_timezone
from app.read.wording import LEVEL_WORDS, fr_number, process_label
from labels.typeface import FONT_BOLD_PATH, FONT_REGULAR_PATH

REGULAR = "DejaVuSans"
BOLD = "DejaVuSans-Bold"
MARGIN = 15 * mm
DASH = "–"
BOM = "\ufeff"
SELF_WORDS = {"difficile": "difficile", "moyen": "moyen", "facile": "facile"}
PROVISIONAL = (
    "Référentiel provisoire : ses compétences ont été reconstituées et peuvent différer "
    "du référentiel officiel."
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
GRID = colors.Color(0.75, 0.75, 0.75)
HEAD = colors.Color(0.9, 0.9, 0.9)
WARN = colors.Color(1.0, 0.95, 0.8)


# -- words shared by both formats -----------------------------------------------------------------


def level_words(level: str | None) -> str:
    """Say a level in words (« niveau 3 : maîtrisé »), or that there is none yet."""
    if level is None:
        return "pas encore évalué"
    return LEVEL_WORDS.get(level, level)


def when(value: str | None, with_time: bool = True) -> str:
    """Write an RFC 3339 instant as the workshop's local date (and time), « 26/11/2026 09:20 »."""
    if not value:
        return DASH
    try:
        moment: datetime = parse_timestamp(value)
    except (ValueError, TypeError):
        return str(value)
    local = moment.astimezone(workshop_timezone())
    return local.strftime("%d/%m/%Y %H:%M" if with_time else "%d/%m/%Y")


def day(value: str | None) -> str:
    """Write a ``YYYY-MM-DD`` day as « 26/05/2027 »."""
    if not value:
        return DASH
    parts = str(value)[:10].split("-")
    return "/".join(reversed(parts)) if len(parts) == 3 else str(value)


def share(value: float | None) -> str:
    """Write a share (0 to 1) as a French percentage, « 87,5 % »."""
    return DASH if value is None else f"{fr_number(100 * value, 1)}\u00a0%"


def qualification_state(item: dict[str, Any]) -> str:
    """Say where a process/position's continuity stands."""
    if not item.get("holds"):
        return "continuité interrompue"
    if item.get("to_confirm"):
        return "valide, confirmation à signer"
    return "valide"


def framework_line(framework: dict[str, Any]) -> str:
    """Name the student's framework, « CAP Métallier (cap-metallier) »."""
    return f"{framework.get('name') or framework.get('code')} ({framework.get('code')})"


def provisional_text(framework: dict[str, Any]) -> str | None:
    """Return the framework's provisional warning, or None when it is not provisional."""
    if not framework.get("provisional"):
        return None
    note = framework.get("note")
    return f"{PROVISIONAL} {note}" if note else PROVISIONAL


# -- PDF ---------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _register_fonts() -> None:
    pdfmetrics.registerFont(TTFont(REGULAR, str(FONT_REGULAR_PATH)))
    pdfmetrics.registerFont(TTFont(BOLD, str(FONT_BOLD_PATH)))


def _style(name: str, size: float, bold: bool = False, **extra: Any) -> ParagraphStyle:
    return ParagraphStyle(
        name,
        fontName=BOLD if bold else REGULAR,
        fontSize=size,
        leading=size * 1.25,
        alignment=TA_LEFT,
        **extra,
    )


TITLE = _style("title", 17, bold=True, spaceAfter=2 * mm)
HEADING = _style("heading", 12.5, bold=True, spaceBefore=5 * mm, spaceAfter=2 * mm)
COMPETENCY = _style("competency", 10.5, bold=True, spaceBefore=3.5 * mm, spaceAfter=1 * mm)
BODY = _style("body", 9.5)
SMALL = _style("small", 8)
CELL = _style("cell", 8)
CELL_HEAD = _style("cell_head", 8, bold=True)


def _p(text: Any, style: ParagraphStyle = BODY) -> Paragraph:
    return Paragraph(escape(str(text)).replace("\n", "<br/>"), style)


CELL_PAD_PT = 6.0  # reportlab's default left and right padding of a cell, together


def _fits(text: str, font: str, width_pt: float) -> bool:
    return all(
        pdfmetrics.stringWidth(line, font, CELL.fontSize) <= width_pt - CELL_PAD_PT
        for line in text.split("\n")
    )


def _table_cell(value: Any, font: str, style: ParagraphStyle, width_pt: float) -> Any:
    # A plain string when it fits its column (a long history renders fast), else a
    # paragraph that wraps.
    text = DASH if value is None else str(value)
    return text if _fits(text, font, width_pt) else _p(text, style)


def _table(head: Sequence[str], rows: Iterable[Sequence[Any]], widths: Sequence[float]) -> Table:
    points = [w * mm for w in widths]
    data = [[_table_cell(cell, BOLD, CELL_HEAD, w) for cell, w in zip(head, points, strict=True)]]
    data.extend(
        [_table_cell(cell, REGULAR, CELL, w) for cell, w in zip(row, points, strict=True)]
        for row in rows
    )
    table = Table(data, colWidths=points, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), BOLD, CELL.fontSize, CELL.leading),
                ("FONT", (0, 1), (-1, -1), REGULAR, CELL.fontSize, CELL.leading),
                ("GRID", (0, 0), (-1, -1), 0.4, GRID),
                ("BACKGROUND", (0, 0), (-1, 0), HEAD),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
            ]
        )
    )
    return table


def _warning(text: str) -> Table:
    box = Table([[_p(text, BODY)]], colWidths=[A4[0] - 2 * MARGIN])
    box.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, -1), WARN),
                ("BOX", (0, 0), (-1, -1), 0.6, colors.Color(0.8, 0.6, 0.1)),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return box


def _competency_flowables(item: dict[str, Any]) -> list[Flowable]:
    parts: list[Flowable] = [_p(f"{item.get('code')} — {item.get('title') or ''}", COMPETENCY)]
    level = item.get("level")
    line = f"Niveau actuel : {level_words(level)}"
    override = item.get("override")
    if override:
        line += (
            f" (fixé à la main par {override.get('by') or DASH} le "
            f"{when(override.get('at'), with_time=False)} : {override.get('reason') or DASH}"
        )
        if item.get("computed") and item.get("computed") != override.get("level"):
            line += f" ; la règle donnerait {level_words(item.get('computed'))}"
        line += ")"
    parts.append(_p(line))
    history = item.get("history") or []
    if not item.get("seen") and not history:
        parts.append(_p("Non vu : aucune pièce n'a encore montré cette compétence.", SMALL))
        return parts
    parts.append(_p(f"Preuves : {item.get('evidence_count', len(history))}", SMALL))
    if history:
        parts.append(Spacer(1, 1 * mm))
        parts.append(
            _table(
                ("Date", "Niveau", "Pièce (OF)", "Opération", "Commentaire", "Par", "Ressenti"),
                (
                    (
                        when(entry.get("at")),
                        level_words(entry.get("level"))
                        + (" (remplacé)" if entry.get("superseded") else ""),
                        f"{entry.get('piece') or DASH}\n{entry.get('work_order') or ''}".strip(),
                        entry.get("operation"),
                        entry.get("comment"),
                        entry.get("by"),
                        SELF_WORDS.get(entry.get("self") or "", entry.get("self")),
                    )
                    for entry in history
                ),
                (22, 30, 27, 25, 41, 17, 18),
            )
        )
    return parts


def _footer(label: str) -> Any:
    def draw(canvas: Canvas, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(REGULAR, 7.5)
        canvas.setFillColor(colors.Color(0.35, 0.35, 0.35))
        canvas.drawString(MARGIN, 9 * mm, label)
        canvas.drawRightString(A4[0] - MARGIN, 9 * mm, f"Page {doc.page}")
        canvas.restoreState()

    return draw


def record_pdf(record: dict[str, Any], exported_at: datetime | None = None) -> bytes:
    """Render a student's record (livret) as an A4 PDF in French."""
    _register_fonts()
    student = record.get("student") or {}
    framework = student.get("framework") or {}
    name = student.get("display_name") or student.get("code") or DASH
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=16 * mm,
        title=f"Livret de compétences — {name}",
        author="Atelier",
        subject="Livret de compétences (formatif)",
        lang="fr-FR",
    )
    story: list[Flowable] = [
        _p(f"Livret de compétences — {name}", TITLE),
        _p(f"Élève {student.get('code') or DASH} · {framework_line(framework)}"),
    ]
    if exported_at is None and record.get("generated_at"):
        exported_at = parse_timestamp(str(record["generated_at"]))
    if exported_at is not None:
        story.append(_p(f"Édité le {exported_at.astimezone(workshop_timezone()):%d/%m/%Y %H:%M}"))
    rule = record.get("rule") or {}
    if rule.get("label"):
        story.append(_p(f"Règle du niveau actuel : {rule['label']}", SMALL))
    warning = provisional_text(framework)
    if warning:
        story += [Spacer(1, 2 * mm), _warning(warning)]

    story.append(_p("Compétences", HEADING))
    competencies = record.get("competencies") or []
    if not competencies:
        story.append(_p("Le référentiel de l'élève n'a aucune compétence."))
    for item in competencies:
        flow = _competency_flowables(item)
        # A competency's title and level stay with the start of its history.
        story.append(KeepTogether(flow[:3]) if len(flow) > 3 else KeepTogether(flow))
        story.extend(flow[3:])
    not_seen = record.get("not_seen") or []
    if not_seen:
        story.append(_p(f"Non vu à ce jour : {', '.join(not_seen)}", SMALL))

    story.append(_p("Heures par type d'opération", HEADING))
    hours = record.get("hours") or []
    if hours:
        story.append(
            _table(
                ("Type", "Opération", "Heures", "Passages"),
                (
                    (
                        h.get("operation_type"),
                        h.get("name"),
                        fr_number(h.get("hours"), 1),
                        h.get("runs"),
                    )
                    for h in hours
                ),
                (35, 85, 30, 30),
            )
        )
    else:
        story.append(_p("Aucune opération terminée."))

    story.append(_p("Soudage par procédé et position", HEADING))
    welding = record.get("welding") or []
    if welding:
        story.append(
            _table(
                ("Procédé", "Position", "Soudures", "Temps d'arc", "Dans le DMOS", "Dernière"),
                (
                    (
                        process_label(w.get("process")) or DASH,
                        w.get("position") or DASH,
                        w.get("welds"),
                        f"{fr_number((w.get('arc_s') or 0) / 60, 1)} min",
                        share(w.get("in_range_share")),
                        when(w.get("last_weld_at"), with_time=False),
                    )
                    for w in welding
                ),
                (30, 22, 22, 30, 30, 46),
            )
        )
    else:
        story.append(_p("Aucune soudure."))

    story.append(_p("Qualification de soudeur (continuité ISO 9606-1)", HEADING))
    qualification = record.get("qualification") or []
    if qualification:
        story.append(
            _table(
                (
                    "Procédé",
                    "Position",
                    "Dernière soudure",
                    "Valable jusqu'au",
                    "État",
                    "Confirmations",
                ),
                (
                    (
                        process_label(q.get("process")) or DASH,
                        q.get("position") or DASH,
                        when(q.get("last_weld_at"), with_time=False),
                        day(q.get("valid_until")),
                        qualification_state(q),
                        "\n".join(
                            f"{when(c.get('at'), with_time=False)} {c.get('by') or ''}".strip()
                            for c in q.get("confirmations") or []
                        )
                        or DASH,
                    )
                    for q in qualification
                ),
                (25, 20, 28, 28, 37, 42),
            )
        )
    else:
        story.append(_p("Aucun procédé soudé pour l'instant."))

    photos = record.get("photos") or []
    if photos:
        story.append(_p("Photos des pièces", HEADING))
        story.append(
            _p(
                ", ".join(
                    f"{p.get('piece')} ({when(p.get('at'), with_time=False)})" for p in photos
                )
            )
        )

    story += [
        Spacer(1, 6 * mm),
        _p(
            "Livret formatif : il suit la progression de l'élève à l'atelier et ne remplace pas "
            "les épreuves de l'examen.",
            SMALL,
        ),
    ]
    footer = _footer(f"Livret de compétences — {name}")
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()


# -- CSV ---------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, float):
        # Two decimals at most, none to spare: « 2,5 », « 184,5 », « 3 ».
        text = f"{value:.2f}".rstrip("0").rstrip(".")
        return ("0" if text in ("-0", "") else text).replace(".", ",")
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def record_csv(record: dict[str, Any]) -> str:
    """Render a student's record as CSV for French spreadsheets (``;``, UTF-8 with BOM)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")

    def section(title: str, head: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        writer.writerow([title])
        writer.writerow(head)
        writer.writerows([_cell(value) for value in row] for row in rows)
        writer.writerow([])

    student = record.get("student") or {}
    framework = student.get("framework") or {}
    rule = record.get("rule") or {}
    section(
        "Élève",
        ("champ", "valeur"),
        [
            ("élève", student.get("display_name")),
            ("code", student.get("code")),
            ("référentiel", framework_line(framework)),
            ("référentiel provisoire", bool(framework.get("provisional"))),
            *(
                [("avertissement", provisional_text(framework))]
                if framework.get("provisional")
                else []
            ),
            ("règle du niveau actuel", rule.get("label")),
        ],
    )
    competencies = record.get("competencies") or []
    section(
        "Niveaux",
        (
            "compétence",
            "intitulé",
            "niveau actuel",
            "niveau actuel (en mots)",
            "niveau calculé",
            "fixé à la main",
            "raison",
            "preuves",
            "vu",
        ),
        (
            (
                c.get("id"),
                c.get("title"),
                c.get("level"),
                level_words(c.get("level")),
                c.get("computed"),
                (c.get("override") or {}).get("level"),
                (c.get("override") or {}).get("reason"),
                c.get("evidence_count"),
                bool(c.get("seen")),
            )
            for c in competencies
        ),
    )
    section(
        "Historique",
        (
            "compétence",
            "date",
            "niveau",
            "niveau (en mots)",
            "pièce",
            "OF",
            "opération",
            "commentaire",
            "par",
            "ressenti de l'élève",
            "remplacée",
        ),
        (
            (
                c.get("id"),
                when(entry.get("at")),
                entry.get("level"),
                level_words(entry.get("level")),
                entry.get("piece"),
                entry.get("work_order"),
                entry.get("operation"),
                entry.get("comment"),
                entry.get("by"),
                entry.get("self"),
                bool(entry.get("superseded")),
            )
            for c in competencies
            for entry in c.get("history") or []
        ),
    )
    section("Non vu", ("compétence",), ((item,) for item in record.get("not_seen") or []))
    section(
        "Heures",
        ("type", "opération", "heures", "passages"),
        (
            (h.get("operation_type"), h.get("name"), float(h.get("hours") or 0), h.get("runs"))
            for h in record.get("hours") or []
        ),
    )
    section(
        "Soudage",
        (
            "procédé",
            "position",
            "soudures",
            "temps d'arc (s)",
            "part dans le DMOS (%)",
            "dernière soudure",
        ),
        (
            (
                w.get("process"),
                w.get("position"),
                w.get("welds"),
                float(w.get("arc_s") or 0),
                None if w.get("in_range_share") is None else 100 * float(w["in_range_share"]),
                when(w.get("last_weld_at")),
            )
            for w in record.get("welding") or []
        ),
    )
    section(
        "Qualification",
        ("procédé", "position", "dernière soudure", "valable jusqu'au", "état", "confirmations"),
        (
            (
                q.get("process"),
                q.get("position"),
                when(q.get("last_weld_at")),
                day(q.get("valid_until")),
                qualification_state(q),
                " | ".join(
                    f"{when(c.get('at'))} {c.get('by') or ''}".strip()
                    for c in q.get("confirmations") or []
                ),
            )
            for q in record.get("qualification") or []
        ),
    )
    return BOM + out.getvalue()
