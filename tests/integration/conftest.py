"""Fixtures of the integration tests beyond the shared ones (tests/support/fixtures.py)."""

from tests.support.office import office
from tests.support.web import web_site

__all__ = ["office", "web_site"]
