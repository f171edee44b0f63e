"""Read `governance/policies.yaml` and `governance/waivers.yaml` into a `PolicySet`, with every problem at file:line.

The two files are part of the estate: `load_governed` loads both with the rest of it and raises one `EstateInvalid`
holding every problem of every file, so `mnops validate` and `mnops enforce` fail alike. Either file may be absent
(no rules, no waivers). Rules and waivers are validated one by one, so one bad entry never hides the next.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from adapters import registry
from contracts import CONTRACTS, KINDS
from mnops_assets.errors import EstateInvalid, Problem
from mnops_assets.estate import INSTANCES_DIR, Estate, display, load_estate
from mnops_assets.estate.spec import PlatformSpec
from mnops_assets.estate.validation import messages
from mnops_assets.estate.yamldoc import Document, Path_, load_yaml
from mnops_assets.governance import kinds
from mnops_assets.governance import plugins as plugin_registry
from mnops_assets.governance.engine import BUILTIN_RULES, Location, PolicySet, Rule, Waiver
from mnops_assets.governance.kinds.base import RuleKind
from mnops_assets.governance.kinds.plugin import PluginParams
from mnops_assets.governance.model import PolicyFile, RuleEntry, WaiverEntry, WaiverFile
from mnops_assets.governance.paths import WILDCARD, check, parse
from mnops_assets.governance.plugins import PolicyPlugin, params_model

GOVERNANCE_DIR = "governance"
POLICIES_FILE = "policies.yaml"
WAIVERS_FILE = "waivers.yaml"
PROVIDER_NAMES = frozenset({"local", "aws", "azure", "gcp", "onprem"})
"""Provider names a rule may scope to before their adapters ship, so a region list can be written ahead of a move."""


def load_governed(
    root: Path, instances: Iterable[str] | None = None, *, plugins: Mapping[str, PolicyPlugin] | None = None
) -> tuple[Estate, PolicySet]:
    """The estate (all of it, or `instances`) and its policies; one `EstateInvalid` with every problem of both."""
    problems: list[Problem] = []
    estate: Estate | None = None
    try:
        estate = load_estate(root, instances)
    except EstateInvalid as exc:
        problems.extend(exc.problems)
    policies, found = read_policies(root, estate, plugins=plugins)
    problems.extend(found)
    if problems:
        raise EstateInvalid(problems)
    assert estate is not None
    return estate, policies


def read_policies(
    root: Path, estate: Estate | None, *, plugins: Mapping[str, PolicyPlugin] | None = None
) -> tuple[PolicySet, list[Problem]]:
    """The rules and waivers under `root/governance/`, and every problem they hold.

    Waiver targets are checked against the instance folders, and against the resources of each instance `estate`
    resolved (None when the estate itself is invalid: then only instance names are checked).
    """
    shown = display(root)
    prefix = "" if shown == "." else shown + os.sep
    folder = root / GOVERNANCE_DIR
    reader = _Reader(prefix, plugins, root.resolve())
    rule_ids: dict[str, int] | None = {}
    rules: list[Rule] = []
    if (folder / POLICIES_FILE).is_file():
        rules, rule_ids = reader.policies(folder / POLICIES_FILE)
    waivers: list[Waiver] = []
    if (folder / WAIVERS_FILE).is_file():
        waivers = reader.waivers(folder / WAIVERS_FILE, rule_ids, _instance_names(root), estate)
    return PolicySet(tuple(rules), tuple(waivers)), reader.problems


class _Reader:
    def __init__(self, prefix: str, plugins: Mapping[str, PolicyPlugin] | None, within: Path) -> None:
        self.prefix = prefix
        self.plugins = plugins
        self.within = within
        self.problems: list[Problem] = []

    def document(self, path: Path, top: type[BaseModel], list_key: str) -> tuple[Document | None, list[Any]]:
        doc, problems = load_yaml(path, self.prefix + f"{GOVERNANCE_DIR}/{path.name}", within=self.within)
        self.problems.extend(problems)
        if doc is None:
            return None, []
        entries = doc.data.get(list_key, [])
        rest = {k: v for k, v in doc.data.items() if k != list_key}
        self.validate(doc, (), top, rest)
        if not isinstance(entries, list):
            self.problems.append(doc.problem((list_key,), "must be a list"))
            return doc, []
        return doc, entries

    def validate(self, doc: Document, at: Path_, model: type[BaseModel], data: Any) -> Any:
        """`model` validated from `data`, or None with its problems recorded at `at` + each error's location."""
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            for loc, text in messages(exc, model):
                at_key = text.startswith(("unknown field", "invalid name"))
                self.problems.append(doc.problem((*at, *loc), text, at_key=at_key))
            return None

    # -- policies.yaml ---------------------------------------------------------------------------------------------

    def policies(self, path: Path) -> tuple[list[Rule], dict[str, int] | None]:
        doc, entries = self.document(path, PolicyFile, "rules")
        if doc is None:
            return [], None  # unreadable: waivers' rule names cannot be judged
        rules: list[Rule] = []
        seen: dict[str, int] = {}
        for index, raw in enumerate(entries):
            at: Path_ = ("rules", index)
            if isinstance(raw, dict) and isinstance(raw.get("id"), str):
                rule_id = raw["id"]
                if rule_id in BUILTIN_RULES:
                    self.problems.append(
                        doc.problem((*at, "id"), f"{rule_id} is the engine's own rule; choose another id")
                    )
                elif rule_id in seen:
                    self.problems.append(doc.problem((*at, "id"), f"duplicate rule id (first on line {seen[rule_id]})"))
                else:
                    seen[rule_id] = doc.value_position((*at, "id"))[0]
            entry = self.validate(doc, at, RuleEntry, raw)
            if entry is not None:
                rule = self.rule(doc, at, entry)
                if rule is not None:
                    rules.append(rule)
        return rules, seen

    def rule(self, doc: Document, at: Path_, entry: RuleEntry) -> Rule | None:
        before = len(self.problems)
        scope = entry.scope
        for index, provider in enumerate(scope.providers):
            self.known_provider(doc, (*at, "scope", "providers", index), provider)
        contracts = set(scope.contracts)
        for index, name in enumerate(scope.contracts):
            if name not in KINDS and name not in CONTRACTS:
                known = ", ".join([*KINDS, *CONTRACTS])
                self.problems.append(
                    doc.problem((*at, "scope", "contracts", index), f"unknown contract {name!r} (known: {known})")
                )
        kind = kinds.kind(entry.kind)
        if kind.judges is not None:
            if any(c.split("/", 1)[0] != kind.judges for c in contracts):
                message = f"{entry.kind} judges {kind.judges} only"
                self.problems.append(doc.problem((*at, "scope", "contracts"), message))
            contracts = contracts or {kind.judges}
        plugin, plugin_name, params = None, None, None
        if entry.kind == kinds.PLUGIN:
            plugin, plugin_name, params = self.plugin(doc, (*at, "params"), entry.params)
        else:
            params = self.validate(doc, (*at, "params"), kind.params, entry.params)
        if params is not None and len(self.problems) == before:  # fields are judged against a valid scope only
            self.fields(doc, (*at, "params"), kind, params, sorted(contracts))
        if len(self.problems) > before or params is None:
            return None
        line, column = doc.key_position(at)
        return Rule(
            id=entry.id,
            description=entry.description,
            severity=entry.severity,
            kind=entry.kind,
            params=params,
            location=Location(doc.path, line, column),
            tiers=frozenset(scope.tiers),
            providers=frozenset(scope.providers),
            contracts=frozenset(contracts),
            instances=tuple(scope.instances),
            plugin=plugin,
            plugin_name=plugin_name,
        )

    def known_provider(self, doc: Document, at: Path_, name: str) -> None:
        known = PROVIDER_NAMES | set(registry.providers())
        if name not in known:
            self.problems.append(
                doc.problem(at, f"unknown provider {name!r} (known: {', '.join(sorted(known))})", at_key=at[-1] == name)
            )

    def fields(self, doc: Document, at: Path_, kind: RuleKind, params: BaseModel, contracts: list[str]) -> None:
        """The field paths and provider names in a rule's params, each checked where it is written."""
        if contracts:
            roots = [m for tag, m in CONTRACTS.items() if tag in contracts or m.kind in contracts]
            where = ", ".join(contracts)
        else:
            roots, where = [PlatformSpec], "the platform spec"
        for inner, name in kind.fields(params):
            here = (*at, *inner)
            # A name written as a key (`when: {public: true}`) is reported at the key, one written as a value at it.
            at_key = here[-1] == name
            parts = parse(name)
            if not kind.wildcards and WILDCARD in parts:
                message = "no wildcards here: scope the rule to contracts to judge each resource"
                self.problems.append(doc.problem(here, message, at_key=at_key))
                continue
            message = check(parts, roots, where)  # type: ignore[arg-type]
            if message is not None:
                self.problems.append(doc.problem(here, message, at_key=at_key))
        for inner, name in kind.providers(params):
            self.known_provider(doc, (*at, *inner), name)

    def plugin(self, doc: Document, at: Path_, raw: dict[str, Any]) -> tuple[PolicyPlugin | None, str | None, Any]:
        head = self.validate(doc, at, PluginParams, raw)
        if head is None:
            return None, None, None
        name = head.plugin
        installed = dict(self.plugins) if self.plugins is not None else None
        names = sorted(installed if installed is not None else plugin_registry.available())
        if name not in names:
            message = f"no policy plugin {name!r} is installed (installed: {', '.join(names) or 'none'})"
            self.problems.append(doc.problem((*at, "plugin"), message))
            return None, None, None
        try:
            plugin = installed[name] if installed is not None else plugin_registry.load(name)
        except Exception as exc:  # noqa: BLE001 - an outside package's failure to import, reported where it is named
            self.problems.append(doc.problem((*at, "plugin"), f"policy plugin {name!r} cannot be loaded: {exc}"))
            return None, None, None
        model = params_model(plugin)
        rest = {k: v for k, v in raw.items() if k != "plugin"}
        params = rest if model is None else self.validate(doc, at, model, rest)
        return plugin, name, params

    # -- waivers.yaml ----------------------------------------------------------------------------------------------

    def waivers(
        self, path: Path, rule_ids: dict[str, int] | None, instances: set[str], estate: Estate | None
    ) -> list[Waiver]:
        doc, entries = self.document(path, WaiverFile, "waivers")
        if doc is None:
            return []
        waivers: list[Waiver] = []
        seen: dict[tuple[str, str], int] = {}
        for index, raw in enumerate(entries):
            at: Path_ = ("waivers", index)
            entry = self.validate(doc, at, WaiverEntry, raw)
            if entry is None:
                continue
            before = len(self.problems)
            self.waived_rule(doc, at, entry.rule, rule_ids)
            instance, _, resource = entry.target.partition("/")
            if instance not in instances:
                message = f"unknown instance {instance!r}: no folder {INSTANCES_DIR}/{instance}"
                self.problems.append(doc.problem((*at, "target"), message + _close(instance, instances)))
            elif resource and estate is not None and instance in estate.platforms:
                names = estate.platforms[instance].spec.resources
                if resource not in names:
                    message = f"instance {instance!r} has no resource {resource!r}"
                    self.problems.append(doc.problem((*at, "target"), message + _close(resource, names)))
            key = (entry.rule, entry.target)
            line = doc.key_position(at)[0]
            if key in seen:
                self.problems.append(
                    doc.problem(at, f"duplicate waiver of {entry.rule} for {entry.target} (first on line {seen[key]})")
                )
            seen.setdefault(key, line)
            if len(self.problems) > before:
                continue
            waivers.append(
                Waiver(
                    rule=entry.rule,
                    instance=instance,
                    resource=resource or None,
                    owner=entry.owner,
                    reason=entry.reason,
                    expires=entry.expires,
                    location=Location(doc.path, *doc.key_position(at)),
                    expires_location=Location(doc.path, *doc.value_position((*at, "expires"))),
                )
            )
        return waivers

    def waived_rule(self, doc: Document, at: Path_, rule: str, rule_ids: dict[str, int] | None) -> None:
        if rule in BUILTIN_RULES:
            self.problems.append(doc.problem((*at, "rule"), f"{rule} is the engine's own rule and cannot be waived"))
        elif rule_ids is not None and rule not in rule_ids:
            where = f"{GOVERNANCE_DIR}/{POLICIES_FILE}"
            self.problems.append(
                doc.problem((*at, "rule"), f"unknown rule {rule!r}: no such id in {where}" + _close(rule, rule_ids))
            )


def _instance_names(root: Path) -> set[str]:
    base = root / INSTANCES_DIR
    return {p.name for p in base.iterdir() if p.is_dir()} if base.is_dir() else set()


def _close(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


__all__ = ["GOVERNANCE_DIR", "POLICIES_FILE", "WAIVERS_FILE", "load_governed", "read_policies"]
