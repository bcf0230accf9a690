"""The documentation a newcomer follows: every file it names exists, every command it
gives exists, and the contract it cites is in the repository."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parents[1]
# Repository paths as the docs write them: `docs/contract.md`, `deploy/mosquitto/atelier.conf`…
PATH = re.compile(
    r"(?<![\w/.-])((?:app|bench|demo|deploy|devices|docs|kiosk|labels|tests|\.ci)/[\w./@-]*[\w])"
)


def _sources() -> list[Path]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for folder in ("app", "bench", "demo", "deploy", "devices", "kiosk", "labels", "tests"):
        files += [
            path
            for path in sorted((ROOT / folder).rglob("*"))
            if path.suffix in {".py", ".md", ".yaml", ".conf", ".service", ".html", ".acl"}
            and "__pycache__" not in path.parts
        ]
    return files


def test_every_file_the_docs_and_the_code_name_exists() -> None:
    missing = []
    for source in _sources():
        text = source.read_text(encoding="utf-8", errors="replace")
        for match in PATH.finditer(text):
            reference = match.group(1).rstrip(".")
            if any(ch in reference for ch in "*<>{}"):
                continue
            target = ROOT / reference
            if (not target.exists() and not target.parent.exists()) or (
                not target.exists() and "." in target.name and reference.startswith("docs/")
            ):
                missing.append(f"{source.relative_to(ROOT)}: {reference}")
    assert missing == []


def test_the_contract_is_in_the_repository_and_cited_by_its_path() -> None:
    contract = ROOT / "docs" / "contract.md"
    assert contract.read_text(encoding="utf-8").startswith("# Atelier — external contract")
    # The copy of the contract and the research notes beside the repository: a clone lacks them.
    outside = ("CONTRACT" + ".md", "shared/" + "reference")
    for source in _sources():
        text = source.read_text(encoding="utf-8", errors="replace")
        assert not any(name in text for name in outside), source


def test_every_flask_command_of_the_readme_exists(app: Flask) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = set(re.findall(r"flask --app app ([a-z]+)(?: ([a-z]+))?", readme))
    assert commands
    for group, command in commands:
        found = app.cli.get_command(None, group)  # type: ignore[arg-type]
        if found is None and group in {"db", "run", "shell", "routes"}:
            continue
        assert found is not None, group
        if command and hasattr(found, "commands"):
            assert command in found.commands, (group, command)
