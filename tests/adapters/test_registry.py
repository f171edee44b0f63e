"""The provider registry: lazy import paths, the entry-point group, duplicates refused."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib.metadata import distributions

import pytest

from adapters import registry


@pytest.fixture
def outside_provider(tmp_path, monkeypatch):
    """`make(name, {file: text})` writes package `<name>_adapter` under tmp_path and registers it as provider `name`;
    the provider and its modules are forgotten after the test."""
    made = []

    def make(name, files):
        package = tmp_path / f"{name}_adapter"
        package.mkdir()
        for file, text in files.items():
            (package / file).write_text(textwrap.dedent(text))
        registry.register(name, package.name)
        made.append(package.name)

    monkeypatch.syspath_prepend(str(tmp_path))
    yield make
    for package in made:
        registry.unregister(package.removesuffix("_adapter"))
        for module in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
            del sys.modules[module]


def test_local_is_built_in_and_supports_every_v1_contract():
    assert registry.providers()["local"] == "adapters.local"
    assert registry.supported_contracts("local") == {
        "storage/v1",
        "queue/v1",
        "secrets/v1",
        "logging/v1",
        "compute/v1",
        "database/v1",
    }


def test_unknown_provider_names_the_known_ones():
    known = list(registry.providers())
    assert {"aws", "azure", "gcp", "local"} <= set(known)
    with pytest.raises(registry.UnknownProvider, match=rf"unknown provider 'nimbus' \(known: {', '.join(known)}\)"):
        registry.supported_contracts("nimbus")


def test_register_refuses_a_taken_name():
    with pytest.raises(registry.DuplicateProvider, match="already registered"):
        registry.register("local", "somewhere.else")


def test_register_adds_an_outside_provider(outside_provider):
    package = 'PROVIDER = "nimbus"\nSUPPORTED_CONTRACTS = frozenset({"storage/v1"})\n'
    outside_provider("nimbus", {"__init__.py": package})
    assert registry.supported_contracts("nimbus") == {"storage/v1"}
    registry.unregister("nimbus")
    assert "nimbus" not in registry.providers()


def test_missing_sdk_names_the_install_command(outside_provider):
    outside_provider("cirrus", {"__init__.py": "import cirrus_sdk_that_is_not_installed\n"})
    with pytest.raises(registry.ProviderUnavailable, match=r"pip install 'machine-native-ops\[cirrus\]'"):
        registry.supported_contracts("cirrus")


def _install_entry_point(site, name, module):
    """A real distribution on sys.path whose entry_points.txt registers an adapter, as `pip install` would leave it."""
    dist = site / f"{name}_adapter-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}-adapter\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[mnops.adapters]\n{name} = {module}\n")
    package = site / module
    package.mkdir()
    (package / "__init__.py").write_text(
        textwrap.dedent(f"""\
            PROVIDER = "{name}"
            SUPPORTED_CONTRACTS = frozenset({{"queue/v1"}})
        """)
    )


@pytest.fixture
def fresh_entry_points():
    registry._entry_point_providers.cache_clear()
    yield
    registry._entry_point_providers.cache_clear()


def test_entry_point_adapters_are_discovered(tmp_path, monkeypatch, fresh_entry_points):
    _install_entry_point(tmp_path, "stratus", "stratus_adapter")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert any(d.metadata["Name"] == "stratus-adapter" for d in distributions())
    assert registry.providers()["stratus"] == "stratus_adapter"
    assert registry.supported_contracts("stratus") == {"queue/v1"}
    sys.modules.pop("stratus_adapter", None)


def test_entry_point_may_not_shadow_a_built_in(tmp_path, monkeypatch, fresh_entry_points):
    _install_entry_point(tmp_path, "local", "fake_local_adapter")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(registry.DuplicateProvider, match="'local' is already registered by adapters.local"):
        registry.providers()


def test_what_aws_supports_is_read_without_its_sdk():
    # `mnops registry` on a machine without boto3: the table is read, nothing of the SDK is imported; making an adapter
    # is what needs it, and says how to install it.
    script = textwrap.dedent("""\
        import sys
        sys.modules["boto3"] = sys.modules["botocore"] = None  # an import of either now fails
        from adapters import registry
        print(sorted(registry.supported_contracts("aws")))
        try:
            registry.create_adapter("aws", region="eu-west-1")
        except registry.ProviderUnavailable as exc:
            print(exc)
    """)
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    contracts, refusal = ran.stdout.splitlines()
    assert contracts == str(sorted(registry.driver_table("aws")))
    assert "pip install 'machine-native-ops[aws]'" in refusal


def test_supported_contracts_are_the_driver_table():
    for name in ("local", "aws"):
        table = registry.driver_table(name)
        assert registry.supported_contracts(name) == set(table)
        assert all(module.startswith(f"adapters.{name}.") for module, _ in table.values())


def test_an_adapter_is_made_from_the_class_its_package_names(outside_provider):
    outside_provider(
        "altus",
        {
            "__init__.py": """\
                PROVIDER = "altus"
                ADAPTER = ("altus_adapter.adapter", "AltusAdapter")
                DRIVERS = {}
                SUPPORTED_CONTRACTS = frozenset(DRIVERS)
            """,
            "adapter.py": """\
                from adapters.base import Adapter, build_drivers
                from altus_adapter import DRIVERS

                class AltusAdapter(Adapter):
                    provider = "altus"

                    def __init__(self, zone):
                        self.zone = zone
                        super().__init__(drivers=build_drivers(DRIVERS, zone))

                    def platforms(self):
                        return []
            """,
        },
    )
    adapter = registry.create_adapter("altus", zone="z1")
    assert (type(adapter).__name__, adapter.zone, adapter.platforms()) == ("AltusAdapter", "z1", [])
    with pytest.raises(registry.ProviderUnavailable, match=r"cannot be configured with \['region'\]"):
        registry.create_adapter("altus", region="z1")


def test_a_package_naming_no_adapter_is_refused(outside_provider):
    outside_provider("cumulus", {"__init__.py": 'PROVIDER = "cumulus"\nSUPPORTED_CONTRACTS = frozenset()\n'})
    with pytest.raises(registry.ProviderUnavailable, match="names no adapter: define ADAPTER or create_adapter"):
        registry.create_adapter("cumulus")


def test_validate_refuses_a_contract_the_provider_does_not_support(outside_provider, estate_copy):
    from typer.testing import CliRunner

    from mnops_assets.cli import app

    outside_provider(
        "nimbus",
        {
            "__init__.py": """\
                PROVIDER = "nimbus"
                DRIVERS = {"storage/v1": ("nimbus_adapter.storage", "StorageDriver")}
                SUPPORTED_CONTRACTS = frozenset(DRIVERS)
            """
        },
    )
    eco = estate_copy / "ecosystem.yaml"
    eco.write_text(
        eco.read_text().replace(
            "    default_region: local\n", "    default_region: local\n  nimbus:\n    default_region: r1\n"
        )
    )
    environment = estate_copy / "platform-cloud" / "dev" / "environment.yaml"
    environment.write_text(environment.read_text() + "provider: nimbus\n")
    result = CliRunner().invoke(app, ["validate", "dev", "--estate", str(estate_copy)], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    # Each resource whose contract nimbus lacks, at the line that binds it to that contract.
    refused = [line for line in result.output.splitlines() if "does not support" in line]
    assert len(refused) == 6 and not any("resources.assets." in line for line in refused)
    assert "resources.jobs.contract: provider 'nimbus' does not support queue/v1 (it supports: storage/v1)" in (
        result.output
    )
    assert "platform-templates/web-service.yaml:11:" in next(line for line in refused if "resources.jobs." in line)
