"""``python -m services.publication``: the same as ``annual-review serve publication``."""

import asyncio
import sys

from services.platform.logging import configure_logging
from services.platform.settings import get_settings
from services.publication.app import CannotPublish, run_forever
from services.publication.config import get_publication_settings

configure_logging(get_settings())
try:
    asyncio.run(run_forever(get_settings(), get_publication_settings().interval_s))
except CannotPublish as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
