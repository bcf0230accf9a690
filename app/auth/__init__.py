"""Authentication: staff sign-in (sessions) and device tokens (bearer)."""

from app.auth.staff import bp, hash_password, one_time_password, password_problem

__all__ = ["bp", "hash_password", "one_time_password", "password_problem"]
