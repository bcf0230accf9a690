"""Who may reach this slice's routes (merged into tests/test_role_matrix.py's table).

``PATHS``: the path each rule is requested at; ``ROUTES``: (method, rule) -> the statuses
for anon, kiosk, token, teacher, admin (see tests/test_role_matrix.py).

Work orders, routing templates and « Qui fait quoi » are for teachers and administrators
alike. An empty form is refused in French (422); an unknown template is 404.
"""

PATHS: dict[str, str] = {
    "/bureau/of/<number>": "/bureau/of/OF-2026-0001",
    "/bureau/of/<number>/statut": "/bureau/of/OF-2026-0001/statut",
    "/bureau/gammes/<code>": "/bureau/gammes/GAMME-INCONNUE",
}
ROUTES: dict[tuple[str, str], tuple[int, int, int, int, int]] = {
    ("GET", "/bureau/"): (302, 302, 302, 302, 302),
    ("GET", "/bureau/of"): (302, 302, 302, 200, 200),
    ("GET", "/bureau/of/nouveau"): (302, 302, 302, 200, 200),
    ("POST", "/bureau/of/nouveau"): (302, 302, 302, 422, 422),
    ("GET", "/bureau/of/<number>"): (302, 302, 302, 200, 200),
    ("POST", "/bureau/of/<number>"): (302, 302, 302, 422, 422),
    ("POST", "/bureau/of/<number>/statut"): (302, 302, 302, 422, 422),
    ("GET", "/bureau/gammes"): (302, 302, 302, 200, 200),
    ("GET", "/bureau/gammes/nouvelle"): (302, 302, 302, 200, 200),
    ("POST", "/bureau/gammes/nouvelle"): (302, 302, 302, 422, 422),
    ("GET", "/bureau/gammes/<code>"): (302, 302, 302, 404, 404),
    ("POST", "/bureau/gammes/<code>"): (302, 302, 302, 404, 404),
    ("GET", "/bureau/affectations"): (302, 302, 302, 200, 200),
    ("POST", "/bureau/affectations"): (302, 302, 302, 422, 422),
}
