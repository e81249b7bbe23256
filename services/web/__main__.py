"""``python -m services.web``: the same as ``annual-review serve web``."""

from services.platform.logging import configure_logging
from services.platform.settings import get_settings
from services.web.app import serve

configure_logging(get_settings())
serve()
