"""The typed Checkpoint: read once per command, keys checked, errors name the file, resume
continues in the run's own folder."""

from __future__ import annotations

import dataclasses
import signal
import subprocess
import sys

import pytest
import torch
import yaml

from hepvae.atomic import temp_path
from hepvae.cli import main
from hepvae.errors import HepvaeError
from hepvae.train.checkpoint import FORMAT, Checkpoint, stored_fields
from hepvae.train.run import train
from tests.train_helpers import tiny_config, tiny_data


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``last.pt`` of a one-epoch tiny run."""
    folder = tmp_path_factory.mktemp("run")
    config = tiny_config(epochs=1, device="cpu", precision="fp32")
    return train(config, folder, train_data=tiny_data(32), val_data=None).last


@pytest.fixture
def loads(monkeypatch):
    """Counts the calls of ``torch.load`` (each still reads the file for real)."""
    calls = []
    real = torch.load

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, "load", counting)
    return calls


def _raw(path):
    return torch.load(path, weights_only=True)


def test_save_and_load_round_trip_in_the_old_dict_format(trained, tmp_path):
    ckpt = Checkpoint.load(trained)
    assert ckpt.path == trained and len(ckpt.sha256) == 64
    assert (ckpt.epoch, ckpt.step, ckpt.planned_epochs) == (1, 2, 1)  # 2 batches of 16 jets
    assert ckpt.trained_labels == [0, 1, 2]
    copy = ckpt.save(tmp_path / "copy.pt")
    raw = _raw(copy)
    assert raw["format"] == FORMAT and raw["format_version"] == 1
    assert set(raw) == {"format", "format_version", "hepvae_version", *stored_fields()}
    again = Checkpoint.load(copy)
    assert again.config == ckpt.config and again.history == ckpt.history
    assert all(torch.equal(again.model[k], ckpt.model[k]) for k in ckpt.model)
    assert not list(tmp_path.glob(".*tmp*"))


def _sleeper():
    proc = subprocess.Popen([sys.executable, "-c", "print(1, flush=True); import time; time.sleep(120)"],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout.readline().strip() == "1"
    return proc


def test_save_removes_a_killed_runs_temporary_file(trained, tmp_path):
    """A run killed while saving leaves its temporary file; the next save to that target
    removes it, while the temporary file of a run still in progress is kept."""
    target = tmp_path / "last.pt"
    killed, running = _sleeper(), _sleeper()
    try:
        killed.send_signal(signal.SIGKILL)
        killed.wait()  # reaped: its pid runs no process any more
        left, in_progress = temp_path(target, killed.pid), temp_path(target, running.pid)
        left.write_bytes(b"partial checkpoint")
        in_progress.write_bytes(b"partial checkpoint")
        Checkpoint.load(trained).save(target)
        assert not left.exists() and in_progress.exists()
        assert Checkpoint.load(target).step == 2
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted([target.name, in_progress.name])
    finally:
        running.kill()
        running.wait()


def test_files_without_the_newer_keys_still_load(trained, tmp_path):
    raw = _raw(trained)
    del raw["planned_epochs"], raw["trained_labels"]  # as the first hepvae versions wrote
    raw["config"]["train"]["epochs"] = 7
    raw["config"]["data"]["default_jet_types"] = ["t", "g"]
    torch.save(raw, tmp_path / "old.pt")
    old = Checkpoint.load(tmp_path / "old.pt")
    assert old.planned_epochs == 7
    assert old.trained_labels == [0, 2]  # the default data set's jet types
    raw["config"]["data"]["files"] = ["jets.root"]
    torch.save(raw, tmp_path / "old.pt")
    assert Checkpoint.load(tmp_path / "old.pt").trained_labels == [0, 1, 2, 3, 4]  # n_labels
    model, config = old.build_model()
    assert config.model.n_labels == 5 and not model.training


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda raw: raw.pop("best_val") and None, "missing keys best_val$"),
        (lambda raw: raw.update(extra=1, weights=2), "unknown keys extra, weights$"),
        (lambda raw: raw.update(step="9"), r"values of the wrong type step \(str\)$"),
        (
            lambda raw: raw.pop("optimizer") and raw.update(opt={}),
            "missing keys optimizer; unknown keys opt$",
        ),
    ],
)
def test_missing_unknown_and_mistyped_keys_are_named(trained, tmp_path, change, message):
    raw = _raw(trained)
    change(raw)
    path = tmp_path / "edited.pt"
    torch.save(raw, path)
    with pytest.raises(HepvaeError, match=message) as err:
        Checkpoint.load(path)
    text = str(err.value)
    assert text.startswith(f"{path}: not a valid hepvae checkpoint") and "\n" not in text


@pytest.mark.parametrize("command", ["train", "generate", "export"])
def test_corrupt_checkpoint_is_one_line_naming_the_file(trained, tmp_path, capsys, command):
    corrupt = tmp_path / "corrupt.pt"
    data = bytearray(trained.read_bytes())
    data[len(data) // 2 :] = bytes(len(data) - len(data) // 2)  # second half zeroed
    corrupt.write_bytes(bytes(data))
    with pytest.raises(HepvaeError, match="not a readable hepvae checkpoint"):
        Checkpoint.load(corrupt)
    args = {
        "train": ["train", "--resume", str(corrupt)],
        "generate": ["generate", "--checkpoint", str(corrupt), "--n", "4", "--jet-type", "all", "-o",
                     str(tmp_path / "jets.root")],
        "export": ["export", "--checkpoint", str(corrupt), "-o", str(tmp_path / "onnx")],
    }[command]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert str(corrupt) in err and "not a readable hepvae checkpoint" in err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "jets.root").exists() and not (tmp_path / "onnx").exists()


def test_generate_reads_the_checkpoint_once(trained, tmp_path, loads):
    from hepvae.generate import generate

    fresh = tmp_path / "fresh.pt"  # a file no earlier test has loaded in this process
    fresh.write_bytes(trained.read_bytes())
    paths = generate(fresh, tmp_path / "jets.root", 6, shards=2, progress=False)
    assert len(paths) == 2 and all(p.is_file() for p in paths)
    assert len(loads) == 1


def test_resume_continues_in_the_runs_own_folder(tmp_path, jet_file, monkeypatch, loads):
    """A run stopped early, resumed without --save-dir, writes its checkpoints and logs where
    it ran (not in runs/hepvae of the working folder), reading the checkpoint once."""
    config = tiny_config(epochs=2, max_steps=2, device="cpu", precision="fp32")
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, n_particles=30))
    short = config.to_dict()
    full = dataclasses.replace(config, train=dataclasses.replace(config.train, max_steps=None))
    (tmp_path / "short.yaml").write_text(yaml.safe_dump(short))
    (tmp_path / "full.yaml").write_text(yaml.safe_dump(full.to_dict()))
    run = tmp_path / "run"
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    data = ["--data", str(jet_file)]
    assert main(["train", "--config", "../short.yaml", *data, "--save-dir", str(run)]) == 0
    first = Checkpoint.load(run / "last.pt")
    assert (first.step, first.epoch) == (2, 0)
    loads.clear()

    assert main(["train", "--config", "../full.yaml", *data, "--resume", str(run / "last.pt")]) == 0
    assert len(loads) == 1
    resumed = Checkpoint.load(run / "last.pt")
    assert resumed.epoch == 2 and resumed.step == 2 * 3  # 45 training jets: 3 batches an epoch
    assert (run / "best.pt").is_file()
    assert len(list((run / "logs").glob("events.out.tfevents.*"))) == 2
    assert list(work.iterdir()) == []  # nothing under runs/hepvae of the working folder

    # an explicit --save-dir wins; without --config the checkpoint's own config is used
    loads.clear()
    assert main(["train", "--resume", str(run / "last.pt"), "--save-dir", "elsewhere"]) == 0
    assert len(loads) == 1
    moved = Checkpoint.load(work / "elsewhere" / "last.pt")
    assert moved.step == resumed.step and moved.config["train"] == full.to_dict()["train"]
    assert (work / "elsewhere" / "logs").is_dir()
