"""Who may reach this slice's routes (merged into tests/test_role_matrix.py's table).

``PATHS``: the path each rule is requested at; ``ROUTES``: (method, rule) -> the statuses
for anon, kiosk, token, teacher, admin (see tests/test_role_matrix.py).
"""

PATHS: dict[str, str] = {}
ROUTES: dict[tuple[str, str], tuple[int, int, int, int, int]] = {
    ("GET", "/bureau/production"): (302, 302, 302, 403, 200),
    ("GET", "/bureau/production.csv"): (302, 302, 302, 403, 200),
    ("GET", "/bureau/journal"): (302, 302, 302, 403, 200),
}
