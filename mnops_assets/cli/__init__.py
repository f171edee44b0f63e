"""The `mnops` command line: the typer app, one module per command group, one exit-code contract (`common.ExitCode`).

`main` is the console script's entry and the seed scripts'; `app` is what tests invoke.
"""

from __future__ import annotations

import sys

import typer

from mnops_assets.cli import deploy, drift, estate, governance, history, maintain
from mnops_assets.cli.common import EXIT_CODES_HELP, JSON_HELP, MnopsGroup

__all__ = ["app", "main"]

app = typer.Typer(
    cls=MnopsGroup,
    name="mnops",
    help=f"machine-native-ops: a governed, multi-cloud platform estate as data.\n\n{EXIT_CODES_HELP}\n\n{JSON_HELP}",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

app.command()(estate.validate)
app.command()(estate.explain)
app.command()(estate.registry)
app.command("new-platform")(estate.new_platform)
app.command()(estate.schema)
app.command()(governance.enforce)
app.command()(deploy.plan)
app.command()(deploy.deploy)
app.command()(deploy.destroy)
app.command()(deploy.rollback)
app.command("import")(deploy.import_platform)
app.command()(deploy.unlock)
app.command()(drift.drift)
app.command()(history.history)
app.command()(history.outputs)
app.add_typer(history.audit_app, name="audit")
app.command()(maintain.maintain)


def main(argv: list[str] | None = None) -> None:
    """Run `mnops` with `argv` (default: the process's arguments) and exit with the code `common.ExitCode` says."""
    app(args=argv if argv is not None else sys.argv[1:], prog_name="mnops")
