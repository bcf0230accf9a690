"""The workshop board: the read-only wall screen of the workshop, and the home page.

Access is a deliberate choice. The board runs on a TV in the workshop, which no one signs
into, so by default it is public to whoever reaches the server on the school LAN. It is
built to make that acceptable: it shows students only by their short name (« Lucas M. »,
shortened again here whatever the school typed), and nothing else about them — no
pseudonymous id, badge, framework or assessment — and no token or database id. Nor does
it show, to anyone but the site's signed-in staff, a name beside any quality data: a weld's
WPS verdict shows without its welders and a welding station's card counts its students
instead of naming them (``app.read.board``); the live part obeys the same rule. A school
that exposes the server beyond its LAN sets ``ATELIER_BOARD_LOGIN_REQUIRED``: the board then
needs a signed-in staff member, as the teacher pages do.

Welding stations come first, as wide cards (arc, device, last WPS verdict); busy stations
follow; idle ones are one line of names; kiosks are left out, since what is scanned on a
kiosk shows on the station it acts for.

Each site has its board at ``/tableau/<site>``; ``/`` shows the signed-in staff member's
site, or the only site, or lets the viewer choose when the database holds several schools.

The page refreshes itself: ``static/board.js`` polls the board's ``…/direct`` every few seconds,
which answers the same HTML fragment the page was rendered with (one template, no second
rendering in JavaScript), and swaps in only the parts that changed. Without JavaScript, a
``<noscript>`` meta refresh reloads the whole page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template, url_for
from flask_login import current_user

from app.extensions import db, login_manager
from app.read.board import board_snapshot, workshop_timezone
from app.read.sites import all_sites, site_by_code
from app.read.wording import fr_number, local_date, local_hhmm, local_when

bp = Blueprint("board", __name__)

# How often the page asks for fresh data, and when it calls its data stale.
POLL_INTERVAL_MS = 2500
STALE_AFTER_S = 10
NOSCRIPT_REFRESH_S = 10
# Shown in full on the board; more are summed up as « + N autres ».
FINISHED_SHOWN = 6
TRUE_WORDS = frozenset({"1", "true", "yes", "on", "oui"})


def login_required_for_board() -> bool:
    """Tell whether the school configured the board to need a signed-in staff member."""
    value = current_app.config.get("ATELIER_BOARD_LOGIN_REQUIRED")
    if isinstance(value, str):
        return value.strip().lower() in TRUE_WORDS
    return bool(value)


def _signed_in() -> bool:
    return bool(current_user.is_authenticated and current_user.is_active)


def _no_store(response: Response) -> Response:
    # A live view: a cached copy would be stale data passed off as current.
    response.headers["Cache-Control"] = "no-store"
    return response


def _site(code: str | None) -> dict[str, Any] | None:
    """Return the site a board shows: the one named, the staff member's, or the only one."""
    if code is not None:
        site = site_by_code(db.session(), code)
        if site is None:
            abort(404)
        return site
    if _signed_in():
        return next(s for s in all_sites(db.session()) if s["id"] == current_user.site_id)
    sites = all_sites(db.session())
    return sites[0] if len(sites) == 1 else None


def _render(template: str, code: str | None) -> Response:
    site = _site(code)
    sites = all_sites(db.session()) if site is None else []
    if site is None and sites and template == "board/_live.html":
        abort(404)
    if site is None and sites:
        html = render_template("board/sites.html", sites=sites)
        return _no_store(Response(html, mimetype="text/html"))
    zone = workshop_timezone(current_app.config.get("ATELIER_TIMEZONE"))
    # Names beside verdicts for the site's own signed-in staff only.
    staff = site is not None and _signed_in() and current_user.site_id == site["id"]
    snapshot = board_snapshot(
        db.session(), site["id"] if site is not None else 0, zone=zone, staff=staff
    )
    feed = url_for("board.live", site=code) if code else url_for("board.live")
    html = render_template(
        template,
        board=snapshot,
        site=site,
        feed_url=feed,
        hhmm=lambda moment: local_hhmm(moment, zone),
        when=lambda moment: local_when(moment, snapshot["generated_at"], zone),
        num=fr_number,
        today=local_date(snapshot["generated_at"], zone),
        finished_shown=FINISHED_SHOWN,
        poll_interval_ms=POLL_INTERVAL_MS,
        stale_after_s=STALE_AFTER_S,
        noscript_refresh_s=NOSCRIPT_REFRESH_S,
        timezone_name=str(zone),
    )
    return _no_store(Response(html, mimetype="text/html"))


@bp.get("/")
@bp.get("/tableau/<site>")
def index(site: str | None = None) -> Any:
    """Show the whole workshop on one screen, readable from across the room."""
    if login_required_for_board() and not _signed_in():
        return login_manager.unauthorized()
    return _render("board/index.html", site)


@bp.get("/tableau/direct")
@bp.get("/tableau/<site>/direct")
def live(site: str | None = None) -> Any:
    """Answer the board's live part alone, for the page to refresh itself with."""
    if login_required_for_board() and not _signed_in():
        # Not a redirect: the page's script must see it and say the session has ended.
        return _no_store(Response("Connexion requise.", status=401, mimetype="text/plain"))
    return _render("board/_live.html", site)
