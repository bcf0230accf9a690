"""The office's work orders: routing templates, orders and their routing, and who makes what.

Each handler checks its input before it writes and refuses in French. A routing is
checked as the school file checks it (``app.data.schema._work_orders``): steps 1..99,
unique, of known operation types, a WPS known and of the type's welding process when the
type has one. An order's routing changes only while no piece of it has started (no run on
any of its operations): what was made stays tied to the step it was made under.

An assignment needs the student to hold, on the workshop's local day, what the operation
would need at the kiosk: the operation type's habilitations, and those of at least one
station of the type's ``station_kind`` (the scan checks the station it is made at; the
office does not know which one yet, so one station the student may use is enough).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select, update

from app.ingest.core import Done, Refusal, Scope, handles
from app.ingest.office_events import (
    AssignOperation,
    CreateWorkOrder,
    EditWorkOrder,
    SaveRoutingTemplate,
    SetWorkOrderStatus,
    StepInput,
)
from app.models import (
    WORK_ORDER_STATUSES,
    Assignment,
    Customer,
    Habilitation,
    Operation,
    OperationRun,
    OperationType,
    RoutingTemplate,
    RoutingTemplateStep,
    Station,
    StationContext,
    Student,
    StudentHabilitation,
    WorkOrder,
    Wps,
    table_of,
)
from app.models.habilitations import operation_type_requirements, station_requirements
from app.read.board import workshop_timezone
from labels.codes import OPERATION_PATTERN, WORK_ORDER_PATTERN

MAX_QUANTITY = 10000
STEP_RANGE = (1, 99)
# A due date further than this from today is a typing error (2062 for 2026).
DUE_YEARS = 5
TEMPLATE_CODE_MAX = 40
STATUS_WORDS = {"open": "rouvert", "closed": "clôturé", "cancelled": "annulé"}
ALREADY_WORDS = {"open": "ouvert", "closed": "clôturé", "cancelled": "annulé"}
STARTED = "une pièce de cet OF est déjà commencée : la gamme ne change plus"

ASSIGNMENTS = table_of(Assignment)


@dataclass(frozen=True)
class Step:
    """A checked routing step: its number, operation type id and WPS id."""

    step: int
    type_id: int
    wps_id: int | None


def local_day(scope: Scope) -> date:
    """Return the workshop's local date of the input (habilitations hold through a day)."""
    return scope.now.astimezone(workshop_timezone(scope.settings.timezone)).date()


def _text(value: str | None, label: str, max_len: int, *, required: bool = True) -> str | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise Refusal("invalid", f"{label} : champ obligatoire.", f"empty {label}")
        return None
    if len(text) > max_len or not text.isprintable():
        raise Refusal(
            "invalid",
            f"{label} : {max_len} caractères au plus, sans caractère de contrôle.",
            f"bad {label}",
        )
    return text


def check_steps(scope: Scope, steps: tuple[StepInput, ...]) -> list[Step]:
    """Check a routing as the school file does; return its steps with their ids."""
    types = {
        row.code: row
        for row in scope.session.execute(
            select(OperationType.id, OperationType.code, OperationType.process).where(
                OperationType.site_id == scope.site_id
            )
        )
    }
    wps = {
        row.code: row
        for row in scope.session.execute(
            select(Wps.id, Wps.code, Wps.process).where(Wps.site_id == scope.site_id)
        )
    }
    seen: set[int] = set()
    checked = []
    for item in sorted(steps, key=lambda s: s.step):
        if not STEP_RANGE[0] <= item.step <= STEP_RANGE[1]:
            raise Refusal(
                "invalid",
                f"Étape {item.step} : un numéro d'étape va de 1 à 99.",
                f"step {item.step} out of range",
            )
        if item.step in seen:
            raise Refusal(
                "invalid",
                f"L'étape {item.step} apparaît deux fois dans la gamme.",
                f"duplicate step {item.step}",
            )
        seen.add(item.step)
        kind = types.get(item.type)
        if kind is None:
            raise Refusal(
                "invalid",
                f"Étape {item.step} : type d'opération « {item.type} » inconnu.",
                f"unknown operation type {item.type!r}",
            )
        wps_id = None
        if item.wps:
            found = wps.get(item.wps)
            if found is None:
                raise Refusal(
                    "invalid",
                    f"Étape {item.step} : DMOS « {item.wps} » inconnu.",
                    f"unknown WPS {item.wps!r}",
                )
            if kind.process is not None and found.process != kind.process:
                raise Refusal(
                    "invalid",
                    f"Étape {item.step} : le DMOS {item.wps} est pour le procédé "
                    f"{found.process}, l'opération {item.type} pour le procédé {kind.process}.",
                    f"WPS {item.wps} process {found.process} for type {item.type}",
                )
            wps_id = found.id
        checked.append(Step(item.step, kind.id, wps_id))
    return checked


# -- routing templates -------------------------------------------------------------------------


@handles(SaveRoutingTemplate, atomic=True)
def save_template(scope: Scope, saved: SaveRoutingTemplate) -> Done:
    """Create or change a routing template (orders made from it earlier keep their routing)."""
    code = _text(saved.code, "Code", TEMPLATE_CODE_MAX)
    assert code is not None
    if not all(c.isalnum() or c in "-_" for c in code):
        raise Refusal(
            "invalid",
            "Code : lettres, chiffres, « - » et « _ » seulement.",
            f"bad template code {code!r}",
        )
    name = _text(saved.name, "Nom", 150)
    product = _text(saved.product, "Produit", 150, required=False)
    steps = check_steps(scope, saved.steps)
    if not steps:
        raise Refusal("invalid", "La gamme doit avoir au moins une étape.", "no step")
    session = scope.session
    template = session.execute(
        select(RoutingTemplate).where(
            RoutingTemplate.site_id == scope.site_id, RoutingTemplate.code == code
        )
    ).scalar_one_or_none()
    created = template is None
    if template is None:
        template = RoutingTemplate(site_id=scope.site_id, code=code)
        session.add(template)
    template.name = name or code
    template.product = product
    template.active = saved.active
    template.steps.clear()
    session.flush()
    for step in steps:
        template.steps.append(
            RoutingTemplateStep(step=step.step, operation_type_id=step.type_id, wps_id=step.wps_id)
        )
    session.flush()
    scope.wrote = True
    verb = "créée" if created else "enregistrée"
    return Done(f"Gamme {code} {verb}.", {"template": code})


# -- work orders ---------------------------------------------------------------------------


def _customer(scope: Scope, code: str) -> int:
    found = scope.session.execute(
        select(Customer.id).where(Customer.site_id == scope.site_id, Customer.code == code)
    ).scalar()
    if found is None:
        raise Refusal("invalid", f"Client « {code} » inconnu.", f"unknown customer {code!r}")
    return int(found)


def _order(scope: Scope, number: str) -> WorkOrder:
    order = scope.session.execute(
        select(WorkOrder).where(WorkOrder.site_id == scope.site_id, WorkOrder.number == number)
    ).scalar_one_or_none()
    if order is None:
        raise Refusal("not_found", f"OF {number} inconnu.", f"unknown work order {number!r}")
    return order


def _header(
    scope: Scope,
    *,
    customer: str,
    product: str,
    quantity: int,
    due_on: date | None,
    drawing: str | None,
) -> dict[str, Any]:
    """Check an order's header; return its columns."""
    customer_id = _customer(scope, customer)
    name = _text(product, "Produit", 150)
    if not 1 <= quantity <= MAX_QUANTITY:
        raise Refusal(
            "invalid",
            f"Quantité : de 1 à {MAX_QUANTITY}.",
            f"quantity {quantity} out of range",
        )
    if due_on is not None:
        today = local_day(scope)
        if (
            not today - timedelta(days=365 * DUE_YEARS)
            <= due_on
            <= today + timedelta(days=365 * DUE_YEARS)
        ):
            raise Refusal(
                "invalid",
                f"Date de livraison : à moins de {DUE_YEARS} ans d'aujourd'hui.",
                f"due date {due_on} out of range",
            )
    return {
        "customer_id": customer_id,
        "product": name,
        "quantity": quantity,
        "due_on": due_on,
        "drawing": _text(drawing, "Plan", 100, required=False),
    }


def next_number(scope: Scope, year: int) -> str:
    """Return the year's next free work order number, ``OF-YYYY-NNNN``."""
    numbers = scope.session.execute(
        select(WorkOrder.number).where(
            WorkOrder.site_id == scope.site_id, WorkOrder.number.like(f"OF-{year}-%")
        )
    ).scalars()
    used = [
        int(match.group(2))
        for number in numbers
        if (match := WORK_ORDER_PATTERN.fullmatch(number)) is not None
    ]
    serial = max(used, default=0) + 1
    if serial > 9999:
        raise Refusal(
            "invalid",
            f"Plus de numéro d'OF libre pour {year} : donnez-en un.",
            f"no free number in {year}",
        )
    return f"OF-{year}-{serial:04d}"


def _routing_of(scope: Scope, order_id: int) -> list[Step]:
    return [
        Step(row.step, row.operation_type_id, row.wps_id)
        for row in scope.session.execute(
            select(Operation.step, Operation.operation_type_id, Operation.wps_id)
            .where(Operation.work_order_id == order_id)
            .order_by(Operation.step)
        )
    ]


@handles(CreateWorkOrder, atomic=True)
def create_work_order(scope: Scope, asked: CreateWorkOrder) -> Done:
    """Create a work order, its routing from a template, an earlier order or the steps given."""
    session = scope.session
    product = asked.product
    drawing = asked.drawing
    made_from: str | None = None
    if sum(bool(x) for x in (asked.template, asked.copy_of, asked.steps)) > 1:
        raise Refusal(
            "invalid",
            "Gamme : choisissez un modèle, un OF à copier ou des étapes, pas plusieurs.",
            "several routing sources",
        )
    if asked.template:
        template = session.execute(
            select(RoutingTemplate).where(
                RoutingTemplate.site_id == scope.site_id, RoutingTemplate.code == asked.template
            )
        ).scalar_one_or_none()
        if template is None:
            raise Refusal("invalid", f"Gamme « {asked.template} » inconnue.", "unknown template")
        steps = [Step(s.step, s.operation_type_id, s.wps_id) for s in template.steps]
        product = product or (template.product or "")
        made_from = template.code
    elif asked.copy_of:
        source = session.execute(
            select(WorkOrder).where(
                WorkOrder.site_id == scope.site_id, WorkOrder.number == asked.copy_of
            )
        ).scalar_one_or_none()
        if source is None:
            raise Refusal(
                "invalid", f"OF à copier « {asked.copy_of} » inconnu.", "unknown order to copy"
            )
        steps = _routing_of(scope, source.id)
        product = product or source.product
        drawing = drawing or source.drawing
        made_from = source.number
    else:
        steps = check_steps(scope, asked.steps)
    if not steps:
        raise Refusal("invalid", "La gamme doit avoir au moins une étape.", "no step")
    header = _header(
        scope,
        customer=asked.customer,
        product=product,
        quantity=asked.quantity,
        due_on=asked.due_on,
        drawing=drawing,
    )
    if asked.number:
        number = asked.number.strip()
        if not WORK_ORDER_PATTERN.fullmatch(number):
            raise Refusal(
                "invalid",
                f"Numéro « {number[:20]} » : attendu OF-AAAA-NNNN.",
                "bad work order number",
            )
        taken = session.execute(
            select(WorkOrder.id).where(
                WorkOrder.site_id == scope.site_id, WorkOrder.number == number
            )
        ).scalar()
        if taken is not None:
            raise Refusal(
                "conflict", f"Le numéro {number} est déjà pris.", f"number {number} taken"
            )
    else:
        number = next_number(scope, local_day(scope).year)
    order = WorkOrder(
        site_id=scope.site_id,
        number=number,
        status="open",
        created_at=scope.now,
        made_from=made_from,
        **header,
    )
    session.add(order)
    session.flush()
    for step in steps:
        session.add(
            Operation(
                work_order_id=order.id,
                step=step.step,
                operation_type_id=step.type_id,
                wps_id=step.wps_id,
            )
        )
    session.flush()
    scope.wrote = True
    count = len(steps)
    return Done(f"{number} créé ({count} étape{'s' if count > 1 else ''}).", {"number": number})


def _started(scope: Scope, order_id: int) -> bool:
    """Tell whether a piece of the order has started (a run on one of its operations)."""
    found = scope.session.execute(
        select(OperationRun.id)
        .join(Operation, Operation.id == OperationRun.operation_id)
        .where(Operation.work_order_id == order_id)
        .limit(1)
    ).first()
    return found is not None


def _same_routing(current: list[Step], wanted: list[Step]) -> bool:
    return current == wanted


@handles(EditWorkOrder, atomic=True)
def edit_work_order(scope: Scope, edit: EditWorkOrder) -> Done:
    """Change an open order's header and, while none of its pieces has started, its routing."""
    order = _order(scope, edit.number)
    if order.status != "open":
        raise Refusal(
            "not_allowed",
            f"L'OF {order.number} est {STATUS_WORDS[order.status]} : rouvrez-le pour le modifier.",
            f"work order {order.number} is {order.status}",
        )
    header = _header(
        scope,
        customer=edit.customer,
        product=edit.product,
        quantity=edit.quantity,
        due_on=edit.due_on,
        drawing=edit.drawing,
    )
    new_steps: list[Step] | None = None
    if edit.steps is not None:
        wanted = check_steps(scope, edit.steps)
        if not wanted:
            raise Refusal("invalid", "La gamme doit avoir au moins une étape.", "no step")
        current = _routing_of(scope, order.id)
        if not _same_routing(current, wanted):
            if _started(scope, order.id):
                raise Refusal(
                    "not_allowed",
                    f"{STARTED[0].upper()}{STARTED[1:]}.",
                    f"work order {order.number} has runs",
                )
            new_steps = wanted
    session = scope.session
    for key, value in header.items():
        setattr(order, key, value)
    if new_steps is not None:
        by_step = {
            op.step: op
            for op in session.execute(
                select(Operation).where(Operation.work_order_id == order.id)
            ).scalars()
        }
        wanted_steps = {s.step for s in new_steps}
        gone = [op.id for step, op in by_step.items() if step not in wanted_steps]
        scanned = session.execute(
            select(StationContext.id).where(StationContext.operation_id.in_(gone)).limit(1)
        ).first()
        if gone and scanned is not None:
            # A station's history names the step: it stays, the routing with it.
            raise Refusal(
                "not_allowed",
                "Une étape retirée a déjà été scannée à un poste : gardez-la dans la gamme.",
                f"work order {order.number}: removed step in a station context",
            )
        if gone:
            # Assignments of a step taken out of the routing go with it.
            session.execute(ASSIGNMENTS.delete().where(ASSIGNMENTS.c.operation_id.in_(gone)))
            for number, old in list(by_step.items()):
                if number not in wanted_steps:
                    session.delete(old)
            session.flush()
        for step in new_steps:
            op = by_step.get(step.step)
            if op is None:
                session.add(
                    Operation(
                        work_order_id=order.id,
                        step=step.step,
                        operation_type_id=step.type_id,
                        wps_id=step.wps_id,
                    )
                )
            else:
                op.operation_type_id = step.type_id
                op.wps_id = step.wps_id
    session.flush()
    scope.wrote = True
    what = " et sa gamme" if new_steps is not None else ""
    return Done(f"OF {order.number}{what} enregistré.", {"number": order.number})


def _end_assignments(scope: Scope, order_id: int) -> int:
    """End the open assignments of an order's operations; return how many."""
    result = scope.write(
        update(ASSIGNMENTS)
        .where(
            ASSIGNMENTS.c.ended_at.is_(None),
            ASSIGNMENTS.c.operation_id.in_(
                select(Operation.id).where(Operation.work_order_id == order_id)
            ),
        )
        .values(ended_at=scope.now, ended_event_id=scope.event_id)
    )
    return int(result.rowcount or 0)


@handles(SetWorkOrderStatus, atomic=True)
def set_status(scope: Scope, change: SetWorkOrderStatus) -> Done:
    """Close, cancel or reopen an order; closing or cancelling ends its assignments."""
    if change.status not in WORK_ORDER_STATUSES:
        raise Refusal(
            "invalid",
            f"Statut inconnu : {change.status[:20]} (open, closed, cancelled).",
            "bad status",
        )
    order = _order(scope, change.number)
    if order.status == change.status:
        return Done(
            f"L'OF {order.number} est déjà {ALREADY_WORDS[change.status]}.",
            {"number": order.number, "status": order.status},
        )
    order.status = change.status
    order.closed_at = None if change.status == "open" else scope.now
    scope.session.flush()
    scope.wrote = True
    ended = 0 if change.status == "open" else _end_assignments(scope, order.id)
    message = f"OF {order.number} {STATUS_WORDS[change.status]}."
    if ended:
        message += (
            f" {ended} affectation{'s' if ended > 1 else ''} terminée{'s' if ended > 1 else ''}."
        )
    return Done(message, {"number": order.number, "status": order.status, "ended": ended})


# -- assignments -----------------------------------------------------------------------------


def missing_habilitations(
    scope: Scope, student_id: int, type_id: int, station_kind: str | None, day: date
) -> list[str]:
    """Return the names of the habilitations a student lacks for an operation type today.

    The type's own, plus those of the station of its kind the student lacks the fewest of
    (no station of that kind: the type's alone).
    """
    held = set()
    for row in scope.session.execute(
        select(
            StudentHabilitation.habilitation_id,
            StudentHabilitation.until,
            StudentHabilitation.medical_until,
            Habilitation.derogation_until,
        )
        .join(Habilitation, Habilitation.id == StudentHabilitation.habilitation_id)
        .where(StudentHabilitation.student_id == student_id, StudentHabilitation.ended_at.is_(None))
    ):
        if row.until is not None and all(
            limit is None or limit >= day
            for limit in (row.until, row.medical_until, row.derogation_until)
        ):
            held.add(row.habilitation_id)
    names = dict(
        scope.session.execute(
            select(Habilitation.id, Habilitation.name).where(Habilitation.site_id == scope.site_id)
        ).all()
    )
    type_needs = set(
        scope.session.execute(
            select(operation_type_requirements.c.habilitation_id).where(
                operation_type_requirements.c.operation_type_id == type_id
            )
        ).scalars()
    )
    missing = type_needs - held
    if station_kind:
        stations: dict[int, set[int]] = {
            row: set()
            for row in scope.session.execute(
                select(Station.id).where(
                    Station.site_id == scope.site_id, Station.kind == station_kind
                )
            ).scalars()
        }
        if stations:
            for station_id, habilitation_id in scope.session.execute(
                select(
                    station_requirements.c.station_id, station_requirements.c.habilitation_id
                ).where(station_requirements.c.station_id.in_(list(stations)))
            ):
                stations[station_id].add(habilitation_id)
            missing |= min((needs - held for needs in stations.values()), key=len)
    return sorted(names[h] for h in missing)


@handles(AssignOperation, atomic=True)
def assign(scope: Scope, given: AssignOperation) -> Done:
    """Give an operation of an open order to a student, or take it back (``remove``)."""
    match = OPERATION_PATTERN.fullmatch(given.operation_code or "")
    if match is None:
        raise Refusal(
            "invalid",
            f"Opération « {given.operation_code[:20]} » : attendu OF-AAAA-NNNN-SS.",
            "bad operation code",
        )
    number = f"OF-{match.group(1)}-{match.group(2)}"
    step = int(match.group(3))
    session = scope.session
    student = session.execute(
        select(Student).where(Student.site_id == scope.site_id, Student.code == given.student_code)
    ).scalar_one_or_none()
    if student is None or student.erased_at is not None:
        raise Refusal("invalid", f"Élève {given.student_code[:40]} inconnu.", "unknown student")
    scope.columns["student_id"] = student.id
    row = session.execute(
        select(
            Operation.id,
            Operation.operation_type_id,
            WorkOrder.status,
            OperationType.name,
            OperationType.station_kind,
        )
        .join(WorkOrder, WorkOrder.id == Operation.work_order_id)
        .join(OperationType, OperationType.id == Operation.operation_type_id)
        .where(
            WorkOrder.site_id == scope.site_id,
            WorkOrder.number == number,
            Operation.step == step,
        )
    ).first()
    if row is None:
        raise Refusal(
            "not_found",
            f"Opération {given.operation_code} inconnue.",
            "unknown operation",
        )
    who = student.name
    if given.remove:
        ended = scope.write(
            update(ASSIGNMENTS)
            .where(
                ASSIGNMENTS.c.operation_id == row.id,
                ASSIGNMENTS.c.student_id == student.id,
                ASSIGNMENTS.c.ended_at.is_(None),
            )
            .values(ended_at=scope.now, ended_event_id=scope.event_id)
        ).rowcount
        if not ended:
            return Done(
                f"{who} n'avait pas l'opération {given.operation_code}.",
                {"operation": given.operation_code, "student": student.code, "changed": False},
            )
        return Done(
            f"Opération {given.operation_code} retirée à {who}.",
            {"operation": given.operation_code, "student": student.code, "changed": True},
        )
    if row.status != "open":
        raise Refusal(
            "not_allowed",
            f"L'OF {number} est {STATUS_WORDS[row.status]} : on n'y confie plus d'opération.",
            f"work order {number} is {row.status}",
        )
    if not student.active or (student.left_on is not None and student.left_on < local_day(scope)):
        raise Refusal(
            "not_allowed",
            f"{who} n'est plus à l'atelier.",
            "student inactive or left",
        )
    missing = missing_habilitations(
        scope, student.id, row.operation_type_id, row.station_kind, local_day(scope)
    )
    if missing:
        listed = ", ".join(f"« {name} »" for name in missing)
        raise Refusal(
            "not_habilitated",
            f"{who} n'a pas l'habilitation {listed} valide aujourd'hui : "
            f"impossible de lui confier {row.name}.",
            f"student {student.id} lacks {missing}",
        )
    already = session.execute(
        select(func.count())
        .select_from(ASSIGNMENTS)
        .where(
            ASSIGNMENTS.c.operation_id == row.id,
            ASSIGNMENTS.c.student_id == student.id,
            ASSIGNMENTS.c.ended_at.is_(None),
        )
    ).scalar()
    if already:
        return Done(
            f"{who} a déjà l'opération {given.operation_code}.",
            {"operation": given.operation_code, "student": student.code, "changed": False},
        )
    scope.write(
        ASSIGNMENTS.insert().values(
            site_id=scope.site_id,
            operation_id=row.id,
            student_id=student.id,
            assigned_at=scope.now,
            event_id=scope.event_id,
        )
    )
    return Done(
        f"Opération {given.operation_code} ({row.name}) confiée à {who}.",
        {"operation": given.operation_code, "student": student.code, "changed": True},
    )
