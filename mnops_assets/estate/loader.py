"""Load and resolve the estate: ecosystem.yaml, templates and instance folders into frozen, validated specs.

Loading never stops at the first problem: every file is read, every problem is collected, and only then is
`EstateInvalid` raised with all of them. Files with problems are not resolved further, so one typo does not echo as
noise through every instance that inherits it.
"""

from __future__ import annotations

import gc
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from adapters import registry
from adapters.base import Desired, ResourceKey
from contracts import NAME_PATTERN, ContractSpec, contract_model
from contracts.base import Reference
from contracts.errors import MnopsError, UnknownContract, UnknownContractVersion
from contracts.secrets import SecretsContract
from mnops_assets.errors import EstateInvalid, Problem, UsageError, dotted
from mnops_assets.estate.files import (
    FILE_ONLY_KEYS,
    EcosystemFile,
    EnvironmentFile,
    PlatformFile,
    TemplateFile,
)
from mnops_assets.estate.layers import Layer, Origin, Provenance, merge, origin_of, overlay
from mnops_assets.estate.spec import PlatformSpec, platform_checks, resource_checks
from mnops_assets.estate.validation import NAME_RULE, messages
from mnops_assets.estate.yamldoc import Document, load_yaml

ECOSYSTEM_FILE = "ecosystem.yaml"
TEMPLATES_DIR = "platform-templates"
INSTANCES_DIR = "platform-cloud"
ENVIRONMENT_FILE = "environment.yaml"
PLATFORM_FILE = "platform.yaml"
MISSING_IN_LAYERS = "required, but no layer sets it"


@dataclass(frozen=True, eq=False)
class ResolvedTemplate:
    name: str
    chain: tuple[str, ...]
    """Template names from the base to this one."""
    layers: tuple[Layer, ...]
    data: dict[str, Any]
    provenance: Provenance
    description: str | None


@dataclass(frozen=True, eq=False)
class ResolvedPlatform:
    spec: PlatformSpec
    folder: Path
    template_chain: tuple[str, ...]
    layers: tuple[Layer, ...]
    """ecosystem defaults, the template chain (base first), environment.yaml, platform.yaml."""
    provenance: Provenance

    @property
    def name(self) -> str:
        return self.spec.name

    @cached_property
    def config_hash(self) -> str:
        return self.spec.config_hash()

    def origin(self, path: tuple[str | int, ...]) -> Origin | None:
        return origin_of(self.provenance, path)


@dataclass(frozen=True, eq=False)
class Estate:
    root: Path
    ecosystem: EcosystemFile
    templates: dict[str, ResolvedTemplate]
    platforms: dict[str, ResolvedPlatform]

    def platform(self, name: str) -> ResolvedPlatform:
        try:
            return self.platforms[name]
        except KeyError:
            raise UsageError(
                f"no instance {name!r} in {display(self.root)} (known: {', '.join(self.platforms)})"
            ) from None

    def deploy_order(self) -> list[ResolvedPlatform]:
        """The loaded platforms, each after those whose outputs it reads (`PlatformSpec.producers`; validation
        refuses cycles), ties by name."""
        order: list[ResolvedPlatform] = []
        seen: set[str] = set()

        def visit(name: str) -> None:
            if name in seen or name not in self.platforms:
                return
            seen.add(name)
            for producer in self.platforms[name].spec.producers():
                visit(producer)
            order.append(self.platforms[name])

        for name in sorted(self.platforms):
            visit(name)
        return order


def display(path: Path) -> str:
    """A path as people should read it: relative to the working directory when it is below it."""
    text = str(path)
    if os.path.isabs(text):
        try:
            rel = os.path.relpath(text)
        except ValueError:
            return text
        if not rel.startswith(".."):
            return rel
    return text


def find_estate(path: Path) -> tuple[Path, str | None]:
    """(estate root, instance name or None) for a path that is an estate root or one instance folder in it."""
    path = path.resolve() if path.exists() else path
    if (path / ECOSYSTEM_FILE).is_file():
        return path, None
    if path.parent.name == INSTANCES_DIR and (path.parent.parent / ECOSYSTEM_FILE).is_file():
        if not path.is_dir():
            raise UsageError(f"{display(path)}: no such instance folder")
        return path.parent.parent, path.name
    raise UsageError(
        f"{display(path)} is neither an estate (a folder with {ECOSYSTEM_FILE}) nor an instance folder in "
        f"{INSTANCES_DIR}/"
    )


def load_estate(root: Path, instances: Iterable[str] | None = None) -> Estate:
    """Load the estate at `root` (all of it, or only `instances` and what they inherit); raise `EstateInvalid`."""
    with _collector_paused():
        return _Loader(root).load(None if instances is None else list(instances))


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Loading makes hundreds of thousands of small, acyclic objects: each of them triggered collections which, in a
    long-lived process holding much else (a Dagster code server, a sensor), scanned that whole heap again and again
    (measured: 0.29 s alone, 0.43 s beside a judged estate). Nothing loaded forms a cycle, so nothing is lost."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


M = TypeVar("M", bound=BaseModel)


def read_model(
    path: Path, shown: str, model: type[M], within: Path | None = None
) -> tuple[Document | None, M | None, list[Problem]]:
    """Parse one YAML file and validate it against `model`; every problem found points at its line and column."""
    doc, problems = load_yaml(path, shown, within=within)
    if doc is None:
        return None, None, problems
    try:
        return doc, model.model_validate(doc.data), []
    except ValidationError as exc:
        return doc, None, [doc.problem(loc, text, at_key=_at_key(text)) for loc, text in messages(exc, model)]


@dataclass
class _Loader:
    root: Path
    problems: list[Problem] = field(default_factory=list)
    root_prefix: str = field(init=False)
    resolved_root: Path = field(init=False)
    template_docs: dict[str, Document | None] = field(default_factory=dict)
    template_files: dict[str, TemplateFile] = field(default_factory=dict)

    def __post_init__(self) -> None:
        shown = display(self.root)
        self.root_prefix = "" if shown == "." else shown + os.sep
        self.resolved_root = self.root.resolve()

    def show(self, path: Path) -> str:
        """`display(path)` for a path built from the root, without a relpath per file (it shows in profiles)."""
        return self.root_prefix + str(path.relative_to(self.root))

    def load(self, only: list[str] | None) -> Estate:
        if not (self.root / ECOSYSTEM_FILE).is_file():
            raise UsageError(f"{display(self.root)}: no {ECOSYSTEM_FILE}; not an estate")
        eco_doc, ecosystem = self.read(self.root / ECOSYSTEM_FILE, EcosystemFile)
        if eco_doc is not None and ecosystem is not None:
            known = registry.providers()
            for name in ecosystem.providers:
                if name not in known:
                    message = f"unknown provider {name!r} (known: {', '.join(known)})"
                    self.problems.append(eco_doc.problem(("providers", name), message, at_key=True))
        folders = self.instance_folders(only)
        instances = {name: self.read_instance(folder) for name, folder in folders.items()}
        if only is None:
            self.read_all_templates()
        templates: dict[str, ResolvedTemplate] = {}
        platforms: dict[str, ResolvedPlatform] = {}
        if eco_doc is not None and ecosystem is not None:
            base = Layer("ecosystem defaults", eco_doc, ("defaults",))
            wanted = [f.template for _, f in instances.values() if f is not None] if only is not None else None
            for name in sorted(self.template_docs) if wanted is None else sorted(set(wanted)):
                chain = self.chain(name)
                if chain is not None:
                    for link in chain:
                        if link not in templates:
                            templates[link] = self.resolve_template(base, chain[: chain.index(link) + 1])
            for name, (layers, platform_file) in instances.items():
                if layers is None or platform_file is None:
                    continue
                template = templates.get(platform_file.template)
                if template is None:
                    if platform_file.template not in self.template_docs:
                        self.unknown_template(layers[-1].doc, ("template",), platform_file.template)
                    continue
                resolved = self.resolve_platform(name, folders[name], ecosystem, template, layers)
                if resolved is not None:
                    platforms[name] = resolved
            self.check_references(platforms)
        if self.problems:
            raise EstateInvalid(self.problems)
        assert ecosystem is not None
        return Estate(self.root, ecosystem, templates, platforms)

    # -- reading files ---------------------------------------------------------------------------------------------

    def read(self, path: Path, model: type[M]) -> tuple[Document | None, M | None]:
        doc, parsed, problems = read_model(path, self.show(path), model, self.resolved_root)
        self.problems.extend(problems)
        return (doc, parsed) if parsed is not None else (None, None)

    def instance_folders(self, only: list[str] | None) -> dict[str, Path]:
        base = self.root / INSTANCES_DIR
        found = {p.name: p for p in sorted(base.iterdir()) if p.is_dir()} if base.is_dir() else {}
        if only is None:
            return found
        unknown = [name for name in only if name not in found]
        if unknown:
            raise UsageError(f"no instance folder {', '.join(unknown)} in {display(base)}")
        return {name: found[name] for name in only}

    def read_instance(self, folder: Path) -> tuple[list[Layer] | None, PlatformFile | None]:
        if not _is_name(folder.name):
            self.problems.append(Problem(self.show(folder), 1, 1, "(folder)", f"instance name {NAME_RULE}"))
            return None, None
        layers: list[Layer] | None = []
        env_path = folder / ENVIRONMENT_FILE
        if env_path.is_file():
            env_doc, _ = self.read(env_path, EnvironmentFile)
            layers = [Layer("environment", env_doc)] if env_doc is not None else None
        platform_path = folder / PLATFORM_FILE
        if not platform_path.is_file():
            message = "missing: every instance folder needs a platform.yaml"
            self.problems.append(Problem(self.show(platform_path), 1, 1, "(file)", message))
            return None, None
        doc, platform = self.read(platform_path, PlatformFile)
        if doc is None or layers is None:
            return None, None
        layers.append(Layer("platform", doc, (), frozenset(FILE_ONLY_KEYS)))
        return layers, platform

    def read_all_templates(self) -> None:
        folder = self.root / TEMPLATES_DIR
        if folder.is_dir():
            for path in sorted(folder.glob("*.yaml")):
                self.template_doc(path.stem)

    def template_doc(self, name: str) -> Document | None:
        if name not in self.template_docs:
            path = self.root / TEMPLATES_DIR / f"{name}.yaml"
            if not path.is_file():
                return None
            if not _is_name(name):
                self.problems.append(Problem(self.show(path), 1, 1, "(file)", f"template name {NAME_RULE}"))
                self.template_docs[name] = None
                return None
            doc, template = self.read(path, TemplateFile)
            self.template_docs[name] = doc
            if template is not None:
                self.template_files[name] = template
        return self.template_docs[name]

    # -- templates -------------------------------------------------------------------------------------------------

    def chain(self, name: str) -> list[str] | None:
        """Template names from the base to `name`, or None (with a problem recorded) if the chain is broken."""
        chain = [name]
        while True:
            current = chain[-1]
            doc = self.template_doc(current)
            if doc is None or current not in self.template_files:
                return None
            parent = self.template_files[current].extends
            if parent is None:
                chain.reverse()
                return chain
            if parent in chain:
                cycle = " -> ".join([*chain[chain.index(parent) :], parent])
                self.problems.append(doc.problem(("extends",), f"template cycle: {cycle}"))
                return None
            if self.template_doc(parent) is None:
                if not (self.root / TEMPLATES_DIR / f"{parent}.yaml").is_file():
                    self.unknown_template(doc, ("extends",), parent)
                return None
            chain.append(parent)

    def unknown_template(self, doc: Document, path: tuple[str, ...], name: str) -> None:
        known = sorted(p.stem for p in (self.root / TEMPLATES_DIR).glob("*.yaml"))
        self.problems.append(doc.problem(path, f"unknown template {name!r} (known: {', '.join(known) or 'none'})"))

    def resolve_template(self, base: Layer, chain: list[str]) -> ResolvedTemplate:
        layers = [base] + [
            Layer(f"template {name}", self.template_docs[name], (), frozenset(FILE_ONLY_KEYS))  # type: ignore[arg-type]
            for name in chain
        ]
        data, provenance = merge(layers)
        # A template may leave fields for instances to fill: check what it sets, not what it leaves out.
        for resource_path, resource in _resources(data):
            self.contract(resource_path, resource, provenance, layers, partial=True)
        name = chain[-1]
        return ResolvedTemplate(
            name, tuple(chain), tuple(layers), data, provenance, self.template_files[name].description
        )

    # -- platforms -------------------------------------------------------------------------------------------------

    def resolve_platform(
        self,
        name: str,
        folder: Path,
        ecosystem: EcosystemFile,
        template: ResolvedTemplate,
        own_layers: list[Layer],
    ) -> ResolvedPlatform | None:
        data, provenance = merge(own_layers, onto=(template.data, template.provenance))
        layers = [*template.layers, *own_layers]
        provider = data.get("provider")
        if isinstance(provider, str) and provider in ecosystem.providers:
            # The provider's default region is the lowest layer, so moving a platform is a one-line change.
            default = Layer(
                f"provider {provider} default", layers[0].doc, ("providers", provider), rename=_DEFAULT_REGION
            )
            layers.insert(0, default)
            if "region" not in data:
                overlay(data, provenance, default)
        platform_layer = own_layers[-1]
        data["name"] = name
        data["template"] = template.name
        mark = platform_layer.doc.marks[("template",)]
        provenance[("template",)] = Origin(platform_layer, mark[2], mark[3])
        before = len(self.problems)
        if isinstance(provider, str):
            self.check_provider(provider, ecosystem, provenance)
        provider_broken = len(self.problems) > before

        resources: dict[str, ContractSpec] = {}
        for resource_path, resource in _resources(data):
            model = self.contract(resource_path, resource, provenance, layers, partial=False)
            if model is not None:
                resources[resource_path[1]] = model
        resources_broken = len(self.problems) > before
        if provider_broken:
            return None  # the region and the contracts' support depend on the provider: the rest would be noise
        try:
            # Validated even when a resource is broken (without the resources, then), so that every problem of the
            # instance's files shows in one run, not one run per broken part.
            spec = PlatformSpec.model_validate({**data, "resources": {} if resources_broken else resources})
        except ValidationError as exc:
            for loc, message in messages(exc, PlatformSpec, missing=MISSING_IN_LAYERS):
                self.problem_at(provenance, platform_layer, loc, message)
            return None
        if resources_broken:
            return None
        allowed = ecosystem.secrets.file_dirs.get(spec.tier, [])
        for loc, message in [
            *platform_checks(spec),
            *provider_checks(spec),
            *file_source_checks(spec, self.resolved_root, allowed),
        ]:
            self.problem_at(provenance, platform_layer, loc, message)
        if len(self.problems) > before:
            return None
        return ResolvedPlatform(spec, folder, template.chain, tuple(layers), provenance)

    def check_references(self, platforms: dict[str, ResolvedPlatform]) -> None:
        """References across platforms: to an instance of the estate, a resource it declares, an output its contract
        gives; a sensitive output only within one provider (its value is opened by the producer's provider); and no
        cycle of platforms reading each other, which no first deploy could satisfy. A platform not loaded (a subset
        was asked for) is judged only by its folder's existence here, and by its state when the consumer deploys."""
        base = self.root / INSTANCES_DIR
        existing = {p.name for p in base.iterdir() if p.is_dir()} if base.is_dir() else set()
        edges: dict[str, dict[str, tuple[str, ...]]] = {}
        for name, resolved in sorted(platforms.items()):
            spec = resolved.spec
            for resource_name, resource in spec.resources.items():
                for path, reference in resource.references().items():
                    if reference.platform is None or reference.platform == name:
                        continue
                    where = ("resources", resource_name, *path)
                    edges.setdefault(name, {}).setdefault(reference.platform, where)
                    message = self.reference_problem(spec, reference, existing, platforms.get(reference.platform))
                    if message is not None:
                        self.problem_at(resolved.provenance, resolved.layers[-1], where, message)
        for cycle in _platform_cycles(edges):
            first, second = cycle[0], cycle[1]
            resolved = platforms[first]
            message = f"platforms read each other's outputs in a cycle: {' -> '.join(cycle)}; none could deploy first"
            self.problem_at(resolved.provenance, resolved.layers[-1], edges[first][second], message)

    @staticmethod
    def reference_problem(
        spec: PlatformSpec, reference: Reference, existing: set[str], producer: ResolvedPlatform | None
    ) -> str | None:
        assert reference.platform is not None
        if reference.platform not in existing:
            return f"{reference}: the estate has no platform {reference.platform!r}"
        if producer is None:
            return None
        target = producer.spec.resources.get(reference.resource)
        if target is None:
            return f"{reference}: platform {reference.platform} declares no resource {reference.resource!r}"
        if reference.output not in target.outputs:
            known = ", ".join(target.outputs)
            return f"{reference}: {target.contract} has no output {reference.output!r} ({known})"
        if reference.output in target.sensitive_outputs and producer.spec.provider != spec.provider:
            return (
                f"{reference}: a sensitive output is opened by its own provider, and {reference.platform} runs on "
                f"{producer.spec.provider}, this platform on {spec.provider}"
            )
        return None

    def check_provider(self, provider: str, ecosystem: EcosystemFile, provenance: Provenance) -> None:
        origin = provenance[("provider",)]
        known = registry.providers()
        if provider not in known:
            self.problems.append(
                origin.problem(("provider",), f"unknown provider {provider!r} (known: {', '.join(known)})")
            )
        elif provider not in ecosystem.providers:
            enabled = ", ".join(ecosystem.providers) or "none"
            message = f"provider {provider!r} is not enabled in {ECOSYSTEM_FILE} providers (enabled: {enabled})"
            self.problems.append(origin.problem(("provider",), message))

    def contract(
        self,
        path: tuple[str, str],
        resource: dict[str, Any],
        provenance: Provenance,
        layers: list[Layer],
        *,
        partial: bool,
    ) -> ContractSpec | None:
        tag = resource.get("contract")
        if tag is None:
            if not partial:
                self.problem_at(provenance, None, (*path, "contract"), "required: a contract such as storage/v1")
            return None
        if not isinstance(tag, str):
            self.problem_at(provenance, None, (*path, "contract"), "must be a contract tag such as storage/v1")
            return None
        try:
            model = contract_model(tag)
        except (UnknownContract, UnknownContractVersion) as exc:
            self.problem_at(provenance, None, (*path, "contract"), str(exc))
            return None
        try:
            validated = model.model_validate(resource)
        except ValidationError as exc:
            contract_origin = provenance.get((*path, "contract"))
            for loc, message in messages(exc, model, missing=MISSING_IN_LAYERS):
                if partial and message == MISSING_IN_LAYERS:
                    continue
                field_origin = provenance.get((*path, *loc))
                if message.startswith("unknown field") and field_origin and contract_origin:
                    if _below(field_origin.layer, contract_origin.layer, layers):
                        # Written for the contract a lower layer named, before a higher one changed it.
                        message += f" (not a field of {tag}, set at {contract_origin.where()})"
                self.problem_at(provenance, None, (*path, *loc), message)
            return None
        findings = resource_checks(path[1], validated)
        for loc, message in findings:
            self.problem_at(provenance, None, loc, message)
        return None if findings else validated

    def problem_at(self, provenance: Provenance, fallback: Layer | None, path: tuple, message: str) -> None:
        own = provenance.get(path)
        if own is not None and own.removed and message == MISSING_IN_LAYERS:
            self.problems.append(own.problem(path, "required, but removed here by null"))
            return
        origin = origin_of(provenance, path)
        if origin is None:
            assert fallback is not None
            self.problems.append(Problem(fallback.doc.path, 1, 1, dotted(path), message))
        elif _at_key(message) and own is not None:
            layer = own.layer
            line, column = layer.doc.key_position(layer.doc_path(path))
            self.problems.append(Origin(layer, line, column).problem(path, message))
        else:
            self.problems.append(origin.problem(path, message))


def file_source_checks(spec: PlatformSpec, root: Path, allowed: list[str]) -> list[tuple[tuple[str, ...], str]]:
    """`file:` secret sources that would read outside the estate folder (links followed) and outside the folders
    ecosystem.yaml allows for the platform's tier: a deploy must not be able to read any file the deployer can."""
    found: list[tuple[tuple[str, ...], str]] = []
    folders: list[Path] | None = None
    for name, resource in spec.resources.items():
        source = getattr(resource, "source", None)
        if not isinstance(resource, SecretsContract) or not isinstance(source, str) or not source.startswith("file:"):
            continue
        if folders is None:
            folders = [root, *((root / Path(folder).expanduser()).resolve() for folder in allowed)]
        path = (root / Path(source.removeprefix("file:")).expanduser()).resolve()
        if not any(path.is_relative_to(folder) for folder in folders):
            message = (
                f"reads outside the estate folder; list its folder under secrets.file_dirs.{spec.tier} in "
                "ecosystem.yaml to allow that"
            )
            found.append((("resources", name, "from"), message))
    return found


def provider_checks(spec: PlatformSpec) -> list[tuple[tuple[str, ...], str]]:
    """What the platform's provider cannot give: a contract version it does not support, a value it refuses (its
    limits, read without its SDK), each at the resource field it is about. An unknown provider is reported already."""
    try:
        supported = registry.supported_contracts(spec.provider)
    except MnopsError:
        return []
    found: list[tuple[tuple[str, ...], str]] = []
    for name, resource in spec.resources.items():
        if resource.contract not in supported:
            listed = ", ".join(sorted(supported)) or "none"
            message = f"provider {spec.provider!r} does not support {resource.contract} (it supports: {listed})"
            found.append((("resources", name, "contract"), message))
            continue
        desired = Desired.build(ResourceKey(spec.name, name), resource, spec.tags, spec.region)
        for fields, why in registry.refusals(spec.provider, desired):
            found.append((("resources", name, fields[0]), f"{spec.provider} refuses {', '.join(fields)}: {why}"))
    return found


def _platform_cycles(edges: dict[str, dict[str, tuple[str, ...]]]) -> list[list[str]]:
    """Each cycle of platforms once (from its smallest name), as a path that returns to its start."""
    cycles: list[list[str]] = []
    seen: set[tuple[str, ...]] = set()

    def walk(path: list[str]) -> None:
        for nxt in sorted(edges.get(path[-1], {})):
            if nxt == path[0]:
                ring = tuple(sorted(path))
                if ring not in seen and path[0] == min(path):
                    seen.add(ring)
                    cycles.append([*path, nxt])
            elif nxt not in path and nxt > path[0]:
                walk([*path, nxt])

    for start in sorted(edges):
        walk([start])
    return cycles


def _resources(data: dict[str, Any]) -> list[tuple[tuple[str, str], dict[str, Any]]]:
    resources = data.get("resources") or {}
    return [(("resources", name), value) for name, value in sorted(resources.items()) if isinstance(value, dict)]


def _below(lower: Layer, upper: Layer, layers: list[Layer]) -> bool:
    order = [id(layer) for layer in layers]
    return order.index(id(lower)) < order.index(id(upper))


def _is_name(name: str) -> bool:
    return _NAME.match(name) is not None


_NAME = re.compile(NAME_PATTERN)
_DEFAULT_REGION = (("region", "default_region"),)


def _at_key(message: str) -> bool:
    return message.startswith(("unknown field", "invalid name", "duplicate key"))
