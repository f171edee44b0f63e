"""The asset factory: one `Definitions` from one estate, built by plain Python (a component per YAML file would load
quadratically). Lineage: contract -> template chain -> config -> platform -> observed, ecosystem.yaml under them all.

`config/<instance>` carries the governance checks (blocking at error severity), so a failing policy stops the deploy
downstream; the deploy body evaluates the same policies again, so launching `platform/<instance>` alone bypasses
nothing. Materializing `platform/<instance>` is a deployment through the engine.
"""

# No `from __future__ import annotations` here: Dagster evaluates string annotations of every asset function on load,
# which for 1,000 instances cost 0.3 s.
import datetime
import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    AutomationCondition,
    Failure,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableRecord,
    TableSchema,
    asset,
)

from contracts import CONTRACTS, ContractSpec
from mnops_assets.engine import tracing
from mnops_assets.engine.apply import Engine
from mnops_assets.engine.errors import DeployFailed, GovernanceRefused
from mnops_assets.errors import MnopsError, dotted
from mnops_assets.estate import ECOSYSTEM_FILE, Estate, ResolvedPlatform, ResolvedTemplate
from mnops_assets.governance import Finding, PolicySet, evaluate
from mnops_assets.graph.resources import Mnops

LAYER = "layer"
ECOSYSTEM_ROOT = "ECOSYSTEM_ROOT"
PROVIDER_ABSTRACTION = "CLOUDPROVIDERABSTRACTION"
PLATFORM_INSTANCE = "CLOUDPLATFORMINSTANCE"

WAIT_TAG = "mnops/wait"
FORCE_TAG = "mnops/force"
"""Run tag letting a protected platform's deploy delete or replace resources (the CLI's --force)."""
BLOCKING_CHECK = "passes_blocking_policies"
ADVISORY_CHECK = "passes_advisory_policies"
HEALTH_CHECK = "is_healthy"
SYNC_CHECK = "is_in_sync"

ECOSYSTEM_KEY = AssetKey(["ecosystem"])

# Redeploy when the config changed and its blocking checks passed: eager() alone would not wait for the checks.
AUTO_DEPLOY = AutomationCondition.eager() & AutomationCondition.all_deps_blocking_checks_passed()
# What only records (contracts, ecosystem.yaml, templates, configs and their governance checks) re-materializes by
# itself when missing or when its code version (its YAML) changes; deploying stays opt-in per instance.
# (Not on_missing(): that ignores what is already missing at the first evaluation, i.e. everything on a new instance.)
AUTO_RECORD = (
    AutomationCondition.missing()
    & ~AutomationCondition.any_deps_missing()
    & ~AutomationCondition.in_progress()
    & ~AutomationCondition.execution_failed()
) | AutomationCondition.code_version_changed()

_TAG_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,63}$")
_TAG_VALUE = re.compile(r"^[A-Za-z0-9_.-]{0,63}$")


def contract_key(tag: str) -> AssetKey:
    return AssetKey(["contract", tag.replace("/", "_")])


def template_key(name: str) -> AssetKey:
    return AssetKey(["template", name])


def config_key(name: str) -> AssetKey:
    return AssetKey(["config", name])


def platform_key(name: str) -> AssetKey:
    return AssetKey(["platform", name])


def observed_key(name: str) -> AssetKey:
    return AssetKey(["observed", name])


def build_assets(estate: Estate) -> list[AssetsDefinition | AssetSpec]:
    """Every asset of the estate's graph (the sensors and checks over `observed/*` live in sensors.py)."""
    found: list[AssetsDefinition | AssetSpec] = [_contract_asset(tag, model) for tag, model in CONTRACTS.items()]
    found.append(_ecosystem_asset(estate))
    found.extend(_template_asset(template) for template in estate.templates.values())
    for platform in estate.platforms.values():
        found.extend(_instance_assets(platform))
    return found


# -- contracts, ecosystem.yaml, templates ----------------------------------------------------------------------------


def _contract_asset(tag: str, model: type[ContractSpec]) -> AssetsDefinition:
    schema = model.model_json_schema(by_alias=True)

    @asset(
        key=contract_key(tag),
        group_name="contracts",
        description=(model.__doc__ or tag).strip().splitlines()[0],
        tags={LAYER: PROVIDER_ABSTRACTION},
        kinds={"pydantic"},
        code_version=_digest(schema),
        automation_condition=AUTO_RECORD,
    )
    def _contract() -> MaterializeResult:
        return MaterializeResult(metadata={"contract": tag, "json_schema": MetadataValue.json(schema)})

    return _contract


def _ecosystem_asset(estate: Estate) -> AssetsDefinition:
    path = estate.root / ECOSYSTEM_FILE

    @asset(
        key=ECOSYSTEM_KEY,
        group_name="ecosystem",
        description=estate.ecosystem.description or "The root layer of every platform.",
        tags={LAYER: ECOSYSTEM_ROOT},
        kinds={"yaml"},
        code_version=_digest(path.read_text(encoding="utf-8")),
        automation_condition=AUTO_RECORD,
    )
    def _ecosystem(mnops: Mnops) -> MaterializeResult:
        current, _ = mnops.load([])
        data = current.ecosystem.model_dump(mode="json")
        return MaterializeResult(
            metadata={
                "estate": current.ecosystem.name,
                "providers": MetadataValue.json(data["providers"]),
                "defaults": MetadataValue.json(data["defaults"]),
                "file": MetadataValue.path(str(path)),
            }
        )

    return _ecosystem


def _template_asset(template: ResolvedTemplate) -> AssetsDefinition:
    parent = template_key(template.chain[-2]) if len(template.chain) > 1 else ECOSYSTEM_KEY
    name = template.name

    @asset(
        key=template_key(name),
        deps=[parent],
        group_name="templates",
        description=template.description or f"Template {name}",
        tags={LAYER: ECOSYSTEM_ROOT},
        kinds={"yaml"},
        code_version=_digest(template.data),
        automation_condition=AUTO_RECORD,
    )
    def _template(mnops: Mnops) -> MaterializeResult:
        current, _ = mnops.load()
        resolved = current.templates[name]
        return MaterializeResult(
            metadata={
                "chain": " > ".join(resolved.chain),
                "resolved": MetadataValue.json(resolved.data),
                "provenance": _provenance_table(resolved.provenance),
            }
        )

    return _template


# -- one instance: config, platform, observed ------------------------------------------------------------------------


def _instance_assets(platform: ResolvedPlatform) -> list[AssetsDefinition | AssetSpec]:
    spec = platform.spec
    name = spec.name
    common: dict[str, Any] = {
        "owners": [_owner(spec.owner)],
        "tags": _tags(platform),
        "kinds": {spec.provider},
        "code_version": platform.config_hash,
    }
    contracts = sorted({resource.contract for resource in spec.resources.values()})
    config = config_key(name)

    # A platform whose resources read another's outputs (`ref:<platform>/...`) is built from that platform as
    # deployed: the edge marks this config when the producer changes, and orders a deploy of both.
    producers = [platform_key(other) for other in spec.producers()]

    @asset(
        key=config,
        deps=[template_key(spec.template), ECOSYSTEM_KEY, *(contract_key(tag) for tag in contracts), *producers],
        group_name="configs",
        description=f"The resolved spec of {name}, judged by the estate's policies.",
        check_specs=[
            AssetCheckSpec(
                BLOCKING_CHECK,
                asset=config,
                blocking=True,
                description="No unwaived error-severity policy finding: otherwise nothing downstream deploys.",
            ),
            AssetCheckSpec(ADVISORY_CHECK, asset=config, description="No unwaived warn- or info-severity finding."),
        ],
        automation_condition=AUTO_RECORD,
        **common,
    )
    def _config(mnops: Mnops) -> MaterializeResult:
        estate, policies = mnops.load([name])
        resolved = estate.platform(name)
        findings = _findings(resolved, policies)
        blocking = [f for f in findings if f.blocking]
        advisory = [f for f in findings if f.waived_by is None and not f.blocking]
        return MaterializeResult(
            metadata={
                "config_hash": resolved.config_hash,
                "template_chain": " > ".join(resolved.template_chain),
                "spec": MetadataValue.json(resolved.spec.model_dump(mode="json", by_alias=True)),
                "provenance": _provenance_table(resolved.provenance),
                "waived": len([f for f in findings if f.waived_by is not None]),
            },
            check_results=[
                _check_result(BLOCKING_CHECK, blocking, AssetCheckSeverity.ERROR),
                _check_result(ADVISORY_CHECK, advisory, AssetCheckSeverity.WARN),
            ],
        )

    @asset(
        key=platform_key(name),
        deps=[config],
        group_name="platforms",
        description=f"{name} as deployed on {spec.provider}: materializing it plans and applies, with rollback.",
        check_specs=[AssetCheckSpec(HEALTH_CHECK, asset=platform_key(name), description="Every resource is healthy.")],
        pool=f"mnops-{spec.provider}",
        automation_condition=AUTO_DEPLOY if spec.auto_deploy and spec.enabled else None,
        **common,
    )
    def _platform(context, mnops: Mnops) -> MaterializeResult:  # noqa: ANN001 - dagster reads the bare name
        estate, policies = mnops.load([name])
        resolved = estate.platform(name)
        if resolved.config_hash != platform.config_hash:
            context.log.warning(
                f"{name}'s YAML changed since this code location loaded: deploying config "
                f"{resolved.config_hash[:12]}; reload the code location to see it in the graph"
            )
        if not resolved.spec.enabled:
            raise Failure(description=f"{name} is not enabled (enabled: false): set `enabled: true` to deploy it")
        engine = mnops.engine(estate, policies)
        # Launched from the UI a deploy queues behind another of the same platform; the CLI may ask to fail at once.
        wait = context.run.tags.get(WAIT_TAG, "true") == "true"
        force = context.run.tags.get(FORCE_TAG, "false") == "true"
        try:
            try:
                with tracing.within_run(context.run.run_id):
                    result = engine.deploy(resolved.spec, wait=wait, force=force)
            except GovernanceRefused as exc:
                raise Failure(description=str(exc), metadata={"findings": "\n".join(exc.findings)}) from exc
            except DeployFailed as exc:
                raise Failure(description=str(exc), metadata={"rolled_back": exc.rolled_back}) from exc
            except MnopsError as exc:
                raise Failure(description=str(exc)) from exc
            health = result.health or engine.health(resolved.spec)
            version = result.version.version if result.version else _current_version(engine, name)
            # Sensitive outputs are recorded as references to where their values are kept: safe to show.
            outputs = {resource: row.outputs for resource, row in sorted(engine.store.resources(name).items())}
        finally:
            engine.close()
        return MaterializeResult(
            metadata={
                "version": version,
                "config_hash": resolved.config_hash,
                "changed": result.changed,
                "plan": MetadataValue.json(result.plan.to_dict()),
                "resources": _resources_table(result),
                "outputs": MetadataValue.json(outputs),
                "audit_events": MetadataValue.json(list(result.audit_seqs)),
            },
            check_results=[
                AssetCheckResult(
                    check_name=HEALTH_CHECK,
                    passed=all(report.healthy for report in health.values()),
                    metadata={n: ("healthy" if r.healthy else f"UNHEALTHY: {r.detail}") for n, r in health.items()},
                )
            ],
        )

    observed = AssetSpec(
        observed_key(name),
        deps=[platform_key(name)],
        group_name="observed",
        description=f"What {spec.provider} really holds for {name}, as the drift sensor last saw it.",
        owners=common["owners"],
        tags=common["tags"],
        kinds=common["kinds"],
    )
    return [_config, _platform, observed]


# -- helpers ---------------------------------------------------------------------------------------------------------


def _current_version(engine: Engine, name: str) -> int | None:
    latest = engine.store.latest_version(name)
    return latest.version if latest is not None else None


def _findings(platform: ResolvedPlatform, policies: PolicySet) -> list[Finding]:
    return list(evaluate([platform], policies, policies.waivers, datetime.date.today()).findings)


def _check_result(name: str, findings: Sequence[Finding], severity: AssetCheckSeverity) -> AssetCheckResult:
    return AssetCheckResult(
        check_name=name,
        passed=not findings,
        severity=severity,
        metadata={
            "findings": MetadataValue.md("\n".join(f"- `{f}`" for f in findings) or "none"),
            "count": len(findings),
            "rules": MetadataValue.json(sorted({f.rule for f in findings})),
        },
    )


def _resources_table(result: Any) -> MetadataValue:
    actions = {step.name: step.action.value for step in result.plan.steps}
    version = result.version
    ids = version.resources if version is not None else {}
    records = [
        TableRecord({"resource": name, "action": actions.get(name, "no-op"), "resource_id": ids.get(name, "")})
        for name in sorted(set(actions) | set(ids) | set(result.plan.unchanged))
    ]
    schema = TableSchema(
        columns=[
            TableColumn("resource", "string"),
            TableColumn("action", "string"),
            TableColumn("resource_id", "string"),
        ]
    )
    return MetadataValue.table(records, schema)


def _provenance_table(provenance: Any) -> MetadataValue:
    lines = [
        f"| `{dotted(path)}` | {origin.layer.name} | `{origin.where()}` |"
        for path, origin in sorted(provenance.items(), key=lambda item: dotted(item[0]))
        if not origin.removed
    ]
    return MetadataValue.md("| key | layer | set at |\n|---|---|---|\n" + "\n".join(lines))


def _tags(platform: ResolvedPlatform) -> dict[str, str]:
    spec = platform.spec
    tags = {LAYER: PLATFORM_INSTANCE, "tier": spec.tier, "provider": spec.provider, "template": spec.template}
    # Dagster tags are stricter than cloud tags: the estate's own tags are carried where they fit.
    for key, value in spec.tags.items():
        if _TAG_KEY.match(key) and _TAG_VALUE.match(value) and key not in tags:
            tags[key] = value
    return tags


def _owner(owner: str) -> str:
    return owner if "@" in owner else f"team:{owner}"


def _digest(data: Any) -> str:
    text = data if isinstance(data, str) else json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
