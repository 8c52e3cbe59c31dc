"""The pixi workspace is valid and every task calls something that exists."""

import shlex
import shutil
import sys
from pathlib import Path

import tomllib

from hepvae.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]


def pixi():
    return tomllib.loads((ROOT / "pixi.toml").read_text())


def subcommands() -> set[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return set(action.choices)


def test_workspace_and_environments():
    data = pixi()
    ws = data["workspace"]
    assert ws["channels"] == ["conda-forge"] and "linux-64" in ws["platforms"]
    envs = data["environments"]
    assert envs["default"] == ["cpu"] and envs["cuda"] == ["cuda"]
    assert "pytorch-cpu" in data["feature"]["cpu"]["dependencies"]
    assert "pytorch-gpu" in data["feature"]["cuda"]["dependencies"]
    assert data["pypi-dependencies"]["hepvae"] == {"path": ".", "editable": True}


def test_every_task_calls_an_existing_command():
    tasks = pixi()["tasks"]
    for name in ("train", "test", "simulate", "generate", "export", "evaluate", "analyze"):
        assert name in tasks, f"pixi task {name} is missing"
    commands = subcommands()
    venv_bin = Path(sys.executable).parent
    for name, task in tasks.items():
        task = {"cmd": task} if isinstance(task, str) else task
        for dep in task.get("depends-on", []):
            assert dep in tasks, f"task {name} depends on unknown task {dep}"
        args = {a["arg"] if isinstance(a, dict) else a for a in task.get("args", [])}
        cmd = task["cmd"]
        for part in cmd.replace("||", "&&").split("&&"):
            words = shlex.split(part.split("2>")[0])
            program = words[0]
            assert shutil.which(program, path=f"{venv_bin}:/usr/bin:/bin"), (
                f"task {name}: {program} not found"
            )
            if program == "hepvae":
                assert words[1] in commands, f"task {name}: no subcommand {words[1]}"
                # every option must be accepted by the subcommand's parser
                templated = [w if "{{" not in w else "X" for w in words[2:]]
                options = {w for w in templated if w.startswith("-")}
                sub = build_parser()._subparsers._group_actions[0].choices[words[1]]
                known = {o for a in sub._actions for o in a.option_strings}
                assert options <= known, f"task {name}: unknown options {options - known}"
        for placeholder in {w.strip("{} ") for w in cmd.split("{{")[1:]}:
            assert placeholder.split("}}")[0].strip() in args, (
                f"task {name}: undeclared {placeholder}"
            )
