"""What WeasyPrint may read while it renders a letter: ``data:`` URLs and the package's own
template files, nothing else. No network, no other local file.

``fail_on_errors=True`` turns any refusal or missing file into WeasyPrint's
FatalURLFetchingError, which stops the render: a letter with a missing asset is a wrong
letter, and WeasyPrint's default is to log a warning and carry on without it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from weasyprint.urls import URLFetcher, URLFetcherResponse


class AssetRefused(ValueError):
    """A URL that the letter renderer may not read."""


class LocalOnlyFetcher(URLFetcher):  # type: ignore[misc]  # WeasyPrint ships no type hints
    def __init__(self, root: Path) -> None:
        super().__init__(allowed_protocols=("data", "file"), fail_on_errors=True)
        self._root = root.resolve()

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "file":
            if parts.netloc not in ("", "localhost"):
                raise AssetRefused(f"refused {url!r}: not a local file")
            path = Path(unquote(parts.path)).resolve()
            if not path.is_relative_to(self._root):
                raise AssetRefused(f"refused {url!r}: outside {self._root}")
            if not path.is_file():
                raise AssetRefused(f"refused {url!r}: no such file")
        elif scheme != "data":
            raise AssetRefused(f"refused {url!r}: only data: and package files may be read")
        return super().fetch(url, headers)
