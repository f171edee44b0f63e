"""compute/v1: a replicated long-running service with a health check."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.compute import ComputeContract

ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
EnvName = Annotated[str, StringConstraints(pattern=ENV_NAME_PATTERN)]
HEALTH_PATH_PATTERN = r"^/"
PORT_PLACEHOLDER = "{port}"


class Health(BaseModel):
    """How a replica shows it is healthy: an HTTP GET answering 2xx/3xx, or, with no `http`, a live process."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, hide_input_in_errors=True)

    http: Annotated[str, StringConstraints(pattern=HEALTH_PATH_PATTERN)] | None = Field(
        None, description="Path probed with GET on each replica's port."
    )
    timeout_seconds: int = Field(30, ge=1, le=600, description="How long a new replica may take to become healthy.")


class ComputeV1(ComputeContract):
    """A service: `replicas` copies of `command` (or `image` on container providers), each given a port as `{port}`."""

    version: ClassVar[str] = "v1"

    contract: Literal["compute/v1"] = Field(description="Contract and version this resource is bound to.")
    command: list[Annotated[str, StringConstraints(min_length=1)]] = Field(
        min_length=1, description="Program and arguments; '{port}' is replaced by the replica's port."
    )
    image: str | None = Field(None, description="Container image, for providers that run containers.")
    replicas: int = Field(1, ge=0, le=100, description="Number of copies kept running.")
    cpu: float = Field(0.25, ge=0.125, le=64, description="vCPUs per replica.")
    memory_mb: int = Field(512, ge=64, le=262144, description="Memory per replica, in MiB.")
    env: dict[EnvName, str] = Field(
        default_factory=dict,
        description="Environment variables; 'secret:<resource>' injects the value of a secrets resource.",
    )
    health: Health = Field(default_factory=Health, description="Health check run after every deploy.")
