"""Who may reach this slice's routes (merged into tests/test_role_matrix.py's table).

``PATHS``: the path each rule is requested at; ``ROUTES``: (method, rule) -> the statuses
for anon, kiosk, token, teacher, admin (see tests/test_role_matrix.py).
"""

PAGE = (302, 302, 302, 403, 200)

PATHS: dict[str, str] = {
    "/bureau/clients/<code>": "/bureau/clients/C-TEST",
    "/bureau/postes/<code>": "/bureau/postes/ST-SOUD-01",
    "/bureau/operations/<code>": "/bureau/operations/DEBIT",
    "/bureau/operations/grille/<framework>": "/bureau/operations/grille/cap-rics",
    "/bureau/dmos/<code>": "/bureau/dmos/WPS-135-PB",
    "/bureau/jetons/<int:token_id>/revoquer": "/bureau/jetons/999999/revoquer",
}
ROUTES: dict[tuple[str, str], tuple[int, int, int, int, int]] = {
    ("GET", "/bureau/clients"): PAGE,
    ("GET", "/bureau/clients/<code>"): PAGE,
    ("POST", "/bureau/clients"): (302, 302, 302, 403, 422),
    ("GET", "/bureau/postes"): PAGE,
    ("GET", "/bureau/postes/<code>"): PAGE,
    ("POST", "/bureau/postes"): (302, 302, 302, 403, 422),
    ("GET", "/bureau/operations"): PAGE,
    ("GET", "/bureau/operations/<code>"): PAGE,
    ("POST", "/bureau/operations"): (302, 302, 302, 403, 422),
    ("GET", "/bureau/operations/grille/<framework>"): PAGE,
    # An empty grid is a grid: every box of the framework unticked.
    ("POST", "/bureau/operations/grille/<framework>"): (302, 302, 302, 403, 303),
    ("GET", "/bureau/dmos"): PAGE,
    ("GET", "/bureau/dmos/<code>"): PAGE,
    ("POST", "/bureau/dmos"): (302, 302, 302, 403, 422),
    ("GET", "/bureau/jetons"): PAGE,
    ("POST", "/bureau/jetons"): (302, 302, 302, 403, 422),
    ("POST", "/bureau/jetons/<int:token_id>/revoquer"): (302, 302, 302, 403, 404),
    ("GET", "/bureau/fichier"): PAGE,
    ("POST", "/bureau/fichier/apercu"): (302, 302, 302, 403, 422),
    ("POST", "/bureau/fichier/appliquer"): (302, 302, 302, 403, 422),
    ("GET", "/bureau/fichier/export.yaml"): PAGE,
    # The Comptes page's new form (the page itself keeps its line in the main table).
    ("POST", "/comptes/nouveau"): (302, 302, 302, 403, 422),
}
