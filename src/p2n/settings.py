"""All configuration of P2N, read from the environment in this one place (pydantic-settings).

Every variable is prefixed ``P2N_``; ``OPENAI_API_KEY`` is also honoured for the key. Secrets are
``SecretStr`` so that printing or logging a Settings object never shows them. Components receive
a ``Settings`` instance (dependency injection) instead of reading the environment themselves.

| variable                      | meaning                                                        |
|-------------------------------|----------------------------------------------------------------|
| P2N_HOME                      | local state dir (embedded PostgreSQL, artifacts); ~/.p2n        |
| P2N_DATABASE_URL              | PostgreSQL URL; unset => embedded PostgreSQL under P2N_HOME     |
| P2N_DB_POOL_MIN / _MAX        | connection pool bounds                                          |
| P2N_STORAGE_DIR               | local artifact dir when no S3 endpoint/bucket is configured     |
| P2N_S3_BUCKET                 | S3 bucket; setting it selects the S3 backend                    |
| P2N_S3_PREFIX                 | key prefix inside the bucket                                    |
| P2N_S3_ENDPOINT_URL           | S3-compatible endpoint (MinIO, moto); unset => AWS              |
| P2N_S3_REGION                 | region (default us-east-1)                                      |
| P2N_S3_ACCESS_KEY_ID / _SECRET_ACCESS_KEY | credentials; unset => the boto3 default chain       |
| P2N_PRESIGN_TTL_SECONDS       | lifetime of presigned GET/PUT URLs                              |
| P2N_MAX_DOCUMENT_BYTES        | largest paper accepted (E_PAYLOAD_TOO_LARGE)                    |
| P2N_MAX_ARTIFACT_BYTES        | cap per log/events artifact (E_ARTIFACT_TOO_LARGE warning)      |
| P2N_OPENAI_API_KEY            | enables the openai provider; unset => offline provider          |
| P2N_OPENAI_BASE_URL           | OpenAI-compatible endpoint                                      |
| P2N_OPENAI_MODEL              | default model                                                   |
| P2N_LLM_MAX_TOKENS / P2N_LLM_MAX_TOOL_CALLS | default caps per paper (E_CAP_EXCEEDED)           |
| P2N_NAMESPACE                 | default namespace for the API and CLI                           |
| P2N_WATCH_NAMESPACES          | comma-separated namespaces the operator watches (empty => all)  |
| P2N_MAX_CONCURRENT_RUNS       | running sandboxes per namespace; the rest are Queued            |
| P2N_MAX_RUN_CPU / P2N_MAX_RUN_MEMORY | per-run resource ceilings                                |
| P2N_MAX_TIMEOUT_MINUTES       | per-run timeout ceiling (never above 25)                        |
| P2N_RUNNER_IMAGE              | sandbox image (operator configuration only, never from a spec)  |
| P2N_RUNTIME_CLASS_NAME        | optional runtimeClassName (gVisor/Kata) for sandbox pods        |
| P2N_DEFAULT_RUN_CPU / _MEMORY | sandbox requests when neither Run nor Plan sets resources       |
| P2N_MAX_RUN_EPHEMERAL_STORAGE | per-run ephemeral-storage ceiling                               |
| P2N_SANDBOX_SERVICE_ACCOUNT   | ServiceAccount (no bindings) of sandbox pods                    |
| P2N_SANDBOX_UID / _GID        | numeric non-root user of sandbox pods                           |
| P2N_SANDBOX_WORK_DIR_LIMIT    | size limit of the sandbox's writable emptyDir                   |
| P2N_SANDBOX_GRACE_SECONDS     | terminationGracePeriodSeconds (cancel keeps partial artifacts)  |
| P2N_ARTIFACT_STORE_CIDR / _PORT | sandbox egress allowed to this CIDR and port                  |
| P2N_ARTIFACT_STORE_NAMESPACE_LABELS / _POD_LABELS | or to these pods ("k=v,k=v")                |
| P2N_SANDBOX_ALLOW_DNS         | allow DNS egress to kube-system (to resolve the store's name)   |
| P2N_OPERATOR_PEERING          | kopf peering name; unset => standalone operator                 |
| P2N_OPERATOR_METRICS_PORT     | operator's Prometheus /metrics port (0 = off); default 9090     |
| P2N_STATUS_INTERVAL_SECONDS   | minimum interval between Run progress status patches            |
| P2N_AUTH_MODE                 | kubernetes (TokenReview + SubjectAccessReview) or static        |
| P2N_STATIC_TOKENS             | static mode: comma-separated token=user pairs                   |
| P2N_MAX_BODY_BYTES            | API request body limit (E_PAYLOAD_TOO_LARGE)                    |
| P2N_LOG_LEVEL / P2N_LOG_FORMAT| logging level; json or text                                     |
| P2N_OTLP_ENDPOINT             | OTLP/HTTP base URL for traces; unset => OTEL_EXPORTER_OTLP_* or none |
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="P2N_", extra="ignore", frozen=True)

    home: Path = Field(default_factory=lambda: Path.home() / ".p2n")

    database_url: SecretStr | None = None
    db_pool_min: int = Field(default=1, ge=0, le=100)
    db_pool_max: int = Field(default=10, ge=1, le=200)

    storage_dir: Path | None = None
    s3_bucket: str | None = None
    s3_prefix: str = ""
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None
    presign_ttl_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    max_document_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    max_artifact_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)

    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("P2N_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    openai_base_url: str | None = None
    openai_model: str = "gpt-4.1-mini"
    llm_max_tokens: int = Field(default=20000, ge=1)
    llm_max_tool_calls: int = Field(default=8, ge=0)

    namespace: str = "default"
    watch_namespaces: str = ""
    max_concurrent_runs: int = Field(default=4, ge=1, le=1000)
    max_run_cpu: str = "2"
    max_run_memory: str = "4Gi"
    max_timeout_minutes: int = Field(default=25, ge=1, le=25)
    runner_image: str = "ghcr.io/p2n-dev/p2n-runner:0.1.0"
    runtime_class_name: str | None = None
    # Sandbox pod shape (operator configuration only; a spec never sets these).
    default_run_cpu: str = "1"
    default_run_memory: str = "2Gi"
    max_run_ephemeral_storage: str = "2Gi"
    sandbox_service_account: str = "p2n-sandbox"
    sandbox_uid: int = Field(default=10001, ge=1)  # the runner image's numeric user
    sandbox_gid: int = Field(default=10001, ge=1)
    sandbox_work_dir_limit: str = "1Gi"
    sandbox_grace_seconds: int = Field(default=20, ge=1, le=300)
    # Egress of sandbox pods: the artifact store, by CIDR or by namespace/pod labels ("k=v,k=v").
    artifact_store_cidr: str | None = None
    artifact_store_port: int = Field(default=443, ge=1, le=65535)
    artifact_store_namespace_labels: str = ""
    artifact_store_pod_labels: str = ""
    sandbox_allow_dns: bool = True
    operator_peering: str | None = None
    operator_metrics_port: int = Field(default=9090, ge=0, le=65535)
    status_interval_seconds: float = Field(default=1.0, ge=0.0, le=60.0)

    auth_mode: Literal["kubernetes", "static"] = "kubernetes"
    static_tokens: SecretStr | None = None
    max_body_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)

    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"
    otlp_endpoint: str | None = None

    @property
    def artifacts_dir(self) -> Path:
        """Local artifact root used when no S3 bucket is configured."""
        return self.storage_dir or self.home / "artifacts"

    @property
    def uses_s3(self) -> bool:
        return bool(self.s3_bucket)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once; tests build their own ``Settings(...)`` instead."""
    return Settings()
