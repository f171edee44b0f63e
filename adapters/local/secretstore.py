"""secrets/v1 on the local provider: each secret's value is Fernet ciphertext under the master key in `value.fernet`.

Values appear nowhere else: the metadata and `Observed.fields` carry the reference (`from`) and a keyed HMAC of the
value. `value_hmac` is observed from the stored ciphertext itself, so a value replaced behind the engine's back shows as
drift; the desired HMAC is what the source gives now for `env:`/`file:` (a changed variable is drift) and, for
`generate`, the HMAC recorded when the value was generated (so planning never regenerates anything).
"""

from __future__ import annotations

import secrets
import string
from pathlib import Path
from typing import Any

from cryptography.fernet import InvalidToken

from adapters.base import AdapterError, Desired, HealthReport, Observed, ResourceKey, Upkeep
from adapters.local import PROVIDER
from adapters.local.driver import LocalDriver
from adapters.local.files import METADATA, failures, read_metadata, reason, write_atomically, write_json
from contracts.secrets.v1 import SecretSourceUnreadable, read_reference

VALUE = "value.fernet"
ALPHABET = string.ascii_letters + string.digits
DAY = 86400


class SecretsDriver(LocalDriver):
    contract = "secrets/v1"
    kind = "secrets"

    def desired_fields(self, desired: Desired, current: Observed | None = None) -> dict[str, Any]:
        fields = super().desired_fields(desired)
        source = desired.spec.source
        if source == "generate":
            metadata = read_metadata(self.folder(desired.key), self.contract)
            fields["value_hmac"] = metadata["state"].get("written_hmac") if metadata else None
        else:
            with failures("read secret source", desired.key):
                fields["value_hmac"] = self.home.keys.hmac(self._from_source(desired.key, source))
        return fields

    def reveal(self, key: ResourceKey) -> str:
        """The secret's value, for the compute driver to hand to a process. Never log or record it."""
        with failures("reveal", key):
            folder, _ = self.settings(key, "reveal")
            return self._stored_value(folder)

    def maintain(self, key: ResourceKey) -> Upkeep:
        """Rotate the value if `rotation_days` have passed since it was written (`rotated`). A generated value is
        regenerated; `env:`/`file:` values are read from their source again."""
        with failures("rotate", key):
            folder, metadata = self.settings(key, "rotate")
            fields, state = metadata["fields"], metadata["state"]
            days = fields.get("rotation_days")
            if days is None or self.home.clock() - state.get("written_at", 0) < days * DAY:
                return Upkeep()
            value = self._fresh_value(key, fields["from"], fields["length"])
            metadata["state"] = self._store(folder, value)
            metadata["updated_at"] = self.home.clock()
            write_json(folder / METADATA, metadata)
            return Upkeep(rotated=True)

    # -- lifecycle ---------------------------------------------------------------------------------------------------

    def _provision(self, folder: Path, desired: Desired, previous: dict[str, Any] | None) -> dict[str, Any]:
        spec = desired.spec
        if spec.source != "generate":
            value = self._from_source(desired.key, spec.source)
            # Unchanged at the source: keep the stored value and its age (the rotation clock keeps running).
            if self._holds(folder, previous, self.home.keys.hmac(value)):
                return previous["state"]
            return self._store(folder, value)
        # A generated value is kept unless it is gone, unreadable, not the one we generated, or of another length.
        same_length = previous is not None and previous["fields"].get("length") == spec.length
        if same_length and self._holds(folder, previous, previous["state"].get("written_hmac")):
            return previous["state"]
        return self._store(folder, self._generate(spec.length))

    def _holds(self, folder: Path, previous: dict[str, Any] | None, value_hmac: str | None) -> bool:
        """Whether the folder holds a readable value with this HMAC, the one recorded when it was written."""
        if previous is None or value_hmac is None or previous["state"].get("written_hmac") != value_hmac:
            return False
        try:
            return self.home.keys.hmac(self._stored_value(folder)) == value_hmac
        except (OSError, InvalidToken, UnicodeDecodeError):
            return False

    def _observed_fields(self, folder: Path, metadata: dict[str, Any]) -> dict[str, Any]:
        fields = dict(metadata["fields"])
        try:
            fields["value_hmac"] = self.home.keys.hmac(self._stored_value(folder))
        except (OSError, InvalidToken, UnicodeDecodeError):
            fields["value_hmac"] = None
        return fields

    def _outputs(self, current: Observed, folder: Path, state: dict[str, Any]) -> dict[str, str]:
        return {"reference": folder.as_uri()}

    def _health(self, folder: Path, metadata: dict[str, Any]) -> HealthReport:
        try:
            value = self._stored_value(folder)
        except (OSError, InvalidToken, UnicodeDecodeError) as exc:
            return HealthReport(False, f"stored value at {folder / VALUE} is unusable: {reason(exc)}")
        if self.home.keys.hmac(value) != metadata["state"].get("written_hmac"):
            return HealthReport(False, "stored value is not the one this provider wrote")
        return HealthReport(True)

    # -- internals ---------------------------------------------------------------------------------------------------

    def _store(self, folder: Path, value: str) -> dict[str, Any]:
        write_atomically(folder / VALUE, self.home.keys.encrypt(value.encode()), 0o600)
        return {"written_hmac": self.home.keys.hmac(value), "written_at": self.home.clock()}

    def _stored_value(self, folder: Path) -> str:
        return self.home.keys.decrypt((folder / VALUE).read_bytes()).decode()

    def _fresh_value(self, key: ResourceKey, source: str, length: int) -> str:
        return self._generate(length) if source == "generate" else self._from_source(key, source)

    @staticmethod
    def _generate(length: int) -> str:
        return "".join(secrets.choice(ALPHABET) for _ in range(length))

    def _from_source(self, key: ResourceKey, source: str) -> str:
        try:
            return read_reference(source, self.home.base_dir)
        except SecretSourceUnreadable as exc:
            raise AdapterError(PROVIDER, "read secret source", key, str(exc)) from exc
