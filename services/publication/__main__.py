"""``python -m services.publication``: the same as ``annual-review serve publication``."""

import asyncio

from services.platform.logging import configure_logging
from services.platform.settings import get_settings
from services.publication.app import run_forever
from services.publication.config import get_publication_settings

configure_logging(get_settings())
asyncio.run(run_forever(get_settings(), get_publication_settings().interval_s))
