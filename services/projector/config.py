"""Projector settings (environment, prefix ``AR_PROJECTOR_``)."""

from __future__ import annotations

import functools

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.domain.statistics import AveragingRule


class ProjectorSettings(BaseSettings):
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
    metrics_host: str = Field(
        default="127.0.0.1",
        description="Address the health and metrics server binds (0.0.0.0: every interface, "
        "as in docker-compose.yml)",
    )
    metrics_port: int = Field(
        default=9108,
        ge=0,
        le=65535,
        description="Port of /health/live, /health/ready, /health and /metrics (0: off)",
    )
    health_max_lag_seconds: float = Field(
        default=300.0,
        gt=0,
        description="/health/ready fails when events wait and no stored position has moved "
        "for this long, or batches have failed for this long",
    )
    health_loop_stall_seconds: float = Field(
        default=30.0,
        gt=0,
        description="/health/live fails when the event loop has not run for this long",
    )
    health_check_interval_seconds: float = Field(
        default=5.0, gt=0, description="How often the readiness checks run"
    )


@functools.lru_cache(maxsize=1)
def get_projector_settings() -> ProjectorSettings:
    return ProjectorSettings()
