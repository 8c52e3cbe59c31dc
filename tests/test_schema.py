import os

import awkward as ak
import numpy as np
import pytest
import uproot

from hepvae.cli import main
from hepvae.data.schema import (
    JetWriter,
    count_jets,
    iterate_jets,
    read_jets,
    read_metadata,
    write_jets,
)
from hepvae.errors import HepvaeError, SchemaError
from hepvae.physics.p4 import sum_p4
from tests.conftest import random_jets


def test_round_trip(tmp_path, jets):
    path = write_jets(tmp_path / "a.root", jets, {"producer": "test", "seed": 3})
    back = read_jets(path)
    assert len(back) == len(jets)
    for coll, fields in (
        ("Jet", ("pt", "eta", "phi", "mass", "label", "nparticles")),
        ("Part", ("pt", "eta", "phi", "mass")),
    ):
        for f in fields:
            a = ak.to_numpy(ak.flatten(jets[coll][f], axis=None))
            b = ak.to_numpy(ak.flatten(back[coll][f], axis=None))
            np.testing.assert_allclose(b, a.astype(np.float32), rtol=1e-6)
    meta = read_metadata(path)
    assert meta["producer"] == "test" and meta["seed"] == 3 and meta["n_jets"] == len(jets)
    assert meta["schema_version"]


def test_nanoaod_branch_names(jet_file):
    with uproot.open(jet_file) as f:
        keys = set(f["Events"].keys())
    assert {
        "run",
        "luminosityBlock",
        "event",
        "Jet_pt",
        "Jet_label",
        "nPart",
        "Part_pt",
        "Part_mass",
    } <= keys


def test_vector_behaviour(jet_file):
    jets = read_jets(jet_file)
    summed = sum_p4(jets.Part)
    np.testing.assert_allclose(ak.to_numpy(summed.pt), ak.to_numpy(jets.Jet.pt), rtol=1e-4)
    dr = jets.Part.deltaR(jets.Jet)
    assert ak.all(dr < 3)


def test_chunked_writing_and_iteration(tmp_path):
    path = tmp_path / "chunks.root"
    with JetWriter(path, {"producer": "test"}) as w:
        for seed in range(3):
            w.write(random_jets(20, seed=seed))
    assert count_jets(path) == 60
    sizes = [len(c) for c in iterate_jets(path, step_size=25)]
    assert sum(sizes) == 60 and max(sizes) <= 25
    assert len(read_jets([path, path], max_jets=70)) == 70


def test_no_partial_output_on_error(tmp_path):
    path = tmp_path / "broken.root"
    with pytest.raises(RuntimeError):
        with JetWriter(path) as w:
            w.write(random_jets(5))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: None, "no such file"),
        (lambda p: p.write_text("not root"), "not a readable ROOT file"),
    ],
)
def test_bad_files(tmp_path, make, message):
    path = tmp_path / "x.root"
    make(path)
    with pytest.raises(HepvaeError, match=message):
        read_jets(path)


def test_truncated_file(tmp_path, jet_file):
    data = jet_file.read_bytes()
    bad = tmp_path / "trunc.root"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(HepvaeError, match="trunc.root"):
        read_jets(bad)


def test_missing_and_mistyped_branches(tmp_path, jets):
    path = tmp_path / "m.root"
    with uproot.recreate(path) as f:
        f.mktree("Events", {"Jet_pt": np.float32}).extend({"Jet_pt": np.ones(3, np.float32)})
    with pytest.raises(SchemaError, match="missing branches"):
        read_jets(path)
    from hepvae.data.schema import _branch_arrays

    data = _branch_arrays(jets)
    data["Jet_label"] = data["Jet_label"].astype(np.float32)
    path = tmp_path / "t.root"
    with uproot.recreate(path) as f:
        f.mktree(
            "Events", {k: (v.type if isinstance(v, ak.Array) else v.dtype) for k, v in data.items()}
        ).extend(data)
    with pytest.raises(SchemaError, match="Jet_label"):
        read_jets(path)


def test_nan_and_empty_jets(tmp_path, jets):
    bad = ak.with_field(
        jets, ak.where(ak.local_index(jets.Jet.pt) == 3, np.nan, jets.Jet.pt), ["Jet", "pt"]
    )
    with pytest.raises(SchemaError, match="NaN"):
        read_jets(write_jets(tmp_path / "nan.root", bad))
    from hepvae.data.schema import make_jets

    empty = make_jets([100.0], [0.0], [0.0], [1.0], 0, [[]], [[]], [[]])
    with pytest.raises(SchemaError, match="no constituents"):
        read_jets(write_jets(tmp_path / "empty.root", empty))


def test_unwritable_output(tmp_path, jets):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(HepvaeError, match="not_a_folder"):
        write_jets(blocker / "a.root", jets)
    with pytest.raises(HepvaeError, match="must end in .root"):
        write_jets(tmp_path / "a.txt", jets)


def test_inspect_cli(jet_file, tmp_path, capsys):
    assert main(["inspect", str(jet_file)]) == 0
    out = capsys.readouterr().out
    assert "jets" in out and "50" in out
    bad = tmp_path / "bad.root"
    bad.write_text("x")
    assert main(["inspect", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.root" in err


def test_run_and_luminosity_block_round_trip(tmp_path):
    from hepvae.data.schema import make_jets

    jets = make_jets(
        [900.0, 950.0], [0.1, -0.2], [0.0, 1.0], [80.0, 90.0], 3,
        [[500.0, 400.0], [600.0]], [[0.1, 0.0], [-0.2]], [[0.0, 0.1], [1.0]],
        run=[7, 8], luminosity_block=[3, 4],
    )  # fmt: skip
    back = read_jets(write_jets(tmp_path / "rl.root", jets))
    assert ak.to_list(back.run) == [7, 8]
    assert ak.to_list(back.luminosityBlock) == [3, 4]


WRITER_THEN_SLEEP = """
import sys, time
from hepvae.data.schema import JetWriter
from tests.conftest import random_jets
writer = JetWriter(sys.argv[1])
writer.write(random_jets(5))
print("written", flush=True)
time.sleep(600)
"""


def _writer_process(target):
    """A Python process that has written part of ``target`` and waits (its temp file exists)."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER_THEN_SLEEP, str(target)],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "written"
    return proc


def test_next_write_removes_temp_files_of_killed_runs(tmp_path, jets):
    """A run killed with SIGKILL leaves its temp file; the next write to that target removes
    it, while the temp file of a run still in progress is kept."""
    import signal

    from hepvae.atomic import atomic_path, temp_path

    target = tmp_path / "jets.root"
    killed = _writer_process(target)
    running = _writer_process(target)
    try:
        killed.send_signal(signal.SIGKILL)
        killed.wait()  # reaped: its pid runs no process any more
        left = temp_path(target, killed.pid)
        in_progress = temp_path(target, running.pid)
        assert left.exists() and left.stat().st_size > 0 and in_progress.exists()
        legacy = tmp_path / f".jets.root.tmp-{killed.pid}"  # the name earlier versions used
        legacy.write_bytes(b"partial")
        other = tmp_path / f".other.tmp-{killed.pid}.root"  # another target's: not ours to touch
        other.write_bytes(b"partial")

        write_jets(target, jets)
        assert len(read_jets(target)) == len(jets)
        assert not left.exists() and not legacy.exists()
        assert in_progress.exists() and other.exists()
    finally:
        running.kill()
        running.wait()

    # the same for files written with atomic_path (plots, histograms, JSON)
    summary = tmp_path / "summary.json"
    stale = temp_path(summary, running.pid)
    stale.write_text("{")
    with atomic_path(summary) as tmp:
        tmp.write_text("{}")
    assert summary.read_text() == "{}" and not stale.exists()


def test_files_without_jets(tmp_path):
    """An empty schema file reads as no jets, or as an error naming it for readers that need
    jets; a file of zero bytes is an error naming it."""
    from hepvae.data.schema import empty_jets

    path = write_jets(tmp_path / "nojets.root", empty_jets())
    assert len(read_jets(path)) == 0 and count_jets(path) == 0
    with pytest.raises(SchemaError, match=r"nojets\.root: holds no jets"):
        read_jets([write_jets(tmp_path / "some.root", random_jets(3)), path], require_jets=True)
    zero = tmp_path / "zero.root"
    zero.write_bytes(b"")
    with pytest.raises(SchemaError, match=r"zero\.root: not a readable ROOT file"):
        read_jets(zero)
