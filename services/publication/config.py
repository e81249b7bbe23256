"""Publication job settings (environment, prefix ``AR_PUBLICATION_``)."""

from __future__ import annotations

import functools

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PublicationSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AR_PUBLICATION_", extra="ignore", frozen=True)

    interval_s: float = Field(
        default=60.0,
        gt=0,
        description="How often `serve publication` looks for years due to be published",
    )


@functools.lru_cache(maxsize=1)
def get_publication_settings() -> PublicationSettings:
    return PublicationSettings()
