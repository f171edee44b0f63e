"""secrets/v1 on Azure: a Key Vault secret named as the resource, in the platform's own vault (`names.vault`).

The value is generated here (letters and digits, like the other providers) or read from `env:`/`file:` when the secret
is created or updated; it appears only in the body of `set_secret` and in no field, tag, log line or error. Values are
compared through `value_hmac`, an HMAC-SHA256 under a key kept as a secret of its own in the same vault
(`names.HMAC_KEY_SECRET`), so reading tags, a far wider permission than reading secrets, says nothing of a value.

The secret's tags hold its identity, the platform's and resource's tags, and the adapter's bookkeeping (`mnops:source`,
`mnops:length`, `mnops:rotation-days`, `mnops:value-hmac`): Key Vault allows 15 tags a secret, so a resource whose
tags would pass that is refused, naming `tags`. Key Vault tags belong to a version: every new value carries them again.
The version's content type carries the start of the same HMAC (`text/plain; mnops-value=<16 hex digits>`), so that a
listing of the vault tells a version written here from one written otherwise, and observation reads no value.

Rotation: Key Vault's own rotation policies are for keys, not secrets, so `maintain` rotates, as on aws: when the
current version is older than `rotation_days`, a generated value is regenerated and an `env:`/`file:` value read again.
Deleting soft-deletes the secret, then purges it so the name can be made again at once; where the vault forbids
purging (purge protection), the deleted secret stays recoverable and a later create recovers it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from adapters.azure import PROVIDER, names
from adapters.azure.context import AzureContext, Listed, failures
from adapters.azure.driver import AzureDriver
from adapters.base import (
    MANAGED_BY,
    TAG_MANAGED_BY,
    TAG_PLATFORM,
    AdapterError,
    Desired,
    HealthReport,
    Observed,
    ResourceDriver,
    ResourceKey,
    Upkeep,
    identity_tags,
)
from contracts.secrets.v1 import SecretSourceUnreadable, read_reference

ALPHABET = string.ascii_letters + string.digits
DAY = 86400
INTERNAL_TAG_PREFIX = "mnops:"
SOURCE_TAG = INTERNAL_TAG_PREFIX + "source"
LENGTH_TAG = INTERNAL_TAG_PREFIX + "length"
ROTATION_TAG = INTERNAL_TAG_PREFIX + "rotation-days"
HMAC_TAG = INTERNAL_TAG_PREFIX + "value-hmac"
VAULT_SKU = {"family": "A", "name": "standard"}
CONTENT_TYPE = "text/plain"


class SecretsDriver(AzureDriver):
    contract = "secrets/v1"
    arm_type = "Microsoft.KeyVault/vaults"
    per_resource = False

    def __init__(self, azure: AzureContext) -> None:
        super().__init__(azure)
        self._uris: dict[str, str] = {}
        self._keys: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def resource_name(self, key: ResourceKey) -> str:
        return key.name

    def desired_fields(self, desired: Desired, current: Observed | None = None) -> dict[str, Any]:
        fields = ResourceDriver.desired_fields(self, desired)
        source = desired.spec.source
        if source == "generate" and current is not None:
            # The value this adapter last wrote, as observation read it: a generated value is kept.
            fields["value_hmac"] = current.private.get(HMAC_TAG)
        elif source == "generate":
            with failures("plan", desired.key):
                found = self.find(desired.key)
            fields["value_hmac"] = found.private.get(HMAC_TAG) if found is not None else None
        else:
            value = self._from_source(desired.key, desired.spec.source)
            with failures("plan", desired.key):
                client = self._client(desired.key.platform)
                # Before the vault exists there is no key to compare under, and nothing to compare with.
                fields["value_hmac"] = self._hmac(client, value) if client is not None else None
        return fields

    # -- observation -------------------------------------------------------------------------------------------------

    def observe_listed(self, platform: str, listed: Sequence[Listed]) -> list[Observed]:
        vault = names.vault(self.azure.subscription_id, platform)
        if not any(r.type.lower() == self.arm_type.lower() and r.name.lower() == vault for r in listed):
            return []
        with failures("observe", None, subject=f"vault {vault}"):
            client = self._client(platform)
            if client is None:
                return []
            return self._observe_vault(platform, client)

    def listing(self) -> Iterable[Any]:
        return self.azure.client("keyvault").vaults.list_by_subscription()

    def observe_found(self, platform: str, found: Sequence[Any]) -> list[Observed]:
        vault = names.vault(self.azure.subscription_id, platform)
        model = next((v for v in found if str(v.name or "").lower() == vault), None)
        if model is None or model.properties is None or not model.properties.vault_uri:
            return []
        with self._lock:
            self._uris[platform] = model.properties.vault_uri
        with failures("observe", None, subject=f"vault {vault}"):
            return self._observe_vault(platform, self.azure.client(model.properties.vault_uri))

    def _observe_vault(self, platform: str, client: Any) -> list[Observed]:
        """The platform's secrets from one listing of its vault, which shows each current version's tags and content
        type. A version this adapter wrote carries its value's HMAC twice, both written in the same call as the value:
        whole in the tag `mnops:value-hmac` and in part in its content type (`_content_type`). Where the two agree, the
        tag is what observation shows, and no value is read; anything else (a version written by hand, even with the
        tags copied over, has a content type of its own) is read and its value's HMAC computed."""
        found: list[Observed] = []
        for properties in client.list_properties_of_secrets():
            tags = dict(properties.tags or {})
            key = self.identity(platform, tags)
            if key is None or properties.name != key.name:
                continue
            if properties.enabled is False:
                found.append(self._observation(key, client.vault_url, tags, None, "secret is disabled"))
            elif tags.get(HMAC_TAG) and properties.content_type == _content_type(tags[HMAC_TAG]):
                found.append(self._observation(key, client.vault_url, tags, tags[HMAC_TAG], None))
            else:
                with failures("observe", key):
                    observed = self._read(key)
                if observed is not None:
                    found.append(observed)
        return sorted(found, key=lambda o: o.key)

    def _complete(self, key: ResourceKey, found: Any) -> Observed | None:
        return self._read(key)

    def holds_any(self, platform: str) -> bool:
        """Whether the platform's vault holds a managed secret (the vault outlives its last secret)."""
        with failures("list platforms", None, subject=f"platform {platform}"):
            client = self._client(platform)
            if client is None:
                return False
            return any(self.identity(platform, dict(p.tags or {})) for p in client.list_properties_of_secrets())

    def _read(self, key: ResourceKey) -> Observed | None:
        client = self._client(key.platform)
        if client is None:
            return None
        try:
            secret = client.get_secret(key.name)
        except ResourceNotFoundError:
            return None
        except HttpResponseError as exc:
            if exc.status_code != 403:
                raise
            # A disabled secret's value cannot be read: it exists, damaged, and the next deploy writes it again.
            properties = next((p for p in client.list_properties_of_secrets() if p.name == key.name), None)
            if properties is None:
                return None
            tags = dict(properties.tags or {})
            return self._observation(key, client.vault_url, tags, None, "secret is disabled")
        value_hmac = self._hmac(client, secret.value) if secret.value is not None else None
        problem = None if secret.value is not None else "stored value is empty"
        return self._observation(key, client.vault_url, dict(secret.properties.tags or {}), value_hmac, problem)

    def _observation(
        self, key: ResourceKey, vault_url: str, tags: Mapping[str, str], value_hmac: str | None, problem: str | None
    ) -> Observed:
        # The versionless id: the secret, not one of its values.
        resource_id = f"{vault_url.rstrip('/')}/secrets/{key.name}"
        fields = {
            "from": tags.get(SOURCE_TAG),
            "length": _integer(tags.get(LENGTH_TAG)),
            "rotation_days": _integer(tags.get(ROTATION_TAG)),
            "value_hmac": value_hmac,
        }
        visible = {k: v for k, v in tags.items() if not k.startswith(INTERNAL_TAG_PREFIX)}
        private = {k: v for k, v in tags.items() if k.startswith(INTERNAL_TAG_PREFIX)}
        return Observed(key, self.contract, resource_id, fields, visible, problem, private)

    def health(self, current: Observed) -> HealthReport:
        try:
            with failures("health", current.key):
                found = self._read(current.key)
        except AdapterError as exc:
            return HealthReport(False, exc.reason)
        if found is None:
            return HealthReport(False, "secret is gone")
        if found.problem:
            return HealthReport(False, found.problem)
        if found.fields.get("value_hmac") != found.private.get(HMAC_TAG):
            return HealthReport(False, "stored value is not the one this provider wrote")
        return HealthReport(True)

    def outputs(self, current: Observed) -> dict[str, str]:
        return {"reference": current.resource_id}  # the versionless secret URL Container Apps' keyVaultUrl takes

    # -- lifecycle ---------------------------------------------------------------------------------------------------

    def _ensure(self, desired: Desired, current: Observed | None) -> Observed:
        spec = desired.spec
        key = desired.key
        client = self._ensure_vault(key.platform)
        existing = self._existing(client, key.name)
        stored_hmac = None
        tags_now: dict[str, str] = {}
        if existing is not None:
            tags_now = dict(existing.properties.tags or {})
            if existing.value is not None:
                stored_hmac = self._hmac(client, existing.value)
        written = tags_now.get(HMAC_TAG)
        value: str | None = None
        if spec.source != "generate":
            value = self._from_source(key, spec.source)
            if stored_hmac == self._hmac(client, value):
                value = None  # unchanged at the source: keep the stored value and its age
        elif not (
            stored_hmac is not None and stored_hmac == written and _integer(tags_now.get(LENGTH_TAG)) == spec.length
        ):
            # Generated values are kept unless gone, unreadable, not the one written here, or of another length.
            value = _generate(spec.length)
        value_hmac = self._hmac(client, value) if value is not None else stored_hmac
        tags = {**desired.tags, **_bookkeeping(spec, value_hmac)}
        operation = "update" if current is not None else "create"
        with failures(operation, key, redact=(value,) if value else ()):
            if value is not None:
                client.set_secret(key.name, value, tags=tags, content_type=_content_type(value_hmac), enabled=True)
            elif (
                tags != tags_now
                or existing is None
                or not existing.properties.enabled
                or existing.properties.content_type != _content_type(value_hmac)
            ):
                # The stored value's HMAC was just computed from the value itself: the version may carry it.
                client.update_secret_properties(
                    key.name, tags=tags, content_type=_content_type(value_hmac), enabled=True
                )
        observed = self._read(key)
        if observed is None:
            raise AdapterError(PROVIDER, operation, key, f"secret {key.name} vanished while it was being written")
        return observed

    def _existing(self, client: Any, name: str) -> Any:
        """The secret's current version (value included), recovering it first if it is deleted but recoverable."""
        try:
            return client.get_secret(name)
        except ResourceNotFoundError:
            pass
        except HttpResponseError as exc:
            if exc.status_code != 403:
                raise
            properties = next((p for p in client.list_properties_of_secrets() if p.name == name), None)
            return _Disabled(properties) if properties is not None else None
        try:
            client.get_deleted_secret(name)
        except ResourceNotFoundError:
            return None
        client.begin_recover_deleted_secret(name).wait()
        return client.get_secret(name)

    def _delete(self, key: ResourceKey) -> None:
        client = self._client(key.platform)
        if client is None:
            return
        try:
            client.begin_delete_secret(key.name).wait()
        except ResourceNotFoundError:
            return
        try:
            client.purge_deleted_secret(key.name)
        except HttpResponseError as exc:
            if exc.status_code not in (403, 404, 409):
                raise  # forbidden (purge protection) leaves it recoverable, which create handles

    def _tag(self, key: ResourceKey, tags: Mapping[str, str]) -> None:
        client = self._client(key.platform)
        if client is None:
            raise AdapterError(PROVIDER, "tag", key, "the platform's vault is gone")
        current = next((p for p in client.list_properties_of_secrets() if p.name == key.name), None)
        kept = dict(current.tags or {}) if current is not None else {}
        client.update_secret_properties(key.name, tags={**kept, **tags})

    def tag_identity(self, current: Observed) -> Observed:
        with failures("tag", current.key):
            self._tag(current.key, identity_tags(current.key, self.contract))
            found = self._read(current.key)
        if found is None:
            raise AdapterError(PROVIDER, "tag", current.key, "it vanished while it was being tagged")
        return found

    def maintain(self, key: ResourceKey) -> Upkeep:
        """Rotate the value if `rotation_days` have passed since the current version was written (`rotated`, with the
        new version as `detail`)."""
        with failures("rotate", key):
            client = self._client(key.platform)
            if client is None:
                return Upkeep()
            try:
                secret = client.get_secret(key.name)
            except ResourceNotFoundError:
                return Upkeep()
            tags = dict(secret.properties.tags or {})
            days = _integer(tags.get(ROTATION_TAG))
            written_at = secret.properties.created_on
            if days is None or written_at is None or self.azure.clock() - written_at.timestamp() < days * DAY:
                return Upkeep()
            source = tags.get(SOURCE_TAG, "generate")
            length = _integer(tags.get(LENGTH_TAG)) or 32
        value = _generate(length) if source == "generate" else self._from_source(key, source)
        value_hmac = self._hmac(client, value)
        with failures("rotate", key, redact=(value,)):
            made = client.set_secret(
                key.name, value, tags={**tags, HMAC_TAG: value_hmac}, content_type=_content_type(value_hmac)
            )
        return Upkeep(rotated=True, detail=f"version {made.properties.version}")

    def value_hmac(self, platform: str, value: str) -> str:
        """A value's HMAC under the platform's key (compute shows credential-like plain env values so), making the
        platform's vault if it has none yet."""
        with failures("plan", None, subject=f"platform {platform}"):
            return self._hmac(self._ensure_vault(platform), value)

    # -- the vault ---------------------------------------------------------------------------------------------------

    def _vault_uri(self, platform: str) -> str | None:
        with self._lock:
            if platform in self._uris:
                return self._uris[platform]
        try:
            vault = self.azure.client("keyvault").vaults.get(
                names.group(platform), names.vault(self.azure.subscription_id, platform)
            )
        except ResourceNotFoundError:
            return None
        uri = vault.properties.vault_uri
        with self._lock:
            self._uris[platform] = uri
        return uri

    def _client(self, platform: str) -> Any:
        uri = self._vault_uri(platform)
        return self.azure.client(uri) if uri else None

    def _ensure_vault(self, platform: str) -> Any:
        tags = {TAG_PLATFORM: platform, TAG_MANAGED_BY: MANAGED_BY}
        group = self.azure.ensure_group(platform)
        name = names.vault(self.azure.subscription_id, platform)
        keyvault = self.azure.client("keyvault")
        try:
            found = keyvault.vaults.get(group, name)
        except ResourceNotFoundError:
            found = None
        if found is None:
            if not self.azure.tenant_id:
                raise AdapterError(
                    PROVIDER,
                    "create",
                    None,
                    "a Key Vault needs the tenant: set the azure provider's `tenant_id` setting or AZURE_TENANT_ID",
                )
            body = {
                "location": self.azure.location,
                "tags": tags,
                "properties": {
                    "tenantId": self.azure.tenant_id,
                    "sku": VAULT_SKU,
                    # Access by Azure RBAC role assignments (Key Vault Secrets Officer), not vault access policies.
                    "enableRbacAuthorization": True,
                    "enableSoftDelete": True,
                    "softDeleteRetentionInDays": 7,
                },
            }
            found = keyvault.vaults.begin_create_or_update(group, name, body).result()
        with self._lock:
            self._uris[platform] = found.properties.vault_uri
        return self.azure.client(found.properties.vault_uri)

    def _hmac(self, client: Any, value: str) -> str:
        return "hmac-sha256:" + hmac.new(self._hmac_key(client), value.encode(), hashlib.sha256).hexdigest()

    def _hmac_key(self, client: Any) -> bytes:
        """The vault's HMAC key, made on first use and read back. Key Vault has no create-if-absent: two deployers
        racing to make it each write a version and the later wins, so values compared under the earlier key read as
        changed once, and the next deploy writes them again."""
        uri = client.vault_url
        with self._lock:
            if uri in self._keys:
                return self._keys[uri]
        try:
            value = client.get_secret(names.HMAC_KEY_SECRET).value
        except ResourceNotFoundError:
            fresh = secrets.token_hex(32)
            client.set_secret(
                names.HMAC_KEY_SECRET, fresh, content_type="mnops/hmac-key", tags={TAG_MANAGED_BY: MANAGED_BY}
            )
            value = client.get_secret(names.HMAC_KEY_SECRET).value
        key = bytes.fromhex(value)
        with self._lock:
            self._keys[uri] = key
        return key

    def _from_source(self, key: ResourceKey, source: str) -> str:
        try:
            return read_reference(source, self.azure.base_dir)
        except SecretSourceUnreadable as exc:
            raise AdapterError(PROVIDER, "read secret source", key, str(exc)) from exc


class _Disabled:
    """A secret whose value cannot be read (disabled): its properties only."""

    def __init__(self, properties: Any) -> None:
        self.properties = properties
        self.value = None


def _generate(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def _bookkeeping(spec: Any, value_hmac: str | None) -> dict[str, str]:
    tags = {SOURCE_TAG: spec.source, LENGTH_TAG: str(spec.length)}
    if spec.rotation_days is not None:
        tags[ROTATION_TAG] = str(spec.rotation_days)
    if value_hmac is not None:
        tags[HMAC_TAG] = value_hmac
    return tags


def _content_type(value_hmac: str | None) -> str:
    """The content type of a version this adapter writes: text, marked with the start of its value's HMAC, so that
    a listing tells a version written here (its tag and content type agree) from one written otherwise."""
    if not value_hmac:
        return CONTENT_TYPE
    return f"{CONTENT_TYPE}; mnops-value={value_hmac.removeprefix('hmac-sha256:')[:16]}"


def _integer(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() else None
