"""Who may reach this slice's routes (merged into tests/test_role_matrix.py's table).

``PATHS``: the path each rule is requested at; ``ROUTES``: (method, rule) -> the statuses
for anon, kiosk, token, teacher, admin (see tests/test_role_matrix.py).

Students, badges and habilitations are the administrator's: a teacher gets 403. An empty
form is refused as the form's fields are (422).
"""

PATHS: dict[str, str] = {
    "/bureau/eleves/<code>": "/bureau/eleves/E2026-001",
    "/bureau/eleves/<code>/badge": "/bureau/eleves/E2026-001/badge",
    "/bureau/eleves/<code>/habilitations": "/bureau/eleves/E2026-001/habilitations",
}
ROUTES: dict[tuple[str, str], tuple[int, int, int, int, int]] = {
    ("GET", "/bureau/eleves"): (302, 302, 302, 403, 200),
    ("GET", "/bureau/eleves/nouveau"): (302, 302, 302, 403, 200),
    ("POST", "/bureau/eleves/nouveau"): (302, 302, 302, 403, 422),
    ("GET", "/bureau/eleves/<code>"): (302, 302, 302, 403, 200),
    ("POST", "/bureau/eleves/<code>"): (302, 302, 302, 403, 422),
    ("POST", "/bureau/eleves/<code>/badge"): (302, 302, 302, 403, 422),
    ("POST", "/bureau/eleves/<code>/habilitations"): (302, 302, 302, 403, 422),
    ("GET", "/bureau/habilitations"): (302, 302, 302, 403, 200),
    ("POST", "/bureau/habilitations"): (302, 302, 302, 403, 422),
    ("GET", "/bureau/habilitations/inspection"): (302, 302, 302, 403, 200),
}
