"""The `mnops` command line: the typer app, one module per command group, one exit-code contract (`common.ExitCode`).

`main` is the console script's entry and the seed scripts'; `app` is what tests invoke.
"""

from __future__ import annotations

import os
import sys

import typer

from mnops_assets.cli import deploy, drift, estate, governance, history, iam, maintain
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
app.command("iam-policy")(iam.iam_policy)


def main(argv: list[str] | None = None) -> None:
    """Run `mnops` with `argv` (default: the process's arguments) and exit with the code `common.ExitCode` says.

    With `MNOPS_TRACE_FILE` (or an OTLP endpoint) set, the whole command is one trace: a root span named for the
    command, the engine's spans beneath it."""
    args = argv if argv is not None else sys.argv[1:]
    if os.environ.get("MNOPS_TRACE_FILE") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from mnops_assets.engine import tracing  # only when asked: the SDK costs start-up time

        if tracing.install_from_environment("mnops"):
            words = [arg for arg in args[:2] if not arg.startswith("-")]
            with tracing.span(" ".join(["mnops", *words[:1]]), command=" ".join(words)):
                app(args=args, prog_name="mnops")
            return
    app(args=args, prog_name="mnops")
