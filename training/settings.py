"""All settings in one typed place: ``configs/default.yaml`` < a user YAML < environment.

Environment variables: ``ORDERCAST_<SECTION>__<FIELD>`` (e.g. ``ORDERCAST_API__PORT``),
plus the conventional ``MLFLOW_TRACKING_URI`` and ``ORDERCAST_API_KEYS``.
This is the only module that reads configuration files or ``ORDERCAST_*`` variables.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODELS_DIR = PROJECT_ROOT / "models"
DEFAULT_CONFIG = PROJECT_ROOT / "configs" / "default.yaml"


def default_tracking_uri() -> str:
    """The embedded store: SQLite under ``models/`` (artifacts beside it)."""
    return f"sqlite:///{DEFAULT_MODELS_DIR / 'mlflow.db'}"


class DataSettings(BaseModel):
    path: Path = Path("data/orders.csv.gz")
    mapping: Path | None = None


class MlflowSettings(BaseModel):
    tracking_uri: str = Field(default_factory=default_tracking_uri)
    artifact_root: Path = DEFAULT_MODELS_DIR / "artifacts"


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    api_keys: str = ""  # "key:role,key:role"; ORDERCAST_API_KEYS overrides
    max_request_bytes: int = 5_000_000
    max_batch_lines: int = 10_000
    cors_origins: list[str] = Field(default_factory=list)
    poll_seconds: float = 30.0


class Settings(BaseSettings):
    """The resolved configuration of one run of the CLI or the service."""

    model_config = SettingsConfigDict(
        env_prefix="ORDERCAST_", env_nested_delimiter="__", extra="ignore"
    )

    seed: int = 7
    data: DataSettings = Field(default_factory=DataSettings)
    mlflow: MlflowSettings = Field(default_factory=MlflowSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
