"""``atelier``: the ``flask --app app`` program, in French from its very first line.

``flask --app app --help`` prints its usage line and Flask's own options before it imports
the application, so before Atelier can switch the catalog on: those first lines come out
in English whatever we do inside the app. This entry point switches French on first, then
runs the very same program (``flask.cli.cli``), with ``--app app`` as its default.
"""

from __future__ import annotations

import os

from flask.cli import cli as flask_cli

from app.i18n import catalog, commands


def main() -> None:
    """Run Atelier's command line (``atelier --help``), French from the start."""
    catalog.use_french()
    commands.apply_flask()
    os.environ.setdefault("FLASK_APP", "app")
    flask_cli.main(prog_name="atelier")
