"""The four kinds of file in `ecosystem/` and the keys each may hold.

Layer fields are all optional here: a template may declare half a resource that an instance completes. Types of the
layer fields are checked in every file; resources are checked once merged, against their contract, with provenance.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from contracts import ResourceName
from contracts.base import MAX_DECLARED_TAGS, SENSITIVE_NAME, TagKey, TagValue
from mnops_assets.estate.spec import DriftPolicy, Owner, Tier

TemplateName = ResourceName


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, hide_input_in_errors=True)


class DriftLayer(_File):
    policy: DriftPolicy | None = None
    ignore: list[str] | None = None


class Layer(_File):
    """The mergeable settings every layer may set; `null` removes what a lower layer set."""

    tier: Tier | None = None
    provider: str | None = None
    region: str | None = None
    owner: Owner | None = None
    tags: Annotated[dict[TagKey, TagValue | None], Field(max_length=MAX_DECLARED_TAGS)] | None = None
    drift: DriftLayer | None = None
    protect: bool | None = None
    enabled: bool | None = None
    auto_deploy: bool | None = None
    resources: dict[ResourceName, dict[str, Any] | None] | None = Field(
        None, description="Resources by name: each a contract tag plus that contract's fields."
    )
    hooks: dict[ResourceName, dict[str, Any] | None] | None = Field(
        None, description="Lifecycle hooks by name: events, command or python, timeout_seconds."
    )


LAYER_FIELDS = tuple(Layer.model_fields)


_URL_WITH_PASSWORD = re.compile(r"://[^/@:]+:[^@]*@")


class ProviderSettings(_File):
    default_region: str = Field(description="Region used by platforms on this provider that set none.")
    settings: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="Passed to the provider's adapter (e.g. endpoint_url); never secrets: those come from EnvVar.",
    )

    @field_validator("settings")
    @classmethod
    def _no_credentials(cls, value: dict[str, object]) -> dict[str, object]:
        for key, setting in value.items():
            if SENSITIVE_NAME.search(key):
                # Never echo the value: it may be the credential itself.
                raise PydanticCustomError(
                    "literal_secret", f"{key!r} looks like a credential; adapters read credentials from the environment"
                )
            if isinstance(setting, str) and _URL_WITH_PASSWORD.search(setting):
                raise PydanticCustomError(
                    "literal_secret",
                    f"{key!r} is a URL with a password; leave the password out (a .pgpass file, or the provider's "
                    "environment variable for the whole URL)",
                )
        return value


class StateSettings(_File):
    url: str | None = Field(
        None, description="SQLAlchemy URL of the state store; MNOPS_STATE_URL overrides it; unset means SQLite."
    )
    lock_lease_seconds: int = Field(
        30,
        ge=1,
        le=3600,
        description="How long a platform's lock stays fresh unless its holder renews it (every third of it); a lock "
        "whose lease ran out is broken by the next deploy, whatever host or process held it. "
        "MNOPS_LOCK_LEASE_SECONDS overrides it.",
    )

    @field_validator("url")
    @classmethod
    def _no_password(cls, value: str | None) -> str | None:
        if value is not None and re.search(r"://[^/@:]+:[^@]*@", value):
            raise PydanticCustomError(
                "literal_secret", "a password in the URL is a literal secret; set the whole URL in MNOPS_STATE_URL"
            )
        return value


class AuditSettings(_File):
    sinks: list[str] = Field(
        default_factory=list,
        description="Where every audit event is also sent: file:PATH (JSON lines; relative to the estate folder) or "
        "an http(s):// webhook receiving CloudEvents JSON. MNOPS_AUDIT_SINKS adds more.",
    )

    @field_validator("sinks")
    @classmethod
    def _sink_forms(cls, value: list[str]) -> list[str]:
        for sink in value:
            if not sink.startswith(("file:", "http://", "https://")):
                raise PydanticCustomError("audit_sink", "an audit sink is file:PATH or an http(s):// URL")
            if _URL_WITH_PASSWORD.search(sink):
                raise PydanticCustomError(
                    "literal_secret",
                    "a webhook URL with a password is a literal secret; "
                    "put a bearer token in MNOPS_AUDIT_WEBHOOK_TOKEN",
                )
        return value


class SecretSettings(_File):
    file_dirs: dict[Tier, list[str]] = Field(
        default_factory=dict,
        description="By tier, folders outside the estate folder that `file:` secret sources may read (absolute, or "
        "relative to the estate folder); without them `file:` reads only inside the estate folder.",
    )


class EcosystemFile(_File):
    """`ecosystem.yaml`: the root layer of every platform, the providers in use, the state backend."""

    name: ResourceName
    description: str | None = None
    providers: dict[str, ProviderSettings] = Field(description="Providers platforms may use, by name.")
    state: StateSettings = Field(default_factory=StateSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    secrets: SecretSettings = Field(default_factory=SecretSettings)
    defaults: Layer = Field(default_factory=Layer, description="The lowest layer of every platform.")


class TemplateFile(Layer):
    """`platform-templates/<name>.yaml`: a reusable layer, optionally extending another template."""

    description: str | None = None
    extends: TemplateName | None = Field(None, description="Parent template; its settings sit below this one's.")


class EnvironmentFile(Layer):
    """`platform-cloud/<instance>/environment.yaml`: where the instance runs (tier, provider, region, drift)."""


class PlatformFile(Layer):
    """`platform-cloud/<instance>/platform.yaml`: the template and what this instance adds or overrides."""

    template: TemplateName
    description: str | None = None


FILE_ONLY_KEYS = {"description", "extends", "template"}
