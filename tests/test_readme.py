"""The README's shell commands for the fast stages work as written.

Every command in a fenced ```bash block of README.md is either run or excluded by a rule
below; a command that no rule covers fails the test, so nothing is skipped silently when the
README changes. The rules:

- RUN: commands starting with one of ``RUN_PREFIXES`` (the fast stages) are run in order, in
  one temporary directory, each must exit 0. A failure names the README line.
- EXCLUDED: commands starting with a prefix in ``EXCLUDED_PREFIXES`` (installation, pixi,
  the test suite, stages that need a trained checkpoint or run long), or containing an
  option in ``EXCLUDED_OPTIONS`` (a dask cluster that must already exist), with the reason.
- Rewrites, the only changes to a command as written:
  1. ``hepvae simulate --n N`` runs with ``--n min(N, SIMULATE_N)`` (a small sample).
  2. ``[...]`` marks optional arguments in the README's usage lines; they are dropped.
  3. ``--local-cluster N`` runs with ``min(N, LOCAL_WORKERS)`` dask workers (CI has 2 cores).
- A command that appears verbatim more than once (``hepvae doctor``) runs once.
- Inputs: a ``.root`` input that no earlier README command wrote (for example generated jets
  from a checkpoint-based stage) is simulated first: top jets, ``INPUT_N`` of them, 30
  constituents, a seed per file.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"

RUN_PREFIXES = (
    "hepvae doctor",
    "hepvae simulate",
    "hepvae inspect",
    "hepvae graphs",
    "hepvae evaluate",
    "hepvae analyze",
)
EXCLUDED_PREFIXES = {
    "pixi": "needs pixi (conda-forge), not available to the test suite",
    "python3 -m venv": "installation (the pip path); CI's .ci/run does it on a clean clone",
    "pip": "installation (the pip path); CI's .ci/run does it on a clean clone",
    "source": "activates the virtual environment of the pip path",
    "pytest": "the test suite itself",
    "hepvae train": "a long run (minutes to hours)",
    "torchrun": "a multi-process training run",
    "hepvae generate": "needs a trained checkpoint",
    "hepvae export": "needs a trained checkpoint",
    "hepvae convert": "needs input files the README does not produce (JetNet HDF5, NanoAOD)",
    "bash .ci/onnxruntime.sh": "installation (downloads onnxruntime); CI's .ci/run does it",
    "cmake": "the C++ example needs the onnxruntime C++ headers and an exported model; "
    "tests/test_export.py builds and runs it",
    "exports/cpp/build/hepvae-sample": "the C++ sampler, built by the cmake line above",
    "python benchmarks/bench_generate.py": "the generation speed benchmark (minutes; needs the C++ build)",
    "python benchmarks/fidelity.py": "the fidelity benchmark (simulation and training, minutes to hours)",
}
EXCLUDED_OPTIONS = {
    "--scheduler": "needs a running dask scheduler",
}
#: largest sample that ``hepvae simulate`` is run with (rewrite 1)
SIMULATE_N = 200  # evaluate needs >= 200 real jets per type
#: most dask workers a ``--local-cluster`` command starts (rewrite 3)
LOCAL_WORKERS = 2
#: jets in a simulated stand-in for an input that no earlier command wrote
INPUT_N = 200  # evaluate needs >= 200 real jets per type for FPD (100 per half)


@dataclass(frozen=True)
class Command:
    line: int  # README line where the command starts
    text: str  # as written (continuation lines joined, comment removed)

    @property
    def words(self) -> list[str]:
        return shlex.split(self.text, comments=True)

    def where(self) -> str:
        return f"README.md line {self.line}: `{self.text}`"


def readme_commands(path: Path = README) -> list[Command]:
    """The commands of every fenced ```bash block, in order, with their line numbers."""
    commands: list[Command] = []
    in_bash, pending, start = False, "", 0
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("```"):
            in_bash = not in_bash and stripped[3:].strip() == "bash"
            continue
        if not in_bash:
            continue
        if not pending:
            start = number
        pending += line.rstrip("\\").rstrip() + " " if line.endswith("\\") else line
        if line.endswith("\\"):
            continue
        text, pending = pending.strip(), ""
        for part in re.split(r"\s*&&\s*", text):  # `a && b`: two commands
            if shlex.split(part, comments=True):
                commands.append(Command(start, part.split(" #")[0].strip()))
    return commands


def classify(command: Command) -> tuple[str, str]:
    """("run", "") or ("excluded", reason) or ("unknown", "")."""
    text = " ".join(command.words)
    for option, reason in EXCLUDED_OPTIONS.items():
        if option in command.words:
            return "excluded", reason
    for prefix, reason in EXCLUDED_PREFIXES.items():
        if text == prefix or text.startswith(prefix + " "):
            return "excluded", reason
    if any(text == p or text.startswith(p + " ") for p in RUN_PREFIXES):
        return "run", ""
    return "unknown", ""


def rewrite(words: list[str]) -> list[str]:
    """Apply the documented rewrites to a command's words."""
    out, depth = [], 0
    for word in words:  # rewrite 2: drop [optional] arguments
        depth += word.startswith("[")
        if depth == 0:
            out.append(word)
        depth -= word.endswith("]")
    if out[:2] == ["hepvae", "simulate"] and "--n" in out:  # rewrite 1
        k = out.index("--n") + 1
        out[k] = str(min(int(out[k]), SIMULATE_N))
    if "--local-cluster" in out:  # rewrite 3
        k = out.index("--local-cluster") + 1
        out[k] = str(min(int(out[k]), LOCAL_WORKERS))
    return out


def root_inputs(words: list[str]) -> list[str]:
    """The ``.root`` files a command reads (``-o`` values are outputs; ``name=a.root,b.root``)."""
    inputs = []
    for k, word in enumerate(words):
        if k > 0 and words[k - 1] in ("-o", "--output"):
            continue
        for part in word.split("=")[-1].split(","):
            if part.endswith(".root"):
                inputs.append(part)
    return inputs


def provide_input(path: Path, seed: int) -> None:
    from hepvae.data.simulate import simulate_to_file

    path.parent.mkdir(parents=True, exist_ok=True)
    simulate_to_file(path, "t", INPUT_N, n_particles=30, seed=seed, workers=1, progress=False)


def test_readme_commands_are_all_classified():
    commands = readme_commands()
    assert commands, "README.md has no ```bash commands"
    unknown = [c.where() for c in commands if classify(c)[0] == "unknown"]
    assert not unknown, (
        "README commands that tests/test_readme.py neither runs nor excludes (add a rule):\n"
        + "\n".join(unknown)
    )
    ran = {" ".join(c.words[:2]) for c in commands if classify(c)[0] == "run"}
    assert ran == set(RUN_PREFIXES), f"README lacks an example of {set(RUN_PREFIXES) - ran}"


@pytest.mark.slow
def test_readme_fast_commands_run(tmp_path):
    root = str(README.parent)
    env = dict(os.environ)
    # the `hepvae` entry point of this interpreter's environment, and this checkout of hepvae
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    failures, ran, seen = [], 0, set()
    for seed, command in enumerate(readme_commands(), start=100):
        if classify(command)[0] != "run" or command.text in seen:
            continue
        seen.add(command.text)
        words = rewrite(command.words)
        for name in root_inputs(words[2:]):
            if not (tmp_path / name).exists() and words[1] != "simulate":
                provide_input(tmp_path / name, seed)
        done = subprocess.run(
            words, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )
        ran += 1
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            failures.append(
                f"{command.where()} exited {done.returncode} (ran as `{shlex.join(words)}`):\n  "
                + "\n  ".join(tail)
            )
    assert ran, "no README command was run"
    assert not failures, "\n".join(failures)
