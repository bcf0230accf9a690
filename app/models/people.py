"""People: students, their badges, and staff accounts."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base
from app.models.types import UtcDateTime, utcnow

if TYPE_CHECKING:
    from app.models.curriculum import Framework

ROLES = ("teacher", "admin")


class Student(Base):
    """A student: a pseudonymous id, a short name and the diploma they prepare."""

    __tablename__ = "students"
    __table_args__ = (UniqueConstraint("site_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(80))
    framework_id: Mapped[int] = mapped_column(ForeignKey("frameworks.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    # End of schooling (the school file's ``left_on``), when known.
    left_on: Mapped[date | None] = mapped_column(Date)
    # Erased (on request, or past the retention period): the name and code are replaced,
    # the badges deleted; what the student made is still counted, anonymously.
    erased_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    framework: Mapped[Framework] = relationship()
    badges: Mapped[list[Badge]] = relationship(back_populates="student", order_by="Badge.code")

    @property
    def first_name(self) -> str:
        """Return the first word of the name, used to greet the student at a station."""
        return first_name(self.name)


def first_name(name: str) -> str:
    """Return the first word of a name (« Lucas » for « Lucas M. »)."""
    words = name.split()
    return words[0] if words else name


class StaffUser(Base):
    """A teacher (maître professionnel) or an administrator of a site, signing in by password."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('teacher', 'admin')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    # The sign-in name: one account per address across the network.
    email: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(10), default="teacher")
    password_hash: Mapped[str | None] = mapped_column(String(300))
    must_change_password: Mapped[bool] = mapped_column(default=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Bumped at each password change: sessions carry it, so older ones stop working.
    session_version: Mapped[int] = mapped_column(default=1)

    badges: Mapped[list[Badge]] = relationship(back_populates="user", order_by="Badge.code")

    # Flask-Login's user protocol.
    @property
    def is_authenticated(self) -> bool:
        """Tell Flask-Login a loaded user is signed in."""
        return True

    @property
    def is_active(self) -> bool:
        """Tell Flask-Login whether the account may sign in."""
        return self.active

    @property
    def is_anonymous(self) -> bool:
        """Tell Flask-Login this is a real account."""
        return False

    def get_id(self) -> str:
        """Return the id Flask-Login keeps in the session (with the session version)."""
        return f"{self.id}:{self.session_version}"


class Badge(Base):
    """A printed (``B-…``) or RFID badge; it belongs to one student or one staff member."""

    __tablename__ = "badges"
    __table_args__ = (
        UniqueConstraint("site_id", "code"),
        CheckConstraint(
            "(student_id IS NULL) <> (user_id IS NULL)",
            name="one_holder",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    code: Mapped[str] = mapped_column(String(20))
    student_id: Mapped[int | None] = mapped_column(ForeignKey("students.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)

    student: Mapped[Student | None] = relationship(back_populates="badges")
    user: Mapped[StaffUser | None] = relationship(back_populates="badges")
