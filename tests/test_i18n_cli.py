"""The command line speaks French: Click's words, every command's help, the errors."""

from __future__ import annotations

import gettext
import os
import re
import string
import subprocess
import sys
from io import BytesIO
from pathlib import Path

import click
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask
from flask.cli import cli as flask_cli
from flask.testing import FlaskCliRunner

from app.i18n import catalog, commands

ROOT = Path(__file__).resolve().parents[1]
PO_FILE = catalog.LOCALE_DIR / "fr" / "LC_MESSAGES" / "atelier.po"
MO_FILE = PO_FILE.with_suffix(".mo")
FLASK_PROGRAM = Path(sys.executable).parent / "flask"
ATELIER_PROGRAM = Path(sys.executable).parent / "atelier"

# Click's and Flask's English, as a person would read it; none of it may show.
ENGLISH = [
    "Usage:",
    "Options",
    "[OPTIONS]",
    "Show this message",
    "Error:",
    "Commands:",
    "Missing argument",
    "No such command",
    "Invalid value for",
    "for help.",
    "Try '",
    "default:",
    "required]",
]
ENGLISH_VALUE_NAMES = re.compile(
    r"\b(COMMAND|ARGS|TEXT|INTEGER|FILE|PATH|DIRECTORY|IMPORT|BOOLEAN)\b"
)


def _assert_french(output: str) -> None:
    for words in ENGLISH:
        assert words not in output, f"{words!r} in:\n{output}"
    assert not ENGLISH_VALUE_NAMES.search(output), output


def _assert_french_help(output: str) -> None:
    _assert_french(output)
    assert output.startswith("Utilisation : ")
    assert "Paramètres :" in output and "--help" in output
    assert "Afficher ce message et quitter." in output


def test_every_command_option_and_argument_of_the_app_has_french_help(app: Flask) -> None:
    assert commands.untranslated(app) == []


def test_the_help_of_every_group_and_command_is_french(app: Flask, runner: FlaskCliRunner) -> None:
    paths = [path for path, _command in commands.walk(app.cli)]
    assert {"", "data import", "token create", "user create", "db", "db upgrade"} <= set(paths)
    for path in paths:
        result = runner.invoke(args=[*path.split(), "--help"])
        assert result.exit_code == 0, (path, result.output)
        _assert_french_help(result.output)
        first_words = " ".join((commands.ATELIER | commands.MIGRATE)[path].help.split()[:6])
        assert first_words in " ".join(result.output.split())


def test_the_flask_program_root_and_its_own_commands_are_french_once_the_app_is_loaded(
    app: Flask, runner: FlaskCliRunner
) -> None:
    # Rendered in the process, after create_app, as `flask --app app …` does for subcommands.
    for args in (["--help"], ["run", "--help"], ["shell", "--help"], ["routes", "--help"]):
        result = runner.invoke(flask_cli, args)
        assert result.exit_code == 0, result.output
        _assert_french_help(result.output)
    root = runner.invoke(flask_cli, ["--help"]).output
    assert "Utilisation : flask [PARAMÈTRES] COMMANDE [ARGUMENTS]..." in root
    assert "--app MODULE" in root and "Commandes :" in root
    for line in ("run      Lancer un serveur web de développement.", "data     Importer"):
        assert line in root


def test_a_usage_error_is_french(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["token", "create"])
    assert result.exit_code == 2
    assert "Erreur : Argument manquant 'NOM'." in result.output
    assert "Utilisation : app token create [PARAMÈTRES] NOM" in result.output
    assert "Essayez « app token create --help » pour obtenir de l'aide." in result.output
    _assert_french(result.output)


def test_a_bad_value_and_an_unknown_command_are_french(runner: FlaskCliRunner) -> None:
    bad = runner.invoke(args=["token", "revoke", "douze"])
    assert "Erreur : Valeur invalide pour 'NUMÉRO' : 'douze' n'est pas un nombre valide." in (
        bad.output
    )
    role = runner.invoke(args=["user", "create", "a@example.org", "--role", "chef"])
    assert "ne fait pas partie des choix possibles : 'teacher', 'admin'." in role.output
    unknown = runner.invoke(args=["jeton"])
    assert "Erreur : Commande inconnue : 'jeton'." in unknown.output
    missing = runner.invoke(args=["user", "create", "a@example.org"])
    assert "Erreur : Option manquante '--role'." in missing.output
    for result in (bad, role, unknown, missing):
        assert result.exit_code == 2
        _assert_french(result.output)


def test_an_error_of_a_command_itself_starts_with_erreur(
    runner: FlaskCliRunner, school: None
) -> None:
    result = runner.invoke(args=["token", "revoke", "999"])
    assert result.exit_code == 1
    assert result.output.strip() == "Erreur : Aucun jeton n° 999"


def _run(program: list[str], lang: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        name: value
        for name, value in os.environ.items()
        # Whatever this test process was given (the app sets LANGUAGE): the child starts
        # from the machine's locale alone.
        if name not in {"LANGUAGE", "LC_ALL", "LC_MESSAGES"} and not name.startswith("FLASK_")
    }
    env |= {
        "LANG": lang,
        "ATELIER_SECRET_KEY": "test-secret-for-the-flask-program",
        "ATELIER_DATABASE_URL": f"sqlite:///{tmp_path / 'atelier.db'}",
    }
    return subprocess.run(
        program,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _flask_program(args: list[str], lang: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return _run([str(FLASK_PROGRAM), "--app", "app", *args], lang, tmp_path)


def _atelier_program(
    args: list[str], lang: str, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    return _run([str(ATELIER_PROGRAM), *args], lang, tmp_path)


@pytest.mark.parametrize("lang", ["C", "en_US.UTF-8"])
def test_the_real_flask_program_speaks_french_whatever_the_locale(
    lang: str, tmp_path: Path
) -> None:
    root = _flask_program(["--help"], lang, tmp_path)
    assert root.returncode == 0, root.stderr
    commands_part = root.stdout.split("\n\n")[-1]
    assert "data     Importer ou exporter les données de l'école (YAML)." in commands_part
    assert "run      Lancer un serveur web de développement." in commands_part
    assert "db       Faire évoluer le schéma de la base de données" in commands_part
    assert "Show the routes" not in commands_part

    for args in (["token", "create", "--help"], ["db", "upgrade", "--help"]):
        result = _flask_program(args, lang, tmp_path)
        assert result.returncode == 0, result.stderr
        _assert_french_help(result.stdout)

    usage = _flask_program(["token", "create"], lang, tmp_path)
    assert usage.returncode == 2
    assert "Erreur : Argument manquant 'NOM'." in usage.stderr
    _assert_french(usage.stderr)


def test_the_real_flask_program_still_upgrades_the_database(tmp_path: Path) -> None:
    result = _flask_program(["db", "upgrade"], "C", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Running upgrade" in result.stderr
    listing = _flask_program(["token", "list"], "C", tmp_path)
    assert listing.returncode == 1 and listing.stdout == "", listing.stderr
    assert listing.stderr.startswith("Erreur : Aucune école dans la base"), listing.stderr


@pytest.mark.xfail(
    strict=True,
    reason="Flask renders its root help (usage, its own options) before it imports the app: "
    "the `atelier` program is French from its first line",
)
def test_the_real_flask_programs_root_help_is_french_from_its_first_line(
    tmp_path: Path,
) -> None:
    result = _flask_program(["--help"], "C", tmp_path)
    _assert_french_help(result.stdout)


@pytest.mark.parametrize("lang", ["C", "en_US.UTF-8"])
def test_the_atelier_program_speaks_french_from_its_first_line_whatever_the_locale(
    lang: str, tmp_path: Path
) -> None:
    root = _atelier_program(["--help"], lang, tmp_path)
    assert root.returncode == 0, root.stderr
    _assert_french_help(root.stdout)
    assert root.stdout.startswith("Utilisation : atelier [PARAMÈTRES] COMMANDE [ARGUMENTS]...")
    assert "token    Gérer les jetons des appareils (bornes, lecteurs)." in root.stdout
    for args in (["run", "--help"], ["user", "create", "--help"]):
        result = _atelier_program(args, lang, tmp_path)
        assert result.returncode == 0, result.stderr
        _assert_french_help(result.stdout)
    unknown = _atelier_program(["jeton"], lang, tmp_path)
    assert unknown.returncode == 2
    assert "Essayez « atelier --help » pour obtenir de l'aide." in unknown.stderr
    assert "Erreur : Commande inconnue : 'jeton'." in unknown.stderr


def test_the_atelier_program_upgrades_the_database_like_flask_does(tmp_path: Path) -> None:
    result = _atelier_program(["db", "upgrade"], "C", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Running upgrade" in result.stderr
    assert _flask_program(["db", "current"], "C", tmp_path).returncode == 0


def _brace_fields(text: str) -> set[str]:
    return {name for _text, name, _spec, _conv in string.Formatter().parse(text) if name}


def _click_messages() -> dict[str, str | tuple[str, ...]]:
    """Return every message the installed Click marks for translation, by its id."""
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2)}
    found: dict[str, str | tuple[str, ...]] = {}
    for _file, _line, message, _comments, _context in extract_from_dir(
        os.path.dirname(click.__file__), keywords=keywords
    ):
        found[message if isinstance(message, str) else message[0]] = message
    for message in catalog.RUNTIME_MESSAGES:
        found[message] = message
    return found


def test_the_catalog_translates_every_word_of_the_installed_click() -> None:
    with PO_FILE.open("rb") as po:
        french = read_po(po)
    missing = [key for key in _click_messages() if not french.get(key) or not french[key].string]
    assert missing == [], "run `make locale-update`, translate, then `make locale`"
    for message in french:
        if not message.id:
            continue
        assert "fuzzy" not in message.flags, message.id
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = (
            [message.string] if isinstance(message.string, str) else list(message.string or [])
        )
        for text in strings:
            assert text, message.id
            # A translation may drop a value Click passes, never ask for one it does not.
            assert _brace_fields(text) <= set().union(*map(_brace_fields, ids)), text


def test_the_committed_mo_is_compiled_from_the_po() -> None:
    with PO_FILE.open("rb") as po:
        french = read_po(po)
    compiled = BytesIO()
    write_mo(compiled, french)
    compiled.seek(0)
    expected = gettext.GNUTranslations(compiled)
    with MO_FILE.open("rb") as mo:
        committed = gettext.GNUTranslations(mo)
    for message in french:
        if not message.id:
            continue
        if isinstance(message.id, str):
            assert committed.gettext(message.id) == expected.gettext(message.id), message.id
        else:
            singular, plural = message.id[0], message.id[1]
            for n in (1, 2):
                assert committed.ngettext(singular, plural, n) == expected.ngettext(
                    singular, plural, n
                ), "run `make locale`"
    assert committed.ngettext("Option {name!r} requires an argument.", "x", 1) == (
        "L'option {name!r} attend une valeur."
    )
