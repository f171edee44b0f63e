"""Generate a large synthetic estate: N instances of 5 resources each over a 3-level template chain."""

from __future__ import annotations

from pathlib import Path

ECOSYSTEM = """\
name: generated-estate
providers:
  local:
    default_region: local
defaults:
  provider: local
  owner: platform-team
  tags:
    organisation: example
    cost-center: cc-1000
  drift:
    policy: alert
"""

BASE = """\
description: Every platform keeps an audit log.
resources:
  audit-logs:
    contract: logging/v1
    retention_days: 365
"""

MIDDLE = """\
description: A service of family {family}.
extends: base
tags:
  family: f{family}
resources:
  jobs:
    contract: queue/v1
    retention_seconds: {retention}
    dead_letter:
      max_receives: 5
  api-key:
    contract: secrets/v1
    from: generate
    rotation_days: 90
"""

LEAF = """\
description: Variant {leaf}.
extends: family-{family}
tags:
  variant: v{leaf}
resources:
  assets:
    contract: storage/v1
    versioning: true
  api:
    contract: compute/v1
    command: [python3, -m, http.server, "{{port}}", --bind, 127.0.0.1]
    replicas: 1
    env:
      API_KEY: secret:api-key
    health:
      http: /
    depends_on: [assets, jobs, api-key]
"""

ENVIRONMENT = """\
tier: {tier}
tags:
  environment: {tier}
drift:
  policy: {policy}
"""

PLATFORM = """\
description: Generated instance {index}.
template: variant-{leaf}
owner: team-{team}
tags:
  service: svc-{index}
resources:
  jobs:
    retention_seconds: {retention}
  api:
    replicas: {replicas}
"""

TIERS = ("dev", "staging", "prod")
FAMILIES = 3
LEAVES = 12


def generate_estate(root: Path, instances: int = 1000, replicas: int | None = None) -> Path:
    """Write the estate under `root` and return it; 5 resources per instance, templates base > family > variant.

    `replicas` fixes every compute resource's replica count (0: declared, deployed, but no process started)."""
    (root / "platform-templates").mkdir(parents=True, exist_ok=True)
    (root / "ecosystem.yaml").write_text(ECOSYSTEM)
    (root / "platform-templates" / "base.yaml").write_text(BASE)
    for family in range(FAMILIES):
        text = MIDDLE.format(family=family, retention=86400 * (family + 1))
        (root / "platform-templates" / f"family-{family}.yaml").write_text(text)
    for leaf in range(LEAVES):
        text = LEAF.format(leaf=leaf, family=leaf % FAMILIES)
        (root / "platform-templates" / f"variant-{leaf}.yaml").write_text(text)
    for index in range(instances):
        tier = TIERS[index % len(TIERS)]
        folder = root / "platform-cloud" / f"svc-{index:05d}-{tier}"
        folder.mkdir(parents=True, exist_ok=True)
        policy = "alert" if tier == "dev" else "remediate"
        (folder / "environment.yaml").write_text(ENVIRONMENT.format(tier=tier, policy=policy))
        text = PLATFORM.format(
            index=index,
            leaf=index % LEAVES,
            team=index % 17,
            retention=3600 * (1 + index % 48),
            replicas=1 + index % 3 if replicas is None else replicas,
        )
        (folder / "platform.yaml").write_text(text)
    return root
