"""The deployment files people copy name only settings and commands that exist."""

from __future__ import annotations

import re

import yaml

from tapeworks.cli import app as cli_app
from tapeworks.config import Settings
from tests.helpers.paths import ROOT

SETTINGS = {f"TAPEWORKS_{name.upper()}" for name in Settings.model_fields}


def _compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def _commands() -> set[str]:
    import typer.main

    group = typer.main.get_command(cli_app)
    names = set(group.commands)  # type: ignore[attr-defined]
    for name, sub in group.commands.items():  # type: ignore[attr-defined]
        names |= {f"{name} {s}" for s in getattr(sub, "commands", {})}
    return names


def test_compose_has_the_services_and_the_order() -> None:
    services = _compose()["services"]
    assert {"postgres", "redis", "minio", "migrate", "api", "worker"} <= set(services)
    assert services["migrate"]["command"] == ["db", "upgrade"]
    for role in ("api", "worker"):
        assert services[role]["depends_on"]["migrate"]["condition"] == \
            "service_completed_successfully"
    assert services["api"]["environment"]["TAPEWORKS_WORKERS"] == "0"


def test_compose_names_only_settings_that_exist() -> None:
    services = _compose()["services"]
    used = {k for s in services.values() for k in (s.get("environment") or {})
            if k.startswith("TAPEWORKS_")}
    assert used, "compose sets no TAPEWORKS_ settings"
    assert used <= SETTINGS, f"not settings: {sorted(used - SETTINGS)}"


def test_compose_and_units_run_commands_that_exist() -> None:
    commands = _commands()
    for name, service in _compose()["services"].items():
        cmd = service.get("command")
        if name in ("migrate", "api", "worker"):
            words = [w for w in cmd if not w.startswith("-")]
            assert words[0] in commands or " ".join(words[:2]) in commands, (name, cmd)
    for unit in (ROOT / "deploy" / "systemd").glob("*.service"):
        text = unit.read_text()
        for line in re.findall(r"^ExecStart=\S*tapeworks (.+)$", text, flags=re.M):
            words = [w for w in line.split() if not w.startswith("-")]
            assert words[0] in commands or " ".join(words[:2]) in commands, (unit.name, line)
        for name in re.findall(r"(TAPEWORKS_[A-Z_]+)", text):
            assert name in SETTINGS, (unit.name, name)


def test_the_unit_environment_file_and_containerfile_name_real_settings() -> None:
    env = (ROOT / "deploy" / "systemd" / "tapeworks.env").read_text()
    names = set(re.findall(r"^(TAPEWORKS_[A-Z_]+)=", env, flags=re.M))
    assert names and names <= SETTINGS, sorted(names - SETTINGS)
    container = (ROOT / "Containerfile").read_text()
    assert re.search(r"^USER (?!root)\w+", container, flags=re.M), "runs as root"
    assert set(re.findall(r"(TAPEWORKS_[A-Z_]+)=", container)) <= SETTINGS
