"""All settings in one typed place: ``configs/default.yaml`` < a user YAML < environment.

Environment variables: ``ORDERCAST_<SECTION>__<FIELD>`` (e.g. ``ORDERCAST_API__PORT``),
plus the conventional ``MLFLOW_TRACKING_URI``, ``ORDERCAST_API_KEYS``,
``ORDERCAST_API_KEYS_FILE`` and ``ORDERCAST_DATABASE_URL``.
This is the only module that reads configuration files or ``ORDERCAST_*`` variables.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from forecasting.accuracy import DRIFT_MARGIN, DRIFT_MIN_ROWS, DRIFT_PERIODS
from forecasting.demand.adjustments import REASON_CODES
from forecasting.errors import ConfigError
from forecasting.risk.bands import check_bands

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODELS_DIR = PROJECT_ROOT / "models"
DEFAULT_CONFIG = PROJECT_ROOT / "configs" / "default.yaml"
DEFAULT_KEYS_FILE = PROJECT_ROOT / "data" / "api-keys.json"
QUANTILE_GRID = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)


def default_tracking_uri() -> str:
    """The embedded store: SQLite under ``models/`` (artifacts beside it)."""
    return f"sqlite:///{DEFAULT_MODELS_DIR / 'mlflow.db'}"


class DataSettings(BaseModel):
    # A file or a database URL; kept as text, since a path would fold sqlite:/// to sqlite:/.
    path: str = str(PROJECT_ROOT / "data" / "orders.csv.gz")
    mapping: Path | None = None


class DatabaseSettings(BaseModel):
    """The order store: a SQLite file by default (its folder made on first use), or any
    SQLAlchemy URL such as ``postgresql+psycopg://user@127.0.0.1:5432/db``."""

    url: str = f"sqlite:///{PROJECT_ROOT / 'data' / 'ordercast.db'}"


class MlflowSettings(BaseModel):
    """The MLflow store. With a SQLite store, artifacts and training locks live beside its
    file unless set: a store moved elsewhere must not leave them in this checkout's
    ``models/`` (other stores keep the project's ``models/`` for the local locks)."""

    tracking_uri: str = Field(default_factory=default_tracking_uri)
    artifact_root: Path = DEFAULT_MODELS_DIR / "artifacts"
    lock_dir: Path = DEFAULT_MODELS_DIR / "locks"

    @model_validator(mode="after")
    def _beside_a_sqlite_store(self) -> MlflowSettings:
        if not self.tracking_uri.startswith("sqlite:///"):
            return self
        folder = Path(self.tracking_uri.removeprefix("sqlite:///")).parent
        if "artifact_root" not in self.model_fields_set:
            self.artifact_root = folder / "artifacts"
        if "lock_dir" not in self.model_fields_set:
            self.lock_dir = folder / "locks"
        return self


class DemandSettings(BaseModel):
    freq: str = "W-SUN"
    horizon: int = Field(13, ge=1, le=520)
    levels: list[list[str]] = Field(
        default_factory=lambda: [["sku", "site"], ["sku"], ["site"], []]
    )
    date_column: str = "order_date"
    models: str | list[str] = "auto"
    n_windows: int = Field(3, ge=1, le=20)
    quantiles: list[float] = Field(default_factory=lambda: list(QUANTILE_GRID))
    n_jobs: int = -1
    # How forecasts at the levels are made to add up: MinT with shrinkage, bottom-up,
    # OLS, or none (each level forecast on its own).
    reconcile: Literal["mint_shrink", "bottom_up", "ols", "none"] = "mint_shrink"
    holidays: str | None = "US"  # country whose public holidays the global model counts

    @field_validator("quantiles")
    @classmethod
    def _levels_in_unit_interval(cls, value: list[float]) -> list[float]:
        if not value or any(not 0 < q < 1 for q in value):
            raise ValueError("every quantile must be strictly between 0 and 1")
        return sorted(value)


class RiskSettings(BaseModel):
    """What counts as late and how risk is banded."""

    tolerance_days: int = Field(0, ge=0, le=365)  # late = delivered after promise + this
    bands: tuple[float, float] = (0.2, 0.5)  # p_late from which a line is medium, high
    # The model's features (forecasting.risk.walk_forward.PROFILES): "queue" learns from
    # track records, site load and the line's clock (lateness that follows each site's
    # queue, as in the demo); "line" from the line's own attributes, the records of groups
    # no value of which holds most lines and the site load, uncalibrated (what `risk
    # evaluate --walk-forward` measures by default; chosen on SCMS's development walk).
    profile: Literal["queue", "line"] = "queue"

    @field_validator("bands")
    @classmethod
    def _ordered_probabilities(cls, value: tuple[float, float]) -> tuple[float, float]:
        try:
            return check_bands(value)
        except ConfigError as exc:
            raise ValueError(
                "bands must be two probabilities, low < high, e.g. [0.2, 0.5]"
            ) from exc


class GateSettings(BaseModel):
    """Promotion gate and data gate."""

    margin: float = Field(0.02, ge=0, lt=1)  # relative score improvement a challenger needs
    max_row_shrink: float = Field(0.5, ge=0, le=1)  # refuse if rows fall by more than this
    max_end_shift_days: int = Field(400, ge=0)  # refuse if the last date moves back/forward more


class AdjustmentSettings(BaseModel):
    # The reason codes a planner may give an adjustment (forecast value added is reported by
    # them); free-text reasons are always required besides.
    reason_codes: list[str] = Field(default_factory=lambda: list(REASON_CODES), min_length=1)


class AccuracySettings(BaseModel):
    """How published forecasts are scored and when drift is raised (the reasons for the
    defaults are beside them in ``forecasting.accuracy``)."""

    lags: list[int] = Field(default_factory=lambda: [1, 2, 4, 8])  # periods ahead reported
    drift_periods: int = Field(DRIFT_PERIODS, ge=1, le=520)  # the last N periods with actuals
    drift_margin: float = Field(DRIFT_MARGIN, ge=0)  # drift: observed WAPE > expected * (1 + m)
    drift_min_rows: int = Field(DRIFT_MIN_ROWS, ge=1)  # fewer scored rows at a lag never flag

    @field_validator("lags")
    @classmethod
    def _positive_lags(cls, value: list[int]) -> list[int]:
        if not value or any(lag < 1 for lag in value):
            raise ValueError("lags must be whole numbers of periods ahead, 1 or more")
        return sorted(set(value))


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    api_keys: str = ""  # "key:role,key:role"; ORDERCAST_API_KEYS overrides
    # Named keys made by `ordercast keys create`, kept as digests; read at start-up.
    # load_settings fills in DEFAULT_KEYS_FILE (or ORDERCAST_API_KEYS_FILE); settings built
    # directly, as tests and embedders do, read no file unless they name one.
    keys_file: Path | None = None
    max_request_bytes: int = 5_000_000
    max_batch_lines: int = 10_000
    cors_origins: list[str] = Field(default_factory=list)
    poll_seconds: float = 30.0


class Settings(BaseSettings):
    """The resolved configuration of one run of the CLI or the service."""

    model_config = SettingsConfigDict(
        env_prefix="ORDERCAST_", env_nested_delimiter="__", extra="forbid"
    )

    seed: int = 7
    data: DataSettings = Field(default_factory=DataSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    mlflow: MlflowSettings = Field(default_factory=MlflowSettings)
    demand: DemandSettings = Field(default_factory=DemandSettings)
    risk: RiskSettings = Field(default_factory=RiskSettings)
    gate: GateSettings = Field(default_factory=GateSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    accuracy: AccuracySettings = Field(default_factory=AccuracySettings)
    adjustments: AdjustmentSettings = Field(default_factory=AdjustmentSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the YAML files, which come in through init.
        return env_settings, init_settings


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"configuration file {path} does not exist")
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: the configuration must be a YAML dictionary")
    return loaded


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(config_path: str | Path | None = None) -> Settings:
    """Defaults, then ``configs/default.yaml``, then ``config_path`` (or the file named by
    ``ORDERCAST_CONFIG``), then the environment."""
    values: dict[str, Any] = {}
    config_path = config_path or os.environ.get("ORDERCAST_CONFIG") or None
    if DEFAULT_CONFIG.is_file():
        values = _read_yaml(DEFAULT_CONFIG)
    if config_path is not None:
        values = _merge(values, _read_yaml(Path(config_path)))
    tracking = os.environ.get("MLFLOW_TRACKING_URI")
    if tracking:
        values = _merge(values, {"mlflow": {"tracking_uri": tracking}})
    database = os.environ.get("ORDERCAST_DATABASE_URL")
    if database:
        values = _merge(values, {"database": {"url": database}})
    keys = os.environ.get("ORDERCAST_API_KEYS")
    if keys is not None:
        values = _merge(values, {"api": {"api_keys": keys}})
    keys_file = os.environ.get("ORDERCAST_API_KEYS_FILE")
    if keys_file or not values.get("api", {}).get("keys_file"):
        values = _merge(values, {"api": {"keys_file": keys_file or str(DEFAULT_KEYS_FILE)}})
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid configuration: {problems}") from exc
