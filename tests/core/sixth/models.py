"""The throw-away desk's one table (imported only while the test registers the desk)."""

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tocsin.core.db import Base


class SixthNote(Base):
    __tablename__ = "sixth_note"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(String(40))
