"""The bad-input corpus: every broken file in tests/data/bad/ must yield exactly the problems it declares.

Each case is one YAML file whose leading comments say where it goes in the base estate (tests/data/estate/) and what
`load_estate` must report, as `str(problem)`:

    # target: platform-cloud/dev/platform.yaml      where the file is written, replacing what is there
    # action: delete                                 (optional) delete the target instead of writing the case there
    # expect: 7:5: resources.jobs.retention_seconds: input should be greater than or equal to 60
    # expect: platform-templates/base.yaml:4:10: extends: template cycle: ...
    # secret: hunter2                                (optional) a value no message may echo
    # xfail: why the product is wrong                (optional) the expectation is what it SHOULD say

An expectation without a file part is in the target. Line numbers count the comment lines: they are the lines of
the case file as written. Files are named relative to the estate root, which is how `mnops validate .` names them
when run inside the estate.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from mnops_assets.errors import EstateInvalid
from mnops_assets.estate import load_estate

DATA = Path(__file__).parent / "data"
BASE = DATA / "estate"
CASES = DATA / "bad"
MNOPS = Path(sys.executable).parent / "mnops"

_DIRECTIVE = re.compile(r"^# (target|action|expect|secret|xfail): (.*)$")
_IN_TARGET = re.compile(r"^\d+:\d+: ")


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    target: str
    delete: bool = False
    expect: frozenset[str] = frozenset()
    secrets: tuple[str, ...] = ()
    xfail: str | None = None


def read_case(path: Path) -> Case:
    text = path.read_text(encoding="utf-8")
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        match = _DIRECTIVE.match(line)
        if match:
            found.setdefault(match[1], []).append(match[2].rstrip())
    assert len(found.get("target", [])) == 1, f"{path.name}: exactly one '# target:' line"
    assert found.get("action", ["write"]) in (["write"], ["delete"]), f"{path.name}: '# action:' is write or delete"
    assert found.get("expect"), f"{path.name}: at least one '# expect:' line"
    target = found["target"][0]
    expect = frozenset(e if not _IN_TARGET.match(e) else f"{target}:{e}" for e in found["expect"])
    return Case(
        name=path.stem,
        text=text,
        target=target,
        delete=found.get("action") == ["delete"],
        expect=expect,
        secrets=tuple(found.get("secret", [])),
        xfail=found.get("xfail", [None])[0],
    )


def all_cases() -> list:
    params = []
    for path in sorted(CASES.glob("*.yaml")):
        case = read_case(path)
        marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
        params.append(pytest.param(case, id=case.name, marks=marks))
    return params


def estate_with(case: Case, tmp_path: Path) -> Path:
    root = tmp_path / "estate"
    shutil.copytree(BASE, root)
    target = root / case.target
    if case.delete:
        target.unlink()
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(case.text, encoding="utf-8")
    return root


def problems_of(root: Path) -> EstateInvalid:
    with pytest.raises(EstateInvalid) as caught:
        load_estate(root)
    return caught.value


def test_base_estate_is_valid(monkeypatch):
    monkeypatch.chdir(BASE)
    estate = load_estate(BASE)
    assert sorted(estate.platforms) == ["dev", "prod"]
    assert estate.platforms["dev"].template_chain == ("base", "service")


def test_corpus_is_large_enough():
    assert len(all_cases()) >= 30


def test_tab_case_still_holds_tabs():
    # An editor that expands tabs would turn this case into a valid file and a confusing failure.
    assert "\t" in (CASES / "yaml-tab-in-indentation.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize("case", all_cases())
def test_bad_input_reports_exact_problems(case, tmp_path, monkeypatch):
    root = estate_with(case, tmp_path)
    # Inside the estate, problems name their files relative to it, exactly as the case files write them.
    monkeypatch.chdir(root)
    error = problems_of(root)
    assert {str(p) for p in error.problems} == case.expect
    for secret in case.secrets:
        assert secret not in str(error)  # every problem's field and message, as the CLI would print them


def non_utf8_estate(tmp_path: Path) -> Path:
    root = tmp_path / "estate"
    shutil.copytree(BASE, root)
    # Latin-1 "é" (0xE9 at byte 34, line 2 column 17): the corpus files are text, so this case is written as bytes.
    (root / "platform-cloud/dev/platform.yaml").write_bytes(b"template: service\ndescription: caf\xe9\n")
    return root


def test_non_utf8_file_is_reported_alone_at_the_bad_byte(tmp_path, monkeypatch):
    root = non_utf8_estate(tmp_path)
    monkeypatch.chdir(root)
    assert [str(p) for p in problems_of(root).problems] == [
        "platform-cloud/dev/platform.yaml:2:17: yaml: not UTF-8 text (invalid continuation byte)"
    ]


def test_cli_validate_accepts_the_base_estate():
    result = subprocess.run(
        [str(MNOPS), "validate", "."], cwd=BASE, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "valid: ."


@pytest.mark.parametrize("name", ["several-problems-in-one-file", "yaml-syntax-error", "secret-literal-in-secrets"])
def test_cli_validate_prints_problems_and_exits_1(name, tmp_path):
    case = read_case(CASES / f"{name}.yaml")
    root = estate_with(case, tmp_path)
    result = subprocess.run(
        [str(MNOPS), "validate", "."], cwd=root, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 1, result.stdout + result.stderr
    *lines, summary = result.stdout.splitlines()
    # Run inside the estate, the CLI prints each problem exactly as `str(problem)`, one a line, then a count.
    assert set(lines) == case.expect
    files = len({line.split(":", 1)[0] for line in lines})
    plural = {"problem": "s" if len(lines) != 1 else "", "file": "s" if files != 1 else ""}
    assert summary == f"invalid: {len(lines)} problem{plural['problem']} in {files} file{plural['file']}"
    for secret in case.secrets:
        assert secret not in result.stdout + result.stderr


def test_a_file_linked_out_of_the_estate_is_refused_unread(tmp_path, monkeypatch):
    root = tmp_path / "estate"
    shutil.copytree(BASE, root)
    shadow = tmp_path / "shadow"
    shadow.write_text("root: $6$hunter2hash$x\ndaemon: '*'\n")
    (root / "platform-cloud/dev/platform.yaml").unlink()
    (root / "platform-cloud/dev/platform.yaml").symlink_to(shadow)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "platform.yaml").write_text("template: service\nbin: hunter2bin\n")
    (root / "platform-cloud/evil").symlink_to(outside)
    monkeypatch.chdir(root)
    error = problems_of(root)
    assert [str(p) for p in error.problems] == [
        "platform-cloud/dev/platform.yaml:1:1: (file): a symbolic link out of the estate; refused, not read",
        "platform-cloud/evil/platform.yaml:1:1: (file): a symbolic link out of the estate; refused, not read",
    ]
    assert "hunter2" not in str(error) and "daemon" not in str(error)


def test_a_link_within_the_estate_is_read(tmp_path, monkeypatch):
    root = tmp_path / "estate"
    shutil.copytree(BASE, root)
    shutil.copy(root / "platform-cloud/dev/platform.yaml", root / "shared-dev.yaml")
    (root / "platform-cloud/dev/platform.yaml").unlink()
    (root / "platform-cloud/dev/platform.yaml").symlink_to(root / "shared-dev.yaml")
    assert sorted(load_estate(root).platforms) == ["dev", "prod"]


def test_nesting_a_thousand_deep_is_a_problem_not_a_recursion_error(tmp_path, monkeypatch):
    root = tmp_path / "estate"
    shutil.copytree(BASE, root)
    (root / "platform-cloud/dev/platform.yaml").write_text("template: service\ndeep: " + "[" * 900 + "]" * 900 + "\n")
    monkeypatch.chdir(root)
    assert [str(p) for p in problems_of(root).problems] == [
        "platform-cloud/dev/platform.yaml:2:70: deep[0]: nested more than 64 levels deep"
    ]


def test_a_file_over_10_mib_is_refused_unparsed(tmp_path, monkeypatch):
    root = tmp_path / "estate"
    shutil.copytree(BASE, root)
    with (root / "platform-cloud/dev/platform.yaml").open("w") as handle:
        handle.write("template: service\n")
        handle.writelines(f"k{i}: {i}\n" for i in range(1_200_000))
    monkeypatch.chdir(root)
    assert [str(p) for p in problems_of(root).problems] == [
        "platform-cloud/dev/platform.yaml:1:1: (file): 18.5 MiB; estate files are limited to 10 MiB"
    ]


def test_a_file_of_too_many_keys_is_refused_without_blaming_aliases(tmp_path, monkeypatch):
    root = tmp_path / "estate"
    shutil.copytree(BASE, root)
    with (root / "platform-cloud/dev/platform.yaml").open("w") as handle:
        handle.write("template: service\n")
        handle.writelines(f"k{i}: {i}\n" for i in range(120_000))  # 2 MiB: counted as a stream, never composed
    monkeypatch.chdir(root)
    assert [str(p) for p in problems_of(root).problems] == [
        "platform-cloud/dev/platform.yaml:1:1: yaml: holds more than 200,000 values (counting each use of an alias); "
        "split it, or share settings with a template"
    ]


def test_file_secret_folders_are_allowed_per_tier_and_links_are_followed(tmp_path, monkeypatch):
    root = tmp_path / "estate"
    shutil.copytree(BASE, root)
    vault = tmp_path / "vault"
    vault.mkdir()
    (root / "keys").mkdir()
    (root / "keys" / "linked").symlink_to(vault / "api.key")  # inside the estate by name, outside by target
    ecosystem = root / "ecosystem.yaml"
    ecosystem.write_text(ecosystem.read_text() + f"secrets:\n  file_dirs:\n    dev: [{vault}]\n")
    platform = "template: service\nresources:\n  api-key:\n    from: file:{}\n"
    (root / "platform-cloud/dev/platform.yaml").write_text(platform.format(vault / "api.key"))
    (root / "platform-cloud/prod/platform.yaml").write_text(platform.format("keys/linked"))
    monkeypatch.chdir(root)
    assert [str(p) for p in problems_of(root).problems] == [
        "platform-cloud/prod/platform.yaml:4:11: resources.api-key.from: reads outside the estate folder; list its "
        "folder under secrets.file_dirs.prod in ecosystem.yaml to allow that"
    ]
