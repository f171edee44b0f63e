"""`mnops iam-policy aws|azure|gcp [INSTANCE|--all]`: the least permissions that deploy, observe and destroy what the
chosen instances declare on a provider: an IAM policy (aws), a custom role definition (azure, gcp).

On azure and gcp the role lists what the contracts the instances use need (`adapters.azure.permissions`,
`adapters.gcp.permissions`), assignable at the subscription (`--account`, else the provider's `subscription_id`
setting) or made in the project (`--account`, else the `project` setting); gcp adds what the `project_identity`
setting needs.

The actions are those the drivers of the contracts the instances use declare (`adapters.aws.permissions`), plus what
every aws adapter needs; resources are scoped to mnops's namespaces, in the instances' regions and, where known, the
account (`--account`, else the account of the provider's `execution_role_arn`/`task_role_arn` settings; `*` if
neither says). Exit 0 with the policy document on stdout (as is: ready for `aws iam create-policy`); with
`--format json` the document of docs/cli.md wraps it.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from mnops_assets.cli.common import (
    EstateOption,
    ExitCode,
    Format,
    FormatOption,
    OptionalInstanceArgument,
    fail,
    one_or_all,
    report_invalid,
    usage,
    write_json,
)
from mnops_assets.errors import EstateInvalid, UsageError
from mnops_assets.estate import load_estate

SUPPORTED = ("aws", "azure", "gcp")


def iam_policy(
    provider: Annotated[str, typer.Argument(help="The provider whose policy or role to print: aws, azure or gcp.")],
    instance: OptionalInstanceArgument = None,
    all_instances: Annotated[bool, typer.Option("--all", help="Every instance of the estate on the provider.")] = False,
    account: Annotated[
        str | None,
        typer.Option(
            "--account",
            help="The AWS account id, Azure subscription id or GCP project resources live in (default: from settings).",
        ),
    ] = None,
    estate_path: EstateOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Print the least IAM policy for what the chosen instances (or all of them on the provider) use."""
    if provider not in SUPPORTED:
        usage(f"no IAM policy is generated for provider {provider!r} (supported: {', '.join(SUPPORTED)})")
    root, instances = one_or_all(instance, all_instances, estate_path)
    try:
        estate = load_estate(root, instances)
    except EstateInvalid as exc:
        report_invalid(exc.problems, fmt)
        raise typer.Exit(ExitCode.FAILURE) from None
    except UsageError as exc:
        usage(str(exc))
    chosen = [p.spec for p in estate.platforms.values() if p.spec.provider == provider]
    if instance is not None and not chosen:
        fail(f"instance {instances[0] if instances else instance} does not run on {provider}")
    if provider != "aws":
        _role(provider, chosen, estate, account, fmt)
    from adapters.aws import SUPPORTED_CONTRACTS, permissions

    contracts = sorted({r.contract for spec in chosen for r in spec.resources.values()} & SUPPORTED_CONTRACTS)
    try:
        grants = permissions.driver_grants(contracts)  # the drivers import boto3
    except ImportError as exc:
        fail(f"the aws provider cannot be loaded ({exc}); install it with: pip install 'machine-native-ops[aws]'")
    configured = estate.ecosystem.providers.get(provider)
    settings = dict(configured.settings) if configured else {}
    roles = sorted({str(settings[k]) for k in ("execution_role_arn", "task_role_arn") if settings.get(k)})
    known = {a for a in map(permissions.account_of, roles) if a}
    if account is None and len(known) == 1:
        account = known.pop()
    regions = sorted({spec.region for spec in chosen})
    try:
        document = permissions.policy(
            grants,
            account=account,
            regions=regions,
            pass_roles=roles if "compute/v1" in contracts else (),
        )
    except ValueError as exc:
        usage(str(exc))
    if fmt is Format.json:
        write_json(
            {
                "provider": provider,
                "instances": sorted(spec.name for spec in chosen),
                "contracts": contracts,
                "account": account,
                "regions": regions,
                "policy": document,
            }
        )
    else:
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    raise typer.Exit(ExitCode.OK)


def _role(provider: str, chosen: list, estate: object, account: str | None, fmt: Format) -> None:
    """Print the custom role definition for azure or gcp, and exit 0."""
    from adapters import registry

    contracts = sorted({r.contract for spec in chosen for r in spec.resources.values()})
    contracts = [c for c in contracts if c in registry.supported_contracts(provider)]
    configured = estate.ecosystem.providers.get(provider)  # type: ignore[attr-defined]
    settings = dict(configured.settings) if configured else {}
    if provider == "azure":
        from adapters.azure import permissions as azure

        account = account or (str(settings["subscription_id"]) if settings.get("subscription_id") else None)
        document = azure.role(contracts, account)
    else:
        from adapters.gcp import permissions as gcp

        account = account or (str(settings["project"]) if settings.get("project") else None)
        document = gcp.role(contracts, str(settings.get("project_identity", "none")))
    if fmt is Format.json:
        write_json(
            {
                "provider": provider,
                "instances": sorted(spec.name for spec in chosen),
                "contracts": contracts,
                "account": account,
                "role": document,
            }
        )
    else:
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    raise typer.Exit(ExitCode.OK)
