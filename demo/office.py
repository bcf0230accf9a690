"""The demo's routing templates, so that the office can make a work order from one at once.

The school file has no routing templates: an administrator makes them on the office's
page « Gammes » (/bureau/gammes). The demo gives three, each the routing of one of the
demo school's work orders, through the same input as that page (``SaveRoutingTemplate``,
from the command line). Each is keyed by its code: the demo's next start sends it again
and the core answers « duplicate » — a template the administrator changed stays changed.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml
from flask import Flask

from app.boundary import cli_origin, digest, submit
from app.extensions import db
from app.ingest.office_events import SaveRoutingTemplate, StepInput
from app.read.sites import site_by_code

# (code, name, the demo school's work order whose routing it copies)
TEMPLATES = (
    ("GAM-CONSOLE", "Console murale pliée (3 étapes)", "OF-2026-0002"),
    ("GAM-BAC", "Bac de rétention soudé (8 étapes)", "OF-2026-0005"),
    ("GAM-PORTILLON", "Portillon métallique (9 étapes)", "OF-2026-0008"),
)


def template_inputs(school: dict[str, Any]) -> list[SaveRoutingTemplate]:
    """Return the demo's templates as the office's inputs, from the school file's orders."""
    orders = {order["number"]: order for order in school["work_orders"]}
    inputs = []
    for code, name, number in TEMPLATES:
        order = orders[number]
        steps = tuple(
            StepInput(int(op["step"]), str(op["type"]), op.get("wps")) for op in order["operations"]
        )
        inputs.append(SaveRoutingTemplate(code, name, str(order["product"]), steps))
    return inputs


def seed_templates(app: Flask, school_file: Path) -> tuple[int, list[str]]:
    """Send the demo's templates once; return how many are new and the refusals (French)."""
    school = yaml.safe_load(school_file.read_text(encoding="utf-8"))
    created, refused = 0, []
    with app.app_context():
        site = site_by_code(db.session(), str(school["site"]))
        if site is None:
            return 0, [f"site {school['site']} introuvable"]
        for event in template_inputs(school):
            origin = replace(
                cli_origin(site["id"]),
                key=f"demo-template:{event.code}",
                body_sha256=digest(event.payload()),
            )
            outcome = submit(origin, event)
            if not outcome.accepted:
                error = outcome.body.get("error") or {}
                refused.append(f"{event.code} : {error.get('message') or outcome.body}")
            elif outcome.status != "duplicate":
                created += 1
        db.session.remove()
    return created, refused
