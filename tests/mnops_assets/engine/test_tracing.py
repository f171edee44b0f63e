"""A deploy of three platforms traced to a file (`MNOPS_TRACE_FILE`): one trace, the command's span at its root, each
platform's deploy beneath it with its lock, observation, plan, a span per resource applied and its health; no secret
value in any attribute."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

PLATFORM = """\
template: base
tier: dev
resources:
  jobs: {contract: queue/v1}
  api-key: {contract: secrets/v1, from: "env:API_KEY_SOURCE"}
"""


def write_estate(root: Path) -> Path:
    estate = root / "ecosystem"
    files = {
        "ecosystem.yaml": "name: traced\nproviders: {local: {default_region: local}}\n"
        "defaults: {provider: local, owner: team-traces}\n",
        "platform-templates/base.yaml": "description: empty\n",
        **{f"platform-cloud/{name}/platform.yaml": PLATFORM for name in ("alpha", "beta", "gamma")},
    }
    for relative, body in files.items():
        path = estate / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(body))
    return estate


def test_a_deploy_of_three_platforms_is_one_trace_of_nested_spans(tmp_path):
    estate = write_estate(tmp_path)
    spans_file = tmp_path / "spans.jsonl"
    env = {
        **os.environ,
        "MNOPS_HOME": str(tmp_path / ".mnops"),
        "MNOPS_TRACE_FILE": str(spans_file),
        "API_KEY_SOURCE": "a-value-no-span-may-hold",
    }
    env.pop("MNOPS_STATE_URL", None)
    command = [sys.executable, "-m", "mnops_assets", "deploy", "--all", "--estate", str(estate)]
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        env.pop("MNOPS_TRACE_FILE")
        destroy = [sys.executable, "-m", "mnops_assets", "destroy", "--all", "--force", "--estate", str(estate)]
        subprocess.run(destroy, env=env, capture_output=True, timeout=180, check=False)

    text = spans_file.read_text()
    assert "a-value-no-span-may-hold" not in text
    spans = [json.loads(line) for line in text.splitlines()]
    assert len({s["context"]["trace_id"] for s in spans}) == 1, "one trace for the whole command"
    by_id = {s["context"]["span_id"]: s for s in spans}
    [root] = [s for s in spans if s["parent_id"] is None]
    assert root["name"] == "mnops deploy"

    def parent(span: dict) -> dict | None:
        return by_id.get(span["parent_id"])

    def under(span: dict, name: str) -> bool:
        node = parent(span)
        while node is not None:
            if node["name"] == name:
                return True
            node = parent(node)
        return False

    deploys = [s for s in spans if s["name"] == "mnops.deploy"]
    assert sorted(s["attributes"]["mnops.platform"] for s in deploys) == ["alpha", "beta", "gamma"]
    assert all(under(s, "mnops deploy") for s in deploys)
    for name in ("mnops.lock", "mnops.observe", "mnops.plan", "mnops.apply", "mnops.health"):
        found = [s for s in spans if s["name"] == name]
        assert found and all(under(s, "mnops.deploy") for s in found), name
    applied = [s["attributes"] for s in spans if s["name"] == "mnops.apply"]
    assert sorted((a["mnops.platform"], a["mnops.resource"]) for a in applied) == sorted(
        (platform, resource) for platform in ("alpha", "beta", "gamma") for resource in ("api-key", "jobs")
    )
    assert {a["mnops.action"] for a in applied} == {"create"}


def test_spans_of_a_dagster_run_share_the_run_s_trace_id_outside_any_trace():
    import uuid

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from mnops_assets.engine import tracing

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    run_id = str(uuid.uuid4())
    # Two step processes of one run: each starts from nothing, and each lands in the run's trace.
    with tracing.within_run(run_id), tracer.start_as_current_span("step one"):
        pass
    with tracing.within_run(run_id), tracer.start_as_current_span("step two"):
        pass
    traces = {span.context.trace_id for span in exporter.get_finished_spans()}
    assert traces == {uuid.UUID(run_id).int}
