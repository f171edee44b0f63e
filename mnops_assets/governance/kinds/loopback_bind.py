"""Rule kind `loopback_bind`: a service says, in its command or its environment, that it listens on loopback only.

It reads what the declaration says, not what the program does: a `--bind`-style argument (`--bind 127.0.0.1`,
`--host=localhost`, `-b [::1]:{port}`, `--bind unix:/run/app.sock`), looked for in the command's arguments and in any
argument holding a shell line (`sh -c "..."`), else one of the environment variables the rule names (the ones its
services document, such as `HOST`). A program that ignores the argument, or takes its address from a config file, is
beyond what the rule can see; docs/governance.md says so.
"""

from __future__ import annotations

import ipaddress
import shlex
from collections.abc import Iterator
from typing import Annotated

from pydantic import Field, StringConstraints

from contracts import ContractSpec
from contracts.compute import ComputeContract
from mnops_assets.estate import ResolvedPlatform
from mnops_assets.governance.kinds.base import RuleKind, Violation, no_names
from mnops_assets.governance.model import Strict

Flag = Annotated[str, StringConstraints(pattern=r"^--?[A-Za-z][A-Za-z0-9-]*$")]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class LoopbackBind(Strict):
    """A compute resource's command binds a loopback address (or a unix socket), or its environment says so."""

    flags: list[Flag] = Field(
        default_factory=lambda: ["--bind", "-b", "--host", "--listen", "--address", "--bind-address"],
        min_length=1,
        description="Options taking the address to listen on, as `--bind ADDR` or `--bind=ADDR`.",
    )
    env: list[EnvName] = Field(
        default_factory=list, description="Environment variables the services document as their listen address."
    )


def loopback(address: str) -> bool:
    """Whether `address` (a host, host:port, [v6]:port or unix:path; the port may be `{port}`) is loopback only."""
    text = address.strip()
    if text.startswith("unix:"):
        return True  # a unix socket is reachable through the file system only
    host = text
    if text.startswith("["):
        host = text[1 : text.find("]")] if "]" in text else text
    elif text.count(":") == 1:
        host = text.split(":", 1)[0]
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve to anything


def _arguments(command: list[str]) -> list[str]:
    """The command's arguments, with any argument holding a shell line split as the shell would split it."""
    out: list[str] = []
    for argument in command:
        if any(c.isspace() for c in argument):
            try:
                out.extend(shlex.split(argument))
                continue
            except ValueError:  # unbalanced quotes: taken as one word
                pass
        out.append(argument)
    return out


def bound(command: list[str], flags: list[str]) -> list[str]:
    """Every address the command's bind-style arguments give."""
    arguments = _arguments(command)
    found = []
    for i, argument in enumerate(arguments):
        for flag in flags:
            # An option after it is no address: `python -b -m ...` is Python's own -b, not a bind.
            if argument == flag and i + 1 < len(arguments) and not arguments[i + 1].startswith("-"):
                found.append(arguments[i + 1])
            elif argument.startswith(flag + "="):
                found.append(argument[len(flag) + 1 :])
    return found


def loopback_bind(
    p: LoopbackBind, platform: ResolvedPlatform, name: str | None, resource: ContractSpec | None
) -> Iterator[Violation]:
    if not isinstance(resource, ComputeContract) or name is None:
        return
    base = ("resources", name)
    command = list(getattr(resource, "command", []) or [])
    addresses = bound(command, p.flags)
    wide = [a for a in addresses if not loopback(a)]
    if wide:
        yield (*base, "command"), f"command binds {wide[0]!r}, which is not a loopback address (127.0.0.1, ::1)"
        return
    if addresses:
        return
    env = dict(getattr(resource, "env", {}) or {})
    given = [variable for variable in p.env if variable in env]
    if given:
        variable = given[0]
        if not loopback(env[variable]):  # the value is a plain address, but values under env are never shown
            yield (*base, "env", variable), f"env {variable} is not a loopback address (127.0.0.1, ::1)"
        return
    ways = f"{p.flags[0]} 127.0.0.1" + (f" or {'/'.join(p.env)}=127.0.0.1 in env" if p.env else "")
    message = f"command gives no address to listen on ({ways}); many servers then listen on every interface"
    yield (*base, "command"), message


KIND = RuleKind(LoopbackBind, loopback_bind, judges="compute", fields=no_names)
