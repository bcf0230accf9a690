"""Authentication: staff sign-in (server-side sessions) and device tokens (bearer)."""

from app.auth import accounts  # noqa: F401  (the Comptes page's routes)
from app.auth.staff import bp, hash_password, one_time_password, password_problem

__all__ = ["bp", "hash_password", "one_time_password", "password_problem"]
