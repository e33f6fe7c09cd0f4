"""Imports every ORM model so `metadata` describes the whole schema (for Alembic)."""

from tapeworks.db.base import Base
from tapeworks.users import models as _users  # noqa: F401

metadata = Base.metadata
