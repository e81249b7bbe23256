"""Web site settings (environment, prefix ``AR_WEB_``)."""

from __future__ import annotations

import functools
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AR_WEB_", extra="ignore", frozen=True)

    host: str = Field(
        default="127.0.0.1",
        description="Address the site listens on: loopback by default; 0.0.0.0 behind a proxy "
        "or in a container",
    )
    port: int = Field(default=8080, ge=1, le=65535, description="Port the site listens on")
    base_url: str = Field(
        default="http://127.0.0.1:8080",
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        description="The site's public address, used in the open data's links to the letters",
    )
    content_dir: Path | None = Field(
        default=None,
        description="Folder of the site's texts (Markdown the office edits); default: the "
        "texts shipped in services/web/content",
    )
    refresh_s: float = Field(
        default=5.0,
        ge=0,
        description="How often the site checks whether anything newly published must be "
        "shown (0: on every request)",
    )
    page_cache: bool = Field(
        default=True,
        description="Keep each rendered page until the published data changes (off: render "
        "every request; the benchmark's comparison row)",
    )
    cache_max_age_s: int = Field(
        default=60, ge=0, description="Cache-Control max-age of pages and open data"
    )
    pool_max: int = Field(default=4, ge=1, description="Database connections of the site")


@functools.lru_cache(maxsize=1)
def get_web_settings() -> WebSettings:
    return WebSettings()
