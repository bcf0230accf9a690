"""Competency frameworks (diploma référentiels) and their competencies."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base


class Framework(Base):
    """A diploma's competency framework, e.g. CAP RICS, as a site imported it."""

    __tablename__ = "frameworks"
    __table_args__ = (UniqueConstraint("site_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    source: Mapped[str | None] = mapped_column(String(300))
    provisional: Mapped[bool] = mapped_column(default=False)

    competencies: Mapped[list[Competency]] = relationship(
        back_populates="framework", order_by="Competency.position"
    )


class Competency(Base):
    """One competency of a framework, named ``framework:code`` in files and on screen."""

    __tablename__ = "competencies"
    __table_args__ = (UniqueConstraint("framework_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    framework_id: Mapped[int] = mapped_column(ForeignKey("frameworks.id"), index=True)
    code: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(300))
    position: Mapped[int] = mapped_column(default=0)

    framework: Mapped[Framework] = relationship(back_populates="competencies")

    @property
    def full_code(self) -> str:
        """Return the ``framework:code`` name of the competency."""
        return f"{self.framework.code}:{self.code}"
