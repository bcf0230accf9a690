"""Click's own words in French: "Utilisation :", "Erreur :", "Afficher ce message et quitter."

Why it is done this way: Click marks every word it prints with the standard library's
``gettext.gettext`` (``from gettext import gettext as _`` in each of its modules), which
looks the message up, at the moment it is printed, in the current text domain for the
languages named by ``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES`` and ``LANG``. That is the
mechanism Click documents and keeps, so we use it as is rather than patch Click's
functions: our French catalog (``locale/fr/LC_MESSAGES/atelier.po``, compiled with Babel
into the ``.mo`` next to it by ``make locale``; the ``.mo`` is committed so running
Atelier needs no Babel) is bound to our own text domain, that domain is made current, and
French is put first in ``LANGUAGE``, the variable gettext reads before the locale's, so
that the CLI speaks French whatever the machine's locale (``LANG=C`` on a bare server,
``en_US.UTF-8`` on a laptop). ``LANGUAGE`` only chooses message catalogs: it changes no
number, date or encoding, and the processes Atelier starts inherit French, as they should.
"""

from __future__ import annotations

import gettext
import os
from pathlib import Path

DOMAIN = "atelier"
LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGE = "fr"


def N_(message: str) -> str:  # noqa: N802  (gettext's name for "mark, translate later")
    """Mark a message for the catalog without translating it here (see RUNTIME_MESSAGES)."""
    return message


# Words Click translates from a variable (``_(extra["required"])``), which no extractor can
# find in its source: listed here so that ``make locale-update`` keeps them in the catalog.
RUNTIME_MESSAGES = (N_("required"),)


def use_french() -> None:
    """Make every gettext lookup in this process, Click's included, answer from our catalog."""
    gettext.bindtextdomain(DOMAIN, str(LOCALE_DIR))
    gettext.textdomain(DOMAIN)
    wanted = os.environ.get("LANGUAGE", "")
    if wanted.split(":")[0] != LANGUAGE:
        os.environ["LANGUAGE"] = f"{LANGUAGE}:{wanted}" if wanted else LANGUAGE
