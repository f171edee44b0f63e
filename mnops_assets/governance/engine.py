"""The governance engine: resolved platforms, rules and waivers in, findings with file and line out.

`evaluate` is a pure function (no files, no clock: `today` is a parameter) so the CLI, the Dagster asset checks and
the deploy step can all call it and agree. Besides the rules of policies.yaml it always checks that each resource's
contract version is one its provider's adapter declares, and it reports waivers that expired or waived nothing.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from typing import Any

from adapters import registry
from contracts import ContractSpec
from mnops_assets.errors import MnopsError, dotted
from mnops_assets.estate import ResolvedPlatform
from mnops_assets.estate.spec import PlatformSpec
from mnops_assets.governance import kinds
from mnops_assets.governance.model import Severity
from mnops_assets.governance.paths import Path_
from mnops_assets.governance.plugins import PluginFailed, PolicyPlugin

CONTRACT_SUPPORT = "GL-CONTRACT-SUPPORT"
WAIVER_EXPIRED = "GL-WAIVER-EXPIRED"
WAIVER_UNUSED = "GL-WAIVER-UNUSED"
BUILTIN_RULES: dict[str, tuple[Severity, str]] = {
    CONTRACT_SUPPORT: ("error", "Every resource's contract version is one its provider's adapter declares."),
    WAIVER_EXPIRED: ("warn", "A waiver past its expiry date no longer waives anything; renew it or fix the finding."),
    WAIVER_UNUSED: ("info", "A waiver that waives no finding can be removed."),
}
"""Rules the engine applies on its own; policies.yaml may not reuse their ids, and waivers cannot waive them."""

SEVERITY_RANK: dict[str, int] = {"error": 0, "warn": 1, "info": 2}


@dataclass(frozen=True, slots=True)
class Location:
    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, eq=False)
class Rule:
    """A loaded rule: its scope compiled, its params validated against its kind (or its plugin)."""

    id: str
    description: str
    severity: Severity
    kind: str
    params: Any
    location: Location
    tiers: frozenset[str] = frozenset()
    providers: frozenset[str] = frozenset()
    contracts: frozenset[str] = frozenset()
    """Contract kinds and versions; non-empty means the rule judges each such resource rather than the platform."""
    instances: tuple[str, ...] = ()
    plugin: PolicyPlugin | None = None
    plugin_name: str | None = None

    @property
    def per_resource(self) -> bool:
        return bool(self.contracts)

    def applies_to(self, platform: ResolvedPlatform) -> bool:
        spec = platform.spec
        return (
            (not self.tiers or spec.tier in self.tiers)
            and (not self.providers or spec.provider in self.providers)
            and (not self.instances or any(fnmatchcase(spec.name, glob) for glob in self.instances))
        )

    def covers(self, resource: ContractSpec) -> bool:
        return resource.contract in self.contracts or type(resource).kind in self.contracts


@dataclass(frozen=True)
class Waiver:
    rule: str
    instance: str
    resource: str | None
    owner: str
    reason: str
    expires: datetime.date
    location: Location
    """Where the waiver starts in waivers.yaml."""
    expires_location: Location

    @property
    def target(self) -> str:
        return self.instance if self.resource is None else f"{self.instance}/{self.resource}"

    def expired(self, today: datetime.date) -> bool:
        return today > self.expires


@dataclass(frozen=True)
class PolicySet:
    rules: tuple[Rule, ...] = ()
    waivers: tuple[Waiver, ...] = ()

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    severity: Severity
    instance: str
    resource: str | None
    field: str
    """Dotted path in the resolved spec (`resources.assets.versioning`); empty for a finding about a waiver."""
    message: str
    location: Location
    waived_by: Waiver | None = None

    @property
    def target(self) -> str:
        return self.instance if self.resource is None else f"{self.instance}/{self.resource}"

    @property
    def local_field(self) -> str:
        """The field as seen from the target: `versioning` for `resources.assets.versioning` on `prod/assets`."""
        prefix = f"resources.{self.resource}."
        return self.field[len(prefix) :] if self.resource is not None and self.field.startswith(prefix) else self.field

    @property
    def blocking(self) -> bool:
        return self.severity == "error" and self.waived_by is None

    def __str__(self) -> str:
        """`file:line:col: severity RULE target field: message`, the field relative to the target."""
        local = self.local_field
        field = f" {local}" if local and local != f"resources.{self.resource}" else ""
        return f"{self.location}: {self.severity} {self.rule} {self.target}{field}: {self.message}"

    def sort_key(self) -> tuple[Any, ...]:
        return (self.instance, self.resource or "", self.rule, self.field, self.message, self.location.file)

    def to_dict(self) -> dict[str, Any]:
        waiver = self.waived_by
        return {
            "rule": self.rule,
            "severity": self.severity,
            "instance": self.instance,
            "resource": self.resource,
            "field": self.field,
            "message": self.message,
            "file": self.location.file,
            "line": self.location.line,
            "column": self.location.column,
            "waived_by": None
            if waiver is None
            else {
                "target": waiver.target,
                "owner": waiver.owner,
                "reason": waiver.reason,
                "expires": waiver.expires.isoformat(),
                "file": waiver.location.file,
                "line": waiver.location.line,
            },
        }


Case = tuple[str, str, str | None]
"""(rule id, instance, resource or None): one rule judged against one target, whether or not it found anything."""


@dataclass(frozen=True)
class Report:
    findings: tuple[Finding, ...]
    cases: tuple[Case, ...]
    rules: tuple[Rule, ...]
    instances: tuple[str, ...]

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.blocking]

    @property
    def passed(self) -> bool:
        return not any(f.blocking for f in self.findings)

    def for_instance(self, name: str) -> list[Finding]:
        return [f for f in self.findings if f.instance == name]

    def counts(self) -> dict[str, int]:
        open_ = [f for f in self.findings if f.waived_by is None]
        return {
            "error": sum(f.severity == "error" for f in open_),
            "warn": sum(f.severity == "warn" for f in open_),
            "info": sum(f.severity == "info" for f in open_),
            "waived": sum(f.waived_by is not None for f in self.findings),
        }


def evaluate(
    platforms: Mapping[str, ResolvedPlatform] | Iterable[ResolvedPlatform],
    policies: PolicySet,
    waivers: Iterable[Waiver] | None = None,
    today: datetime.date | None = None,
    *,
    supported: Callable[[str], frozenset[str]] = registry.supported_contracts,
) -> Report:
    """Judge every platform by every rule in scope, apply the waivers valid on `today`, sorted findings out.

    `waivers` defaults to the policy set's own; `today` must be given whenever a waiver is (expiry depends on it).
    """
    chosen = list(platforms.values()) if isinstance(platforms, Mapping) else list(platforms)
    waiver_list = list(policies.waivers if waivers is None else waivers)
    if waiver_list and today is None:
        raise MnopsError("evaluate: `today` is needed to judge waiver expiry")
    findings: list[Finding] = []
    cases: list[Case] = []
    supports: dict[str, frozenset[str] | str] = {}
    for platform in chosen:
        _contract_support(platform, supported, supports, findings, cases)
        for rule in policies.rules:
            if rule.applies_to(platform):
                _judge(rule, platform, findings, cases)
    evaluated = {p.name for p in chosen}
    findings = _waive(findings, [w for w in waiver_list if w.instance in evaluated], today, cases)
    findings.sort(key=Finding.sort_key)
    return Report(tuple(findings), tuple(sorted(cases, key=_case_key)), policies.rules, tuple(sorted(evaluated)))


def deploy_gate(
    platforms: Mapping[str, ResolvedPlatform], policies: PolicySet, today: datetime.date
) -> Callable[[PlatformSpec], list[str]]:
    """The deploy engine's gate: for a spec about to deploy, its platform's unwaived error findings, one line each.

    The same `evaluate` as `mnops enforce`, so launching one deployment cannot bypass governance. A spec other than
    the one the YAML resolves to (a rollback to an earlier version) is judged by today's policies too; having no
    provenance, its findings point at the instance's platform.yaml.
    """

    def check(spec: PlatformSpec) -> list[str]:
        platform = platforms.get(spec.name)
        if platform is None:
            return [f"{spec.name}: not an instance of this estate; its policies cannot be judged"]
        if platform.config_hash != spec.config_hash():
            platform = dataclasses.replace(platform, spec=spec, provenance={})
        return [str(f) for f in evaluate([platform], policies, policies.waivers, today).blocking]

    return check


def _judge(rule: Rule, platform: ResolvedPlatform, findings: list[Finding], cases: list[Case]) -> None:
    name = platform.name
    if rule.plugin is not None:
        cases.append((rule.id, name, None))
        try:
            found = list(rule.plugin(platform, rule.params))
        except Exception as exc:
            raise PluginFailed(rule.id, rule.plugin_name or "?", name) from exc
        for path, message in found:
            findings.append(_finding(rule.id, rule.severity, platform, tuple(path), message))
        return
    check = kinds.kind(rule.kind).check
    assert check is not None, f"rule kind {rule.kind} has no check and its rule {rule.id} no plugin"
    if not rule.per_resource:
        cases.append((rule.id, name, None))
        for path, message in check(rule.params, platform, None, None):
            findings.append(_finding(rule.id, rule.severity, platform, path, message))
        return
    for resource_name, resource in platform.spec.resources.items():
        if rule.covers(resource):
            cases.append((rule.id, name, resource_name))
            for path, message in check(rule.params, platform, resource_name, resource):
                findings.append(_finding(rule.id, rule.severity, platform, path, message))


def _contract_support(
    platform: ResolvedPlatform,
    supported: Callable[[str], frozenset[str]],
    cache: dict[str, frozenset[str] | str],
    findings: list[Finding],
    cases: list[Case],
) -> None:
    provider = platform.spec.provider
    if provider not in cache:
        try:
            cache[provider] = supported(provider)
        except MnopsError as exc:
            cache[provider] = str(exc)
    declared = cache[provider]
    for name, resource in platform.spec.resources.items():
        cases.append((CONTRACT_SUPPORT, platform.name, name))
        if isinstance(declared, str):
            message = f"cannot tell which contracts provider {provider!r} supports: {declared}"
        elif resource.contract not in declared:
            shown = ", ".join(sorted(declared)) or "none"
            message = f"provider {provider!r} does not support {resource.contract} (it supports: {shown})"
        else:
            continue
        findings.append(_finding(CONTRACT_SUPPORT, "error", platform, ("resources", name, "contract"), message))


def _waive(
    findings: list[Finding], waivers: list[Waiver], today: datetime.date | None, cases: list[Case]
) -> list[Finding]:
    valid: dict[tuple[str, str], list[Waiver]] = {}
    out: list[Finding] = []
    for waiver in waivers:
        assert today is not None
        if waiver.expired(today):
            cases.append((WAIVER_EXPIRED, waiver.instance, waiver.resource))
            message = (
                f"waiver of {waiver.rule} for {waiver.target} (owner {waiver.owner}) expired on "
                f"{waiver.expires.isoformat()}; it no longer waives anything"
            )
            out.append(_waiver_finding(WAIVER_EXPIRED, waiver, message, waiver.expires_location))
        else:
            valid.setdefault((waiver.rule, waiver.instance), []).append(waiver)
    used: set[int] = set()
    for finding in findings:
        candidates = valid.get((finding.rule, finding.instance), ())
        # The waiver naming the resource wins over the one naming the whole instance: it is the more deliberate.
        match = next((w for w in candidates if w.resource is not None and w.resource == finding.resource), None)
        match = match or next((w for w in candidates if w.resource is None), None)
        if match is not None:
            used.add(id(match))
            finding = replace(finding, waived_by=match)
        out.append(finding)
    for group in valid.values():
        for waiver in group:
            cases.append((WAIVER_UNUSED, waiver.instance, waiver.resource))
            if id(waiver) not in used:
                message = f"waiver of {waiver.rule} for {waiver.target} waives no finding; remove it"
                out.append(_waiver_finding(WAIVER_UNUSED, waiver, message, waiver.location))
    return out


def _finding(rule: str, severity: Severity, platform: ResolvedPlatform, path: Path_, message: str) -> Finding:
    resource = str(path[1]) if len(path) > 1 and path[0] == "resources" else None
    return Finding(rule, severity, platform.name, resource, dotted(path), message, locate(platform, path))


def _waiver_finding(rule: str, waiver: Waiver, message: str, where: Location) -> Finding:
    severity = BUILTIN_RULES[rule][0]
    return Finding(rule, severity, waiver.instance, waiver.resource, "", message, where)


def locate(platform: ResolvedPlatform, path: Path_) -> Location:
    """The file, line and column that set `path`, or where it should be set when nothing does.

    A value some layer set is located by provenance, template lines included. A resource field left to its contract's
    default points at the resource's declaration. A platform-level key nothing sets (a missing tag) points at the
    instance's own platform.yaml, the file that should set it, not at whichever lower layer first declared `tags`.
    """
    origin = platform.provenance.get(path)
    if origin is None and path[:1] == ("resources",):
        origin = platform.origin(path)
    if origin is not None:
        return Location(origin.file, origin.line, origin.column)
    doc = platform.layers[-1].doc
    line, column = doc.key_position(path)
    return Location(doc.path, line, column)


def _case_key(case: Case) -> tuple[str, str, str]:
    return case[1], case[2] or "", case[0]


__all__ = [
    "BUILTIN_RULES",
    "CONTRACT_SUPPORT",
    "WAIVER_EXPIRED",
    "WAIVER_UNUSED",
    "Case",
    "Finding",
    "Location",
    "PolicySet",
    "Report",
    "Rule",
    "Waiver",
    "deploy_gate",
    "evaluate",
    "locate",
]
