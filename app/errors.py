"""Answer every error in French: HTML pages for people, JSON under ``/api/`` for devices.

Werkzeug's own error pages are English ("Not Found", "Internal Server Error"); nobody in the
workshop should ever see one. Every ``HTTPException`` (Flask-WTF's ``CSRFError`` included)
and every unexpected exception goes through :func:`http_error` or :func:`unexpected_error`,
which keep the status code and the headers the exception carries (``Allow`` on a 405,
``WWW-Authenticate`` on a 401, ``Retry-After`` on a 429 or 503).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from werkzeug.exceptions import HTTPException, InternalServerError

from app.api import error_response
from app.extensions import db

logger = logging.getLogger(__name__)

IF_IT_GOES_ON = "Si le problème continue, prévenez l'informaticien de l'école."
GENERIC_ADVICE = "Revenez en arrière et réessayez. " + IF_IT_GOES_ON
RETRY_ADVICE = "Réessayez dans un instant. " + IF_IT_GOES_ON


@dataclass(frozen=True)
class ErrorText:
    """What a person reads about one HTTP status: a title, what to do, the API's message."""

    title: str
    advice: str = GENERIC_ADVICE
    api_message: str | None = None

    @property
    def message(self) -> str:
        """Return the French message of the API's error body."""
        return self.api_message or f"{self.title}."


# Every status Werkzeug can raise has its French words (a test walks Werkzeug's list).
ERROR_TEXTS: dict[int, ErrorText] = {
    400: ErrorText(
        "Demande incorrecte",
        "Le navigateur a envoyé une demande que le serveur ne comprend pas. "
        "Revenez en arrière et réessayez.",
        "Requête invalide.",
    ),
    401: ErrorText(
        "Connexion nécessaire",
        "Connectez-vous pour voir cette page.",
        "Authentification requise.",
    ),
    403: ErrorText(
        "Accès refusé",
        "Votre compte ne permet pas d'ouvrir cette page. "
        "Si vous pensez que c'est une erreur, demandez à un administrateur.",
        "Accès refusé.",
    ),
    404: ErrorText(
        "Page introuvable",
        "Cette page n'existe pas, ou plus. "
        "Vérifiez l'adresse, ou repartez du tableau de l'atelier.",
        "Introuvable.",
    ),
    405: ErrorText(
        "Action impossible ici",
        "Cette adresse n'accepte pas ce genre de demande. Repartez du tableau de l'atelier.",
        "Méthode non autorisée.",
    ),
    406: ErrorText("Format de réponse indisponible"),
    408: ErrorText("Délai dépassé", "La demande a mis trop de temps à arriver. " + RETRY_ADVICE),
    409: ErrorText(
        "Conflit",
        "Cette action ne correspond plus à l'état actuel. Rechargez la page, puis réessayez.",
        "Conflit avec l'état actuel.",
    ),
    410: ErrorText("Page supprimée", "Cette page n'existe plus. Repartez du tableau de l'atelier."),
    411: ErrorText("Longueur de la demande manquante"),
    412: ErrorText("Condition préalable non remplie"),
    413: ErrorText(
        "Envoi trop volumineux",
        "Le fichier ou le formulaire envoyé est trop gros. Réessayez avec un fichier plus petit.",
        "Requête trop volumineuse.",
    ),
    414: ErrorText("Adresse trop longue"),
    415: ErrorText("Format de contenu non pris en charge"),
    416: ErrorText("Partie demandée indisponible"),
    417: ErrorText("Attente impossible à satisfaire"),
    418: ErrorText("Je suis une théière"),
    421: ErrorText("Demande adressée au mauvais serveur"),
    422: ErrorText("Demande impossible à traiter"),
    423: ErrorText("Ressource verrouillée"),
    424: ErrorText("Une demande préalable a échoué"),
    428: ErrorText("Condition préalable requise"),
    429: ErrorText(
        "Trop de demandes",
        "Trop de demandes en peu de temps. Attendez un instant, puis réessayez.",
        "Trop de requêtes : réessayez plus tard.",
    ),
    431: ErrorText("En-têtes de la demande trop volumineux"),
    451: ErrorText("Indisponible pour des raisons légales"),
    500: ErrorText(
        "Erreur du serveur",
        "Le serveur a rencontré un problème et n'a pas pu répondre. " + RETRY_ADVICE,
        "Erreur interne du serveur.",
    ),
    501: ErrorText("Fonction non disponible", RETRY_ADVICE),
    502: ErrorText("Serveur intermédiaire en panne", RETRY_ADVICE),
    503: ErrorText(
        "Service momentanément indisponible",
        "Le serveur est occupé ou en maintenance. " + RETRY_ADVICE,
        "Service indisponible : réessayez plus tard.",
    ),
    504: ErrorText("Le serveur a mis trop de temps à répondre", RETRY_ADVICE),
    505: ErrorText("Version du protocole HTTP non prise en charge"),
}
CLIENT_ERROR = ErrorText("La demande n'a pas abouti")
SERVER_ERROR = ERROR_TEXTS[500]
EXPIRED_FORM = ErrorText(
    "Formulaire expiré",
    "Ce formulaire a expiré (ou il a été ouvert dans un autre onglet). "
    "Rechargez la page, puis recommencez.",
    "Le formulaire a expiré : rechargez la page et recommencez.",
)


def error_text(status: int) -> ErrorText:
    """Return the French words for an HTTP status, known or not."""
    if status in ERROR_TEXTS:
        return ERROR_TEXTS[status]
    return SERVER_ERROR if status >= 500 else CLIENT_ERROR


def register(app: Flask) -> None:
    """Answer HTTP errors and unexpected exceptions in French, pages and API alike."""
    app.register_error_handler(CSRFError, http_error)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected_error)


def http_error(exc: HTTPException) -> Any:
    """Answer an HTTP error: JSON under /api/, a French page elsewhere, same status and headers."""
    if exc.response is not None:  # the code that raised it built its own answer
        return exc.response
    status = exc.code or 500
    text = EXPIRED_FORM if isinstance(exc, CSRFError) else error_text(status)
    # Werkzeug knows the headers that go with the status (Allow, WWW-Authenticate,
    # Retry-After…); only its Content-Type is for its own HTML page.
    headers = [
        (name, value)
        for name, value in exc.get_headers(request.environ)
        if name.lower() != "content-type"
    ]
    if _wants_json():
        code = "csrf_failed" if isinstance(exc, CSRFError) else _code_of(exc)
        body, _status = error_response(status, code, text.message)
        body.headers.extend(headers)
        return body, status
    response = _error_page(status, text, isinstance(exc, CSRFError))
    response.headers.extend(headers)
    return response


def unexpected_error(exc: Exception) -> Any:
    """Log an unexpected exception's traceback and answer the French 500 (page or JSON)."""
    if isinstance(exc, HTTPException):
        return http_error(exc)
    if current_app.debug:
        raise exc  # a developer's machine: let Werkzeug's debugger show it
    logger.error("unexpected error on %s %s", request.method, request.path, exc_info=exc)
    try:
        db.session.rollback()  # the failed request may have left the session unusable
    except Exception:
        logger.exception("rollback after an unexpected error failed")
    return http_error(InternalServerError(original_exception=exc))


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _code_of(exc: HTTPException) -> str:
    return exc.name.lower().replace(" ", "_")


def _error_page(status: int, text: ErrorText, expired_form: bool) -> Response:
    try:
        actions = _actions(status, expired_form)
        html = render_template("errors/error.html", status=status, text=text, actions=actions)
    except Exception:
        # The page itself failed (the database behind current_user is down, say): a bare
        # French page still beats Werkzeug's English one.
        logger.exception("the error page for status %d failed to render", status)
        html = _bare_page(status, text)
    return Response(html, status=status, mimetype="text/html")


def _actions(status: int, expired_form: bool) -> list[tuple[str, str]]:
    """Return the links the page offers, as (label, URL), the main one first."""
    home = ("Retour au tableau de l'atelier", url_for("board.index"))
    if expired_form:
        back = _same_site_referrer()
        return [("Recharger le formulaire", back), home] if back else [home]
    if status == 401:
        here = request.full_path if request.query_string else request.path
        return [("Se connecter", url_for("auth.login", next=here)), home]
    return [home]


def _same_site_referrer() -> str | None:
    """Return the page the form came from, if it is one of ours (never another site)."""
    referrer = request.referrer
    if not referrer:
        return None
    parts = urlsplit(referrer)
    if parts.netloc != request.host or not parts.path.startswith("/"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _bare_page(status: int, text: ErrorText) -> str:
    return (
        '<!doctype html><html lang="fr"><head><meta charset="utf-8">'
        f"<title>{escape(text.title)} — Atelier</title></head><body>"
        f"<p>Erreur {status}</p><h1>{escape(text.title)}</h1><p>{escape(text.advice)}</p>"
        '<p><a href="/">Retour au tableau de l\'atelier</a></p></body></html>'
    )
