"""Every ORM model, so `metadata` describes the whole schema (for Alembic's env.py and the
drift check). A composition module: it imports every domain's models."""

from tapeworks.clients import models as _clients  # noqa: F401
from tapeworks.coaching import models as _coaching  # noqa: F401
from tapeworks.db.base import Base
from tapeworks.episodes import models as _episodes  # noqa: F401
from tapeworks.events import models as _events  # noqa: F401
from tapeworks.notifications import models as _notifications  # noqa: F401
from tapeworks.plans import models as _plans  # noqa: F401
from tapeworks.queue import models as _jobs  # noqa: F401
from tapeworks.search import models as _search  # noqa: F401
from tapeworks.sessions import models as _sessions  # noqa: F401
from tapeworks.shows import models as _shows  # noqa: F401
from tapeworks.users import models as _users  # noqa: F401
from tapeworks.voices import models as _voices  # noqa: F401
from tapeworks.webhooks import models as _webhooks  # noqa: F401

metadata = Base.metadata
