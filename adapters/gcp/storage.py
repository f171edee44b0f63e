"""storage/v1 on GCP: a Cloud Storage bucket with uniform bucket-level access, public access prevention, versioning, a
lifecycle rule for expiry and labels.

- `encrypted`: Cloud Storage encrypts every object at rest with Google-managed keys and that cannot be turned off, so
  the bucket reports `encrypted: true` whatever was declared: `encrypted: false` asks for less than GCS gives, not for
  something else. A bucket someone moved to a customer-managed key counts as encrypted and is left as it is.
- `public`: off means public access prevention `enforced`. On means `inherited` plus an IAM binding of `allUsers` to
  `roles/storage.objectViewer`; an organisation policy enforcing prevention still wins, as it should. Uniform
  bucket-level access is always on: object ACLs are how buckets leak without anyone reading the bucket's policy.
- `expire_after_days`: one lifecycle rule, `Delete` at that `age`; on a versioned bucket that makes the live version
  noncurrent and keeps it, as `versioning` promises. Rules somebody else added are kept.
- Deleting empties the bucket first (every generation), since GCS refuses to delete a bucket with objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.api_core import exceptions as api_exceptions

from adapters.base import AdapterError, Desired, Observed, ResourceDriver, ResourceKey
from adapters.gcp import PROVIDER, labels, names
from adapters.gcp.driver import GcpDriver

PUBLIC_ROLE = "roles/storage.objectViewer"
PUBLIC_MEMBER = "allUsers"
ENFORCED = "enforced"
INHERITED = "inherited"


class StorageDriver(GcpDriver):
    contract = "storage/v1"

    def bucket(self, key: ResourceKey) -> str:
        return names.bucket(self.gcp.project, key)

    def check_name(self, key: ResourceKey, operation: str) -> None:
        super().check_name(key, operation)
        if any(word in self.bucket(key) for word in names.FORBIDDEN_IN_BUCKETS):
            raise AdapterError(PROVIDER, operation, key, "GCS refuses bucket names containing 'google'")

    def desired_fields(self, desired: Desired, current: Observed | None = None) -> dict[str, Any]:
        fields = ResourceDriver.desired_fields(self, desired)
        fields["encrypted"] = True
        return fields

    # -- observation -------------------------------------------------------------------------------------------------

    def _list(self, platforms: list[str] | None) -> list[Observed | AdapterError]:
        """One listing of the buckets named in mnops's namespace (a platform's own prefix when only one is asked
        for), in full projection, so labels and settings come with it; the IAM policy is read only for the buckets
        whose public access prevention lets a policy make them public."""
        client = self.gcp.storage()
        found: list[Observed | AdapterError] = []
        listing = client.list_buckets(
            prefix=names.bucket_prefix(platforms or []), projection="full", retry=self.gcp.storage_retry
        )
        for bucket in listing:
            key = self.identity(labels.from_labels(bucket.labels))
            if (
                key is None
                or (platforms is not None and key.platform not in platforms)
                or bucket.name != self.bucket(key)
            ):
                continue  # not ours, or labelled as a key whose bucket it is not (copied labels)
            try:
                with self.failures("observe", key):
                    found.append(self._observation(key, bucket))
            except AdapterError as exc:
                found.append(exc)
        return found

    def _find(self, key: ResourceKey) -> Observed | None:
        client = self.gcp.storage()
        try:
            bucket = client.get_bucket(self.bucket(key), retry=self.gcp.storage_retry)
        except api_exceptions.NotFound:
            return None
        return self._observation(key, bucket)

    def _observation(self, key: ResourceKey, bucket: Any) -> Observed:
        iam = bucket.iam_configuration
        prevention = iam.public_access_prevention
        public = prevention != ENFORCED and _has_public_binding(
            bucket.get_iam_policy(requested_policy_version=3, retry=self.gcp.storage_retry)
        )
        problem = None
        if not iam.uniform_bucket_level_access_enabled:
            # Object ACLs would decide who reads what, beyond what `public` says: repaired by the next deploy.
            problem = "uniform bucket-level access is off"
        fields = {
            "versioning": bool(bucket.versioning_enabled),
            "encrypted": True,
            "public": public,
            "expire_after_days": _expiry_days(list(bucket.lifecycle_rules)),
        }
        return self.observed(key, f"gs://{bucket.name}", fields, labels.from_labels(bucket.labels), problem)

    def outputs(self, current: Observed) -> dict[str, str]:
        return {"name": current.resource_id.removeprefix("gs://"), "url": current.resource_id}

    # -- lifecycle ---------------------------------------------------------------------------------------------------

    def _ensure(self, desired: Desired, current: Observed | None) -> Observed:
        spec = desired.spec
        client = self.gcp.storage()
        name = self.bucket(desired.key)
        wanted_labels = labels.to_labels(desired.tags)
        try:
            bucket = client.get_bucket(name, retry=self.gcp.storage_retry)
        except api_exceptions.NotFound:
            bucket = None
        if bucket is None:
            bucket = self._create(desired.key, name, wanted_labels, spec)
        # Labels first: from here on the bucket is found by observation even if a later step fails.
        changed = False
        if dict(bucket.labels) != wanted_labels:
            bucket.labels = wanted_labels
            changed = True
        if bool(bucket.versioning_enabled) != spec.versioning:
            bucket.versioning_enabled = spec.versioning
            changed = True
        iam = bucket.iam_configuration
        if not iam.uniform_bucket_level_access_enabled:
            iam.uniform_bucket_level_access_enabled = True
            changed = True
        if spec.public and iam.public_access_prevention == ENFORCED:
            iam.public_access_prevention = INHERITED
            changed = True
        if not spec.public and iam.public_access_prevention != ENFORCED:
            # Closing: prevention first, so the bucket is private from this call on whatever the policy says.
            iam.public_access_prevention = ENFORCED
            changed = True
        rules = list(bucket.lifecycle_rules)
        others = [r for r in rules if not _is_expiry(r)]
        wanted_rules = [*others, *([_expiry_rule(spec.expire_after_days)] if spec.expire_after_days else [])]
        if rules != wanted_rules:
            bucket.lifecycle_rules = wanted_rules
            changed = True
        if changed:
            bucket.patch(retry=self.gcp.storage_retry)
        self._ensure_binding(bucket, spec.public)
        found = self._find(desired.key)
        if found is None:
            raise AdapterError(PROVIDER, "create", desired.key, f"bucket {name} vanished while it was being set up")
        return found

    def _create(self, key: ResourceKey, name: str, wanted_labels: dict[str, str], spec: Any) -> Any:
        """Make the bucket, with its labels and settings in the one call (so it is never seen half-made); a bucket
        of that name that exists already is this project's (made by a crashed create) or somebody else's."""
        client = self.gcp.storage()
        bucket = client.bucket(name)
        bucket.labels = wanted_labels
        bucket.versioning_enabled = spec.versioning
        bucket.iam_configuration.uniform_bucket_level_access_enabled = True
        bucket.iam_configuration.public_access_prevention = INHERITED if spec.public else ENFORCED
        if spec.expire_after_days:
            bucket.lifecycle_rules = [_expiry_rule(spec.expire_after_days)]
        try:
            return client.create_bucket(bucket, location=self.gcp.location, retry=self.gcp.storage_retry)
        except api_exceptions.Conflict as exc:
            try:
                return client.get_bucket(name, retry=self.gcp.storage_retry)
            except api_exceptions.Forbidden:
                raise AdapterError(PROVIDER, "create", key, f"bucket name {name} is taken by another project") from exc

    def _ensure_binding(self, bucket: Any, public: bool) -> None:
        policy = bucket.get_iam_policy(requested_policy_version=3, retry=self.gcp.storage_retry)
        if _has_public_binding(policy) == public:
            return
        bindings = [b for b in policy.bindings if not (b["role"] == PUBLIC_ROLE and PUBLIC_MEMBER in b["members"])]
        if public:
            bindings.append({"role": PUBLIC_ROLE, "members": {PUBLIC_MEMBER}})
        else:
            # Keep the other members of the role's binding: somebody else's grant is not ours to remove.
            for binding in policy.bindings:
                if binding["role"] == PUBLIC_ROLE and PUBLIC_MEMBER in binding["members"]:
                    rest = set(binding["members"]) - {PUBLIC_MEMBER}
                    if rest:
                        bindings.append({**binding, "members": rest})
        policy.bindings = bindings
        bucket.set_iam_policy(policy, retry=self.gcp.storage_retry)

    def _delete(self, key: ResourceKey) -> None:
        client = self.gcp.storage()
        name = self.bucket(key)
        bucket = client.bucket(name)
        try:
            for blob in client.list_blobs(name, versions=True, retry=self.gcp.storage_retry):
                bucket.delete_blob(blob.name, generation=blob.generation, retry=self.gcp.storage_retry)
            bucket.delete(retry=self.gcp.storage_retry)
        except api_exceptions.NotFound:
            return

    def _add_labels(self, key: ResourceKey, wanted: Mapping[str, str]) -> None:
        client = self.gcp.storage()
        bucket = client.get_bucket(self.bucket(key), retry=self.gcp.storage_retry)
        bucket.labels = {**bucket.labels, **wanted}
        bucket.patch(retry=self.gcp.storage_retry)


def _has_public_binding(policy: Any) -> bool:
    return any(b["role"] == PUBLIC_ROLE and PUBLIC_MEMBER in b["members"] for b in policy.bindings)


def _expiry_rule(days: int) -> dict[str, Any]:
    return {"action": {"type": "Delete"}, "condition": {"age": days}}


def _is_expiry(rule: Mapping[str, Any]) -> bool:
    """Whether a lifecycle rule deletes every object at an age and nothing else: the one `expire_after_days` makes."""
    return dict(rule.get("action", {})) == {"type": "Delete"} and set(rule.get("condition", {})) == {"age"}


def _expiry_days(rules: list[Mapping[str, Any]]) -> int | None:
    ages = [int(r["condition"]["age"]) for r in rules if _is_expiry(r)]
    return ages[0] if ages else None
