"""The README's shell commands for the fast stages and its Python examples work as written,
and its results table shows the figures of ``docs/results.json``.

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

Every fenced ```python block runs, in order, in one temporary directory, each in a fresh
namespace, after two rewrites of its source (nothing else changes):

  1. an integer literal of 1,000 or more (the README's jet counts) becomes ``PYTHON_N``;
  2. a file named in ``PYTHON_INPUTS`` (a trained model's ONNX export, a jet file) is replaced
     by the path of a small real one made by the test.

Every other ``.root`` or ``.onnx`` file an example names must exist after it ran (it wrote it),
and every awkward array it leaves holds ``PYTHON_N`` jets. A new input file in the README needs
an entry in ``PYTHON_INPUTS``.

The results table (the first table of the README's Results section) must show the figures of
``docs/results.json`` rounded to the printed digits, in its units, for every class; the
training summary and the sample size quoted beside it must match too.
"""

from __future__ import annotations

import ast
import json
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
    "python benchmarks/decoder_speed.py": "a speed benchmark (minutes); "
    "tests/test_decoder_speed.py runs it at tiny sizes",
    "python benchmarks/fidelity.py": "the fidelity benchmark (simulation and training, minutes to hours)",
    "python benchmarks/prior_gap.py": "needs a checkpoint trained by the fidelity benchmark; "
    "tests/test_selection.py runs it on a tiny one",
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
#: jets a README Python example makes (Python rewrite 1)
PYTHON_N = 40
#: inputs of the README's Python examples, made by the test (Python rewrite 2): the tiny
#: trained model's ONNX export, or random jets written with the hepvae ROOT writer
PYTHON_INPUTS = {
    "exports/models/default/sampler.onnx": "onnx",
    "data/top30.root": "root",
}


@dataclass(frozen=True)
class Command:
    line: int  # README line where the command starts
    text: str  # as written (continuation lines joined, comment removed)

    @property
    def words(self) -> list[str]:
        return shlex.split(self.text, comments=True)

    def where(self) -> str:
        return f"README.md line {self.line}: `{self.text}`"


def fenced_blocks(language: str, path: Path = README) -> list[tuple[int, list[str]]]:
    """Every fenced block of ``language``: (README line of its first code line, its lines)."""
    blocks: list[tuple[int, list[str]]] = []
    inside = False
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("```"):
            inside = not inside and stripped[3:].strip() == language
            if inside:
                blocks.append((number + 1, []))
            continue
        if inside:
            blocks[-1][1].append(line)
    return blocks


def readme_commands(path: Path = README) -> list[Command]:
    """The commands of every fenced ```bash block, in order, with their line numbers."""
    commands: list[Command] = []
    for first, lines in fenced_blocks("bash", path):
        pending, start = "", first
        for number, line in enumerate(lines, start=first):
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


# --- the README's Python examples -------------------------------------------------------------


class _Rewrite(ast.NodeTransformer):
    """Python rewrites 1 and 2 (see the module docstring) on a parsed example."""

    def __init__(self, paths: dict[str, Path]) -> None:
        self.paths = paths

    def visit_Constant(self, node: ast.Constant) -> ast.Constant:
        value = node.value
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1000:
            return ast.copy_location(ast.Constant(min(value, PYTHON_N)), node)
        if isinstance(value, str) and value in self.paths:
            return ast.copy_location(ast.Constant(str(self.paths[value])), node)
        return node


def file_literals(lines: list[str]) -> set[str]:
    """The string literals of an example that name a ROOT or ONNX file."""
    tree = ast.parse("\n".join(lines))
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value.endswith((".root", ".onnx"))
    }


def python_example(first: int, lines: list[str], paths: dict[str, Path]):
    """The example compiled after the rewrites; tracebacks name README.md and its lines."""
    tree = ast.parse("\n".join(lines), filename=str(README))
    ast.increment_lineno(tree, first - 1)
    tree = ast.fix_missing_locations(_Rewrite(paths).visit(tree))
    return compile(tree, str(README), "exec")


@pytest.mark.slow
def test_readme_python_examples_run(tmp_path, tmp_path_factory, monkeypatch):
    import awkward as ak

    from hepvae.data.schema import write_jets
    from tests.conftest import random_jets
    from tests.sampler_fixtures import tiny_export

    makers = {
        "onnx": lambda: tiny_export(tmp_path_factory),
        "root": lambda: write_jets(tmp_path / "inputs" / "jets.root", random_jets(PYTHON_N)),
    }
    blocks = fenced_blocks("python")
    assert blocks, "README.md has no ```python examples"
    used = set().union(*(file_literals(lines) for _, lines in blocks))
    (tmp_path / "inputs").mkdir()
    paths = {name: makers[kind]() for name, kind in PYTHON_INPUTS.items() if name in used}
    monkeypatch.chdir(tmp_path)
    for first, lines in blocks:
        where = f"README.md line {first}"
        namespace: dict = {"__name__": "readme_example"}
        exec(python_example(first, lines, paths), namespace)
        for name in file_literals(lines) - set(paths):  # files the example writes
            assert (tmp_path / name).is_file(), f"{where}: {name} was not written"
        arrays = {k: v for k, v in namespace.items() if isinstance(v, ak.Array)}
        for name, array in arrays.items():
            assert len(array) == PYTHON_N, f"{where}: {name} has {len(array)} jets"
    assert (tmp_path / "w.root").is_file() and (tmp_path / "tops.root").is_file()


# --- the README's results table against docs/results.json ---------------------------------------

RESULTS_JSON = README.parent / "docs" / "results.json"
_NUMBER = r"[-−]?\d+(?:\.\d+)?"
_CELL = re.compile(rf"({_NUMBER}) ± ({_NUMBER}) \(({_NUMBER}) ± ({_NUMBER})\)")
_HEADER = re.compile(r"(\S+) ×10([⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+) \(truth\)")
_SUPERSCRIPTS = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")


def readme_section(title: str, path: Path = README) -> list[str]:
    """The lines of the ``## title`` section (up to the next ``## `` heading)."""
    lines = path.read_text().splitlines()
    start = lines.index(f"## {title}") + 1
    end = next((k for k in range(start, len(lines)) if lines[k].startswith("## ")), len(lines))
    return lines[start:end]


def results_table(path: Path = README) -> dict[tuple[str, str], dict]:
    """The first table of the README's Results section: (class, metric) -> unit and the
    printed (value, error) of model and truth."""
    section = readme_section("Results", path)
    first = next(k for k, line in enumerate(section) if line.startswith("|"))
    rows = []
    for line in section[first:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    header, body = rows[0], rows[2:]
    columns = []
    for cell in header[1:]:
        match = _HEADER.fullmatch(cell)
        assert match, f"README results header cell {cell!r} is not 'METRIC ×10ⁿ (truth)'"
        columns.append((match[1].lower(), 10.0 ** int(match[2].translate(_SUPERSCRIPTS))))
    table = {}
    for row in body:
        for (metric, unit), cell in zip(columns, row[1:], strict=True):
            match = _CELL.fullmatch(cell)
            assert match, (
                f"README results cell {cell!r} ({row[0]}, {metric}) is not 'a ± b (c ± d)'"
            )
            model, model_err, truth, truth_err = match.groups()
            table[(row[0], metric)] = {
                "unit": unit,
                "model": (model, model_err),
                "truth": (truth, truth_err),
            }
    return table


def agrees(printed: str, value: float) -> bool:
    """Whether ``printed`` is ``value`` rounded to the printed number of decimals."""
    decimals = len(printed.partition(".")[2])
    return abs(float(printed.replace("−", "-")) - value) <= 0.5 * 10.0**-decimals * (1 + 1e-9)


def test_readme_results_table_matches_results_json():
    results = json.loads(RESULTS_JSON.read_text())
    rows = {(r["jet_type"], r["metric"]): r for r in results["rows"]}
    table = results_table()
    assert {t for t, _ in table} == {t for t, _ in rows}, "README and results.json classes differ"
    for key, printed in table.items():
        assert key in rows, f"README results table has {key}, docs/results.json does not"
        row = rows[key]
        assert printed["unit"] == pytest.approx(row["unit"]), f"{key}: unit"
        for side in ("model", "truth"):
            for text, number in zip(printed[side], (row[side]["value"], row[side]["error"])):
                assert agrees(text, number / row["unit"]), (
                    f"README results {key} {side}: {text} vs results.json {number / row['unit']}"
                )
    text = " ".join(readme_section("Results"))
    training = results["training"]
    match = re.search(r"\((\d+) epochs, ([\d,]+) steps, (\d+) minutes of training\)", text)
    assert match, "README Results: '(E epochs, S steps, M minutes of training)' not found"
    assert int(match[1]) == training["epochs"]
    assert int(match[2].replace(",", "")) == training["steps"]
    assert int(match[3]) == round(training["seconds"] / 60)
    match = re.search(r"Each metric sample holds ([\d,]+) jets", text)
    assert match, "README Results: 'Each metric sample holds N jets' not found"
    assert {int(match[1].replace(",", ""))} == set(results["sizes"]["n_per_sample"].values())


def test_results_table_check_sees_a_changed_figure(tmp_path):
    """The check above can fail: one figure changed in a copy of the README is caught."""
    rows = json.loads(RESULTS_JSON.read_text())["rows"]
    results = {(r["jet_type"], r["metric"]): r for r in rows}
    before = results_table()
    key = next(iter(before))
    old = before[key]["model"][0]
    new = old[:-1] + str((int(old[-1]) + 5) % 10)  # the last printed digit moved by 5
    changed = tmp_path / "README.md"
    changed.write_text(README.read_text().replace(f"| {old} ± ", f"| {new} ± ", 1))
    after = results_table(changed)
    assert [k for k in before if before[k] != after[k]] == [key]
    value = results[key]["model"]["value"] / results[key]["unit"]
    assert agrees(old, value) and not agrees(new, value)


# --- the README's result tables against docs/results*.json -----------------------------------

BUDGET_JSON = README.parent / "docs" / "results_budget.json"
#: README column -> metric key of the results JSON
RESULT_COLUMNS = {
    "W1M": "w1m", "W1P": "w1p", "W1EFP": "w1efp", "FPD ×10⁻³": "fpd", "KPD ×10⁻³": "kpd",
    "τ21": "w1tau21", "τ32": "w1tau32", "D2": "w1d2", "EEC": "w1eec",
    "Jet_nparticles": "w1nparticles",
}  # fmt: skip


def result_table(header_start: str, path: Path = README, which: int = 0) -> list[dict[str, str]]:
    """The rows (column -> printed cell) of the ``which``-th Results table whose header line
    starts with ``header_start``."""
    lines = readme_section("Results", path)
    start = [k for k, line in enumerate(lines) if line.startswith(header_start)][which]

    def cells(line: str) -> list[str]:
        return [cell.strip() for cell in line.strip().strip("|").split("|")]

    header, rows = cells(lines[start]), []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(header, cells(line), strict=True)))
    return rows


def table_mismatches(results: Path, rows: list[dict[str, str]]) -> list[str]:
    """The cells of ``rows`` that disagree with ``results`` (a results JSON of the fidelity
    benchmark); a row's jet type is its ``class`` cell, else the only one in the file."""
    entries = json.loads(results.read_text())["rows"]
    by_key = {(r["jet_type"], r["metric"]): r for r in entries}
    only = {r["jet_type"] for r in entries}
    wrong = []
    for cells in rows:
        jet_type = cells.get("class") or only.pop()
        for column, cell in cells.items():
            if column == "class":
                continue
            row = by_key[(jet_type, RESULT_COLUMNS[column])]
            if cell.endswith("×"):  # a ratio to truth
                ok = agrees(cell[:-1], row["ratio"])
            else:  # value ± error in the column's unit, optionally (pull p)
                value, _, rest = cell.partition(" ± ")
                error = rest.split(" ")[0]
                ok = agrees(value, row["model"]["value"] / row["unit"])
                ok &= agrees(error, row["model"]["error"] / row["unit"])
                if "pull" in rest:
                    ok &= agrees(rest.split("pull ")[1].rstrip(")"), row["pull"])
            if not ok:
                label = f"{jet_type} " if "class" in cells else ""
                wrong.append(f"{label}{column}: README {cell!r}")
    return wrong


def test_readme_full_size_ratios_match_results_json(tmp_path):
    header = "| class | W1M | W1P | W1EFP | τ21 |"
    rows = result_table(header)
    assert {row["class"] for row in rows} == {"g", "q", "t"}
    assert table_mismatches(RESULTS_JSON, rows) == []
    changed = tmp_path / "README.md"  # the check can fail: the first row's τ32 moved
    tau32 = rows[0]["τ32"]
    moved = f"{float(tau32[:-1]) + 1:.1f}×"
    changed.write_text(README.read_text().replace(f"| {tau32} |", f"| {moved} |", 1))
    wrong = table_mismatches(RESULTS_JSON, result_table(header, changed))
    assert wrong == [f"{rows[0]['class']} τ32: README {moved!r}"]


@pytest.mark.parametrize(
    ("which", "name"), [(0, "results_full_fast_nsub"), (1, "results_full_fast_fp32")]
)
def test_readme_full_size_fast_table_matches_its_results_json(which, name):
    rows = result_table("| class | W1M | W1P | W1EFP | FPD", which=which)
    assert {row["class"] for row in rows} == {"g", "q", "t"}
    path = README.parent / "docs" / f"{name}.json"
    assert table_mismatches(path, rows) == []
    assert json.loads(path.read_text())["config"].endswith("fast.yaml")


@pytest.mark.parametrize(
    ("which", "name"),
    [
        (1, "results_budget_fast"),
        (2, "results_budget_fast_shape_nsub_k128"),
        (3, "results_budget_fast_60min"),
        (4, "results_budget_fast_fp32"),
        (5, "results_budget_fast_seed1"),
        (6, "results_budget_fast16"),
        (7, "results_budget_fast16_seed1"),
    ],
)
def test_readme_fast_config_rows_match_their_results_json(which, name):
    (row,) = result_table("| W1M | W1P |", which=which)
    assert table_mismatches(README.parent / "docs" / f"{name}.json", [row]) == []
    assert (README.parent / "configs" / "fast.yaml").is_file()


def test_readme_budget_row_matches_results_budget_json(tmp_path):
    (row,) = result_table("| W1M | W1P |")
    assert set(row) == set(RESULT_COLUMNS)
    assert table_mismatches(BUDGET_JSON, [row]) == []
    training = json.loads(BUDGET_JSON.read_text())["training"]
    assert f"{training['steps']:,} steps" in " ".join(readme_section("Results"))
    changed = tmp_path / "README.md"  # the check can fail: the row's τ32 moved
    line = next(k for k in README.read_text().splitlines() if k.startswith(f"| {row['W1M']} |"))
    moved = f"{float(row['τ32'][:-1]) + 1:.1f}×"
    edited = line.replace(f"| {row['τ32']} |", f"| {moved} |", 1)
    changed.write_text(README.read_text().replace(line, edited, 1))
    changed_rows = result_table("| W1M | W1P |", changed)
    assert table_mismatches(BUDGET_JSON, changed_rows) == [f"τ32: README {moved!r}"]
