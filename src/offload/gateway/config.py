"""Gateway configuration: upstream servers, the task policy of their tools, the store.

From flags (`offload gateway --upstream 'node server.js' --mode auto --budget 1`) or a TOML file
(`--config gateway.toml`, flags override it). The CLI reads the file and lays the flags over the
table; `config_from_mapping` turns the result into a `GatewayConfig`:

    store = "sqlite:///gateway-tasks.db"   # task store URL (default sqlite:///offload-gateway.db)
    mode = "auto"                          # task mode of upstream tools without a [tools] entry
    budget_s = 1.0                         # how long an `auto` call stays inline before it becomes a task

    lease_s = 5.0                          # a dead gateway's running tasks are taken over after this

    [upstream]                             # one server; or several as [[upstreams]] with a `name`
    command = "npx -y @modelcontextprotocol/server-everything"   # stdio: a string or an array
    env = { API_KEY = "..." }              # stdio servers get only PATH, HOME, ... plus these (SDK default)
    # cwd = "/srv/tools"
    # url = "http://127.0.0.1:9000/mcp"   # or Streamable HTTP (`headers = {Authorization = "..."}`)
    # protocol = "legacy"                 # auto (default), legacy (2025-11-25 handshake) or 2026-07-28

    [tools."trigger-long-running-operation"]   # per tool, by name or glob; exact names first,
    mode = "required"                          # then patterns in file order
    [tools."get-*"]
    mode = "forbidden"

With several upstreams, each one's tools and prompts are named `<prefix><name>` (prefix defaults
to `<upstream name>_`); `[tools]` patterns match those names.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from offload.runtime import MODES, TaskMode, TaskPolicy

DEFAULT_GATEWAY_STORE = "sqlite:///offload-gateway.db"
DEFAULT_BUDGET_S = 1.0
Protocol = Literal["auto", "legacy", "2026-07-28"]
PROTOCOLS: tuple[str, ...] = get_args(Protocol)
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class ConfigError(ValueError):
    """A configuration the gateway cannot run with; the message names the offending entry."""


@dataclass(frozen=True)
class UpstreamConfig:
    """One MCP server behind the gateway: a stdio command it starts and supervises, or a URL."""

    name: str = "upstream"
    command: tuple[str, ...] = ()
    url: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    prefix: str = ""
    protocol: Protocol = "auto"
    connect_timeout_s: float = 20.0
    list_timeout_s: float = 30.0
    restart_delay_s: float = 0.2
    max_restart_delay_s: float = 10.0
    elicitation: bool = True
    sampling: bool = True

    def __post_init__(self) -> None:
        if bool(self.command) == bool(self.url):
            raise ConfigError(f"upstream {self.name!r}: give exactly one of `command` (stdio) or `url` (HTTP)")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ConfigError(f"upstream {self.name!r}: url must start with http:// or https://, not {self.url!r}")
        if self.protocol not in PROTOCOLS:
            raise ConfigError(f"upstream {self.name!r}: protocol must be one of {PROTOCOLS}, not {self.protocol!r}")
        if not _NAME.match(self.name):
            raise ConfigError(f"upstream name {self.name!r} must be 1-64 of A-Z a-z 0-9 _ . -")
        if self.connect_timeout_s <= 0 or self.list_timeout_s <= 0:
            raise ConfigError(f"upstream {self.name!r}: timeouts must be > 0")
        if not 0 < self.restart_delay_s <= self.max_restart_delay_s:
            raise ConfigError(f"upstream {self.name!r}: need 0 < restart_delay_s <= max_restart_delay_s")

    @property
    def target(self) -> str:
        """What the upstream is, for messages: its URL or its command line."""
        return self.url or shlex.join(self.command)


@dataclass(frozen=True)
class ToolRule:
    """The task policy of the tools whose (gateway-side) name matches `pattern` (a glob or a name)."""

    pattern: str
    policy: TaskPolicy

    @property
    def exact(self) -> bool:
        return not any(ch in self.pattern for ch in "*?[")

    def matches(self, tool: str) -> bool:
        return tool == self.pattern if self.exact else fnmatch.fnmatchcase(tool, self.pattern)


@dataclass(frozen=True)
class GatewayConfig:
    upstreams: tuple[UpstreamConfig, ...]
    store: str = DEFAULT_GATEWAY_STORE
    mode: TaskMode = "auto"
    budget_s: float = DEFAULT_BUDGET_S
    tools: tuple[ToolRule, ...] = ()
    ttl_ms: int | None = 24 * 3600 * 1000
    poll_interval_ms: int = 1000
    input_timeout_s: float | None = 900.0
    lease_s: float = 5.0
    name: str = "offload-gateway"
    host: str = "127.0.0.1"
    port: int = 8000

    def __post_init__(self) -> None:
        if not self.upstreams:
            raise ConfigError("no upstream: pass --upstream COMMAND|URL or an [upstream] table in --config")
        names = [u.name for u in self.upstreams]
        if len(set(names)) != len(names):
            raise ConfigError(f"upstream names must be unique, got {names}")
        prefixes = [u.prefix for u in self.upstreams]
        if len(self.upstreams) > 1 and (len(set(prefixes)) != len(prefixes) or "" in prefixes):
            raise ConfigError(f"several upstreams need distinct, non-empty name prefixes, got {prefixes}")
        if self.mode not in MODES:
            raise ConfigError(f"mode must be one of {MODES}, not {self.mode!r}")
        if self.budget_s < 0:
            raise ConfigError("budget_s must be >= 0")
        if self.lease_s <= 0:
            raise ConfigError("lease_s must be > 0")

    def rule_for(self, tool: str) -> ToolRule | None:
        """Exact names win over patterns; among patterns the first listed wins."""
        for rule in self.tools:
            if rule.exact and rule.pattern == tool:
                return rule
        for rule in self.tools:
            if not rule.exact and rule.matches(tool):
                return rule
        return None


# -- parsing --

_POLICY_KEYS = {"mode", "budget_s", "ttl_ms", "poll_interval_ms", "input_timeout_s", "retry", "max_attempts"}
_UPSTREAM_KEYS = {
    "name",
    "command",
    "args",
    "url",
    "env",
    "cwd",
    "headers",
    "prefix",
    "protocol",
    "connect_timeout_s",
    "list_timeout_s",
    "restart_delay_s",
    "max_restart_delay_s",
    "elicitation",
    "sampling",
}
_TOP_KEYS = {
    "store",
    "mode",
    "budget_s",
    "ttl_ms",
    "poll_interval_ms",
    "input_timeout_s",
    "lease_s",
    "name",
    "host",
    "port",
    "upstream",
    "upstreams",
    "tools",
}


def _unknown(where: str, data: Mapping[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(data) - allowed)
    if extra:
        raise ConfigError(f"{where}: unknown key{'s' if len(extra) > 1 else ''} {', '.join(extra)}")


def split_command(command: str | Iterable[str]) -> tuple[str, ...]:
    parts = tuple(shlex.split(command)) if isinstance(command, str) else tuple(str(c) for c in command)
    if not parts:
        raise ConfigError("an upstream command is empty")
    return parts


def _upstream_from_table(data: Mapping[str, Any], index: int, several: bool) -> UpstreamConfig:
    where = f"upstream {data.get('name', index)!r}"
    _unknown(where, data, _UPSTREAM_KEYS)
    options = {k: v for k, v in data.items() if k not in {"command", "args", "env", "headers", "url"}}
    name = str(data.get("name", "upstream" if not several else f"upstream{index + 1}"))
    options["name"] = name
    if several and "prefix" not in data:
        options["prefix"] = f"{name}_"
    command: tuple[str, ...] = ()
    if "command" in data:
        command = split_command(data["command"]) + tuple(str(a) for a in data.get("args", ()))
    elif "args" in data:
        raise ConfigError(f"{where}: `args` without `command`")
    try:
        return UpstreamConfig(
            command=command,
            url=data.get("url"),
            env={str(k): str(v) for k, v in dict(data.get("env", {})).items()},
            headers={str(k): str(v) for k, v in dict(data.get("headers", {})).items()},
            **options,
        )
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def policy_from_table(where: str, data: Mapping[str, Any]) -> TaskPolicy:
    _unknown(where, data, _POLICY_KEYS)
    try:
        return TaskPolicy(**data)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def parse_tool_flag(text: str) -> ToolRule:
    """`--tool PATTERN=MODE[:BUDGET_S]`, e.g. `--tool 'deploy-*=required'` or `--tool build=auto:2.5`."""
    pattern, sep, spec = text.rpartition("=")
    if not sep or not pattern:
        raise ConfigError(f"--tool {text!r}: expected PATTERN=MODE[:BUDGET_S]")
    mode, _, budget = spec.partition(":")
    if mode not in MODES:
        raise ConfigError(f"--tool {text!r}: mode must be one of {MODES}")
    try:
        policy = TaskPolicy(mode=mode, budget_s=float(budget) if budget else None)
    except ValueError as exc:
        raise ConfigError(f"--tool {text!r}: {exc}") from None
    return ToolRule(pattern, policy)


def config_from_mapping(data: Mapping[str, Any]) -> GatewayConfig:
    _unknown("gateway config", data, _TOP_KEYS)
    if "upstream" in data and "upstreams" in data:
        raise ConfigError("give [upstream] (one server) or [[upstreams]] (several), not both")
    tables: list[Mapping[str, Any]] = [data["upstream"]] if "upstream" in data else list(data.get("upstreams", []))
    several = len(tables) > 1
    upstreams = tuple(_upstream_from_table(t, i, several) for i, t in enumerate(tables))
    rules = tuple(
        ToolRule(str(pattern), policy_from_table(f"[tools.{pattern!r}]", table))
        for pattern, table in dict(data.get("tools", {})).items()
    )
    top = {k: v for k, v in data.items() if k not in {"upstream", "upstreams", "tools"}}
    try:
        return GatewayConfig(upstreams=upstreams, tools=rules, **top)
    except TypeError as exc:
        raise ConfigError(f"gateway config: {exc}") from None
