"""One Settings object, read from the environment (``SHENGJING_*``) and passed explicitly, never a global."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting of a deployment. The README lists them; `shengjing settings` prints the live values."""

    model_config = SettingsConfigDict(env_prefix="SHENGJING_", env_file=".env", extra="ignore")

    var_dir: Path = Field(Path("var"), description="Working directory for the embedded store.")
    database_url: str = Field(
        "",
        description="Metadata database (SQLAlchemy URL); empty means SQLite at <var_dir>/meta.db "
        "(sqlite:///var/meta.db). PostgreSQL in production: postgresql+psycopg://user@host/db.",
    )
    lake_dir: Path | None = Field(None, description="Directory of versioned Parquet snapshots (default var/lake).")

    host: str = Field("127.0.0.1", description="Address `shengjing serve` listens on.")
    port: int = Field(8000, description="Port `shengjing serve` listens on.")
    workers: int = Field(1, ge=1, description="Server worker processes.")

    cookie_secure: bool = Field(
        True,
        description="Mark console cookies Secure (browsers accept them on http://127.0.0.1 and localhost).",
    )
    session_idle_minutes: int = Field(30, ge=1, description="A console session ends after this much inactivity.")
    session_max_hours: int = Field(12, ge=1, description="A console session ends this long after login.")
    lockout_threshold: int = Field(5, ge=1, description="Consecutive failed logins that lock an account.")
    lockout_minutes: int = Field(15, ge=1, description="How long a locked account stays locked.")
    password_min_length: int = Field(10, ge=8, description="Shortest password accepted.")
    password_hash_time_cost: int = Field(3, ge=1, description="Argon2id passes (RFC 9106 second choice: 3).")
    password_hash_memory_kib: int = Field(65536, ge=1024, description="Argon2id memory in KiB (64 MiB).")
    token_default_days: int = Field(90, ge=1, description="Default validity of a new API token.")
    token_max_days: int = Field(365, ge=1, description="Longest validity an API token may be given.")

    audit_hash: Literal["sha256", "sm3"] = Field(
        "sha256", description="Hash of the audit chain for new events (SM3 through OpenSSL)."
    )
    max_upload_bytes: int = Field(
        8 * 1024**3, ge=1, description="Largest file accepted by an upload to ingest (console or API), in bytes."
    )
    classify_sample_rows: int = Field(
        10_000, ge=100, description="Rows sampled per resource by the classification run on every new snapshot."
    )
    classify_engine: Literal["duckdb", "spark"] = Field(
        "duckdb", description="Engine of full-scan classification runs (Spark for resources beyond one machine)."
    )
    spark_master: str = Field("local[*]", description="Spark master URL for the Spark engine.")
    sandbox_engine: Literal["duckdb", "spark"] = Field("duckdb", description="Engine of sandbox queries by default.")
    sandbox_time_limit_seconds: float = Field(
        60.0, gt=0, le=86_400, description="A sandbox query is stopped after running this long."
    )
    sandbox_memory_limit: str = Field(
        "2GB",
        pattern=r"^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
        description="Memory a sandbox query may use.",
    )
    sandbox_threads: int = Field(2, ge=1, le=256, description="Threads a sandbox query may use.")
    registry_log_key_path: Path | None = Field(
        None,
        description="Ed25519 private key (PEM, PKCS#8) that signs the transparency log's checkpoints; unset: "
        "<var_dir>/registry/log-signing-key.pem, made on first use with mode 0600.",
    )
    registry_log_origin: str = Field(
        "shengjing.local/registry",
        pattern=r"^[^\s+]+$",
        description="Origin line (and key name) of the transparency log's checkpoints: a schema-less URL unique "
        "to this deployment, e.g. data.shenyang.gov.cn/registry.",
    )
    registry_certificate_algorithm: Literal["ed25519", "sm2-sm3"] = Field(
        "ed25519",
        description="Signature of certificate bundles: Ed25519, or SM2 with SM3 (GB/T 32918) for bodies that must "
        "use the national algorithms. Checkpoints are always Ed25519 (C2SP signed notes).",
    )
    registry_certificate_key_path: Path | None = Field(
        None,
        description="Private key (PEM, PKCS#8) that signs certificate bundles; unset: the log's key for Ed25519, "
        "<var_dir>/registry/certificate-signing-key.pem (made on first use, mode 0600) for SM2.",
    )
    registry_authority_division: str = Field(
        "210100", pattern=r"^[0-9]{6}$", description="GB/T 2260 division code of the registration authority."
    )
    registry_authority_unit: str = Field(
        "01", pattern=r"^[0-9]{2}$", description="The authority's 2-digit unit code within its division."
    )
    registry_authority_name: str = Field(
        "沈阳市数据局", min_length=1, max_length=100, description="The registration authority's name, as printed."
    )
    registry_publicity_working_days: int = Field(
        10, ge=0, le=60, description="Working days a registration is publicized (公示) before it can be issued."
    )
    registry_accept_working_days: int = Field(
        5, ge=1, le=60, description="Working days the authority has to accept (formal check) an application."
    )
    registry_review_working_days: int = Field(
        15, ge=1, le=120, description="Working days the authority has to review an accepted application."
    )
    registry_calendar_path: Path | None = Field(
        None,
        description="YAML of holiday arrangements for years the chinese-calendar package does not have yet "
        "(2027: {holidays: [...], workdays: [...]}), entered from the State Council's notice.",
    )
    public_base_url: str = Field(
        "http://127.0.0.1:8000",
        pattern=r"^https?://[^\s]+$",
        description="The console's public address, printed in certificates' QR codes and lookup links.",
    )
    library_engine: Literal["duckdb", "spark"] = Field(
        "duckdb", description="Engine that builds base and theme libraries by default."
    )
    library_memory: str = Field(
        "3GB", pattern=r"^[0-9]+(\.[0-9]+)?\s*[KMGT]i?B$", description="DuckDB's memory limit for a library build."
    )
    library_refresh_on_snapshot: bool = Field(
        True, description="Refresh the libraries that read a resource when it gets a new snapshot."
    )
    default_locale: Literal["zh_CN", "en"] = Field("zh_CN", description="Console language when none is chosen.")
    log_level: str = Field("INFO", description="Log level.")
    log_json: bool = Field(True, description="Logs as JSON lines (false: human-readable console lines).")

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.var_dir / 'meta.db'}"
        return self

    @property
    def lake_path(self) -> Path:
        return self.lake_dir if self.lake_dir is not None else self.var_dir / "lake"

    @property
    def registry_log_key(self) -> Path:
        return self.registry_log_key_path or self.var_dir / "registry" / "log-signing-key.pem"

    @property
    def registry_certificate_key(self) -> Path:
        """The certificate key's file: the log's own key serves Ed25519 certificates unless another is set."""
        if self.registry_certificate_key_path is not None:
            return self.registry_certificate_key_path
        if self.registry_certificate_algorithm == "ed25519":
            return self.registry_log_key
        return self.var_dir / "registry" / "certificate-signing-key.pem"

    @property
    def demo_path(self) -> Path:
        return self.var_dir / "demo"
