"""Projector settings (environment, prefix ``AR_PROJECTOR_``)."""

from __future__ import annotations

import functools

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.domain.statistics import AveragingRule
from services.platform.health import HealthSettings, metrics_port_field


class ProjectorSettings(HealthSettings):
    model_config = SettingsConfigDict(env_prefix="AR_PROJECTOR_", extra="ignore", frozen=True)

    group_id: str = Field(default="projector", description="Kafka consumer group of the projector")
    averaging_rule: AveragingRule = Field(
        default=AveragingRule.MEAN_OF_RATES,
        description="Comparison-group average: 'mean' of council rates (default) or 'pooled'",
    )
    max_records: int = Field(default=5000, ge=1, description="Records per batch transaction")
    batch_timeout_ms: int = Field(
        default=50, ge=1, description="How long a fetch waits for records"
    )
    session_timeout_ms: int = Field(
        default=10_000,
        ge=6_000,
        description="Kafka group session timeout: how soon a dead instance's partitions move",
    )
    metrics_port: int = metrics_port_field(9108)
    health_max_lag_seconds: float = Field(
        default=300.0,
        gt=0,
        description="/health/ready fails when events wait and no stored position has moved "
        "for this long, or batches have failed for this long",
    )


@functools.lru_cache(maxsize=1)
def get_projector_settings() -> ProjectorSettings:
    return ProjectorSettings()
