"""Who may reach this slice's routes (merged into tests/test_role_matrix.py's table).

``PATHS``: the path each rule is requested at; ``ROUTES``: (method, rule) -> the statuses
for anon, kiosk, token, teacher, admin (see tests/test_role_matrix.py).

A student's export and erasure are the administrator's: a teacher gets 403. The erasure's
empty form (no code typed) is refused (422) and erases nothing.
"""

PATHS: dict[str, str] = {
    "/bureau/eleves/<code>/export": "/bureau/eleves/E2026-001/export",
    "/bureau/eleves/<code>/donnees.json": "/bureau/eleves/E2026-001/donnees.json",
    "/bureau/eleves/<code>/livret.pdf": "/bureau/eleves/E2026-001/livret.pdf",
    "/bureau/eleves/<code>/effacer": "/bureau/eleves/E2026-001/effacer",
}
ROUTES: dict[tuple[str, str], tuple[int, int, int, int, int]] = {
    ("GET", "/bureau/eleves/<code>/export"): (302, 302, 302, 403, 200),
    ("GET", "/bureau/eleves/<code>/donnees.json"): (302, 302, 302, 403, 200),
    ("GET", "/bureau/eleves/<code>/livret.pdf"): (302, 302, 302, 403, 200),
    ("GET", "/bureau/eleves/<code>/effacer"): (302, 302, 302, 403, 200),
    ("POST", "/bureau/eleves/<code>/effacer"): (302, 302, 302, 403, 422),
}
