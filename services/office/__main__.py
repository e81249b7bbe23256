"""``python -m services.office``: the same as ``annual-review serve office``."""

from services.office.app import serve
from services.platform.logging import configure_logging
from services.platform.settings import get_settings

configure_logging(get_settings())
serve()
