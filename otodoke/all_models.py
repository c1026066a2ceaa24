"""Import every model module so that ``Base.metadata`` is complete (Alembic, create_all, tests)."""

from accounts import models as accounts_models  # noqa: F401
from core import models as core_models  # noqa: F401
from delivery import models as delivery_models  # noqa: F401
from orders import models as orders_models  # noqa: F401
from outbox import models as outbox_models  # noqa: F401
from links import models as links_models  # noqa: F401
from places import models as places_models  # noqa: F401
from residents import models as residents_models  # noqa: F401
from shops import models as shops_models  # noqa: F401
from core.db import Base

metadata = Base.metadata
