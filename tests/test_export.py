"""hepvae export, the torch-free onnxruntime Sampler and the C++ sampler."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import awkward as ak
import numpy as np
import onnx
import pytest
import torch

from hepvae.data.schema import read_jets, read_metadata
from hepvae.errors import HepvaeError
from hepvae.export.graph import SamplerGraph
from hepvae.export.onnx_export import p4_deviation
from hepvae.generate import generate, load_generator
from hepvae.onnx import Sampler
from hepvae.sampling import noise_range
from tests.sampler_fixtures import N_PARTICLES, tiny_checkpoint, tiny_export
from tests.test_generate import assert_same_counts, assert_same_jets, run_cli

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory)


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory):
    return tiny_export(tmp_path_factory)


def test_export_is_one_self_contained_file_with_metadata(onnx_file, checkpoint):
    assert [p.name for p in onnx_file.parent.iterdir()] == ["sampler.onnx"]
    model = onnx.load(str(onnx_file), load_external_data=False)
    assert not any(
        init.data_location == onnx.TensorProto.EXTERNAL for init in model.graph.initializer
    )
    inputs = {i.name: i for i in model.graph.input}
    assert list(inputs) == ["noise", "label", "temperature"]
    assert inputs["noise"].type.tensor_type.shape.dim[0].dim_param  # dynamic batch
    assert [o.name for o in model.graph.output] == [
        "p4", "mask", "multiplicity", "jet", "nparticles"
    ]  # fmt: skip
    props = {p.key: p.value for p in model.metadata_props}
    loaded = load_generator(checkpoint)
    assert json.loads(props["labels"]) == {"g": 0, "q": 1, "t": 2, "w": 3, "z": 4}
    assert json.loads(props["trained_labels"]) == [0, 2]
    assert json.loads(props["p4_fields"]) == ["E", "px", "py", "pz"]
    assert json.loads(props["units"])["E"] == "GeV"
    assert int(props["max_particles"]) == N_PARTICLES
    # latent; prior component, multiplicity, rapidity, azimuth; 5 for the rest head; turn and
    # reflection (orient)
    assert loaded.vae.config.orient
    assert int(props["noise_dim"]) == int(props["latent_dim"]) + 4 + 5 + 2
    assert "before truncation" in json.loads(props["outputs"])["nparticles"]
    assert json.loads(props["normalization"])["p4_scale"] == loaded.normalization["p4_scale"]
    assert props["config_hash"] == loaded.config_hash
    assert {"hepvae", "torch", "onnx"} <= set(json.loads(props["versions"]))


@pytest.mark.parametrize(
    "batch, per_jet_temperature", [(1, False), (37, True), (150, True), (300, False)]
)
def test_torch_and_onnxruntime_agree(onnx_file, checkpoint, batch, per_jet_temperature):
    graph = SamplerGraph(load_generator(checkpoint).vae).eval()
    sampler = Sampler(onnx_file)
    noise = noise_range(11, 0, batch, sampler.noise_dim)
    label = np.where(np.arange(batch) % 2 == 0, 0, 2).astype(np.int64)
    rng = np.random.default_rng(batch)
    temperature = (
        rng.uniform(0.3, 1.5, batch).astype(np.float32)
        if per_jet_temperature
        else np.array([0.7], dtype=np.float32)
    )
    with torch.no_grad():
        ref = [t.numpy() for t in graph(*map(torch.from_numpy, (noise, label, temperature)))]
    out = sampler.run(noise, label, temperature)
    np.testing.assert_array_equal(ref[2], out["multiplicity"])
    np.testing.assert_array_equal(ref[1], out["mask"])
    assert p4_deviation(ref[0], out["p4"]) <= 1e-4
    # the full jet (pt, eta, phi, mass) and the multiplicity before truncation
    np.testing.assert_allclose(out["jet"], ref[3], rtol=1e-4, atol=1e-4)
    assert_same_counts(out["nparticles"], ref[4])
    assert (out["nparticles"] >= out["multiplicity"]).all()
    assert out["p4"].shape == (batch, N_PARTICLES, 4)


@pytest.mark.parametrize("heads, blocks", [(2, 1), (1, 2)])
def test_inference_decoder_computes_what_the_trained_decoder_computes(heads, blocks):
    from hepvae.export.fast import fast_copy
    from hepvae.export.onnx_export import check_fast
    from hepvae.model.config import NetConfig
    from tests.model_helpers import small_model

    decoder = NetConfig(hidden_v=4, hidden_s=16, blocks=blocks, heads=heads)
    vae = small_model(seed=3, n_particles=N_PARTICLES, decoder=decoder).eval()
    with torch.no_grad():  # gains and biases away from their initial values: all get folded
        for name, p in vae.decoder.named_parameters():
            if "norm" in name or "bias" in name:
                p.add_(0.5 * torch.randn_like(p))
    fast = fast_copy(vae)
    assert fast.decoder is not vae.decoder and fast.encoder is vae.encoder
    cond = torch.randn(40, vae.decoder.cond[0].in_features)
    mask = torch.arange(N_PARTICLES) < torch.randint(1, N_PARTICLES + 1, (40, 1))
    refs = vae.references(cond)
    with torch.no_grad():
        want, got = vae.decoder.vectors(cond, mask, refs), fast.decoder.vectors(cond, mask, refs)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    graph, fast_graph = SamplerGraph(vae).eval(), SamplerGraph(fast).eval()
    assert check_fast(graph, fast_graph) <= 1e-5


def test_generate_and_onnx_sampler_give_the_same_jets(onnx_file, checkpoint, tmp_path):
    torch_jets = read_jets(
        generate(
            checkpoint, tmp_path / "t.root", 150, "all", seed=21, temperature=0.9, progress=False
        )  # fmt: skip
    )
    onnx_jets = Sampler(onnx_file).sample(150, "all", seed=21, temperature=0.9, batch_size=64)
    assert_same_jets(torch_jets, onnx_jets, rtol=1e-4)


def test_sampler_writes_the_schema(onnx_file, tmp_path):
    sampler = Sampler(onnx_file)
    assert sampler.jet_types == ["g", "t"]
    path = sampler.write(tmp_path / "s.root", 80, "t", seed=1, batch_size=32)
    jets = read_jets(path)
    assert len(jets) == 80 and ak.all(jets.Jet.label == 2)
    assert read_metadata(path)["backend"] == "onnxruntime"
    assert_same_jets(jets, sampler.sample(80, "t", seed=1))


TORCH_FREE = textwrap.dedent(
    """
    import json, sys
    sys.modules["torch"] = None  # any import of torch now fails
    import hepvae, hepvae.onnx
    from hepvae.onnx import Sampler
    from hepvae.data.schema import read_jets
    sampler = Sampler(sys.argv[1])
    jets = sampler.sample(40, "t", seed=3)
    path = sampler.write(sys.argv[2], 40, "t", seed=3)
    back = read_jets(path)
    loaded = sorted(m for m, v in sys.modules.items() if v is not None and "." not in m)
    print(json.dumps({
        "mass": jets.Jet.mass.tolist(),
        "mass_back": back.Jet.mass.tolist(),
        "dr": float(jets.Part.deltaR(jets.Jet)[0, 0]),
        "modules": loaded,
    }))
    """
)


def test_sampler_runs_without_torch(onnx_file, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", TORCH_FREE, str(onnx_file), str(tmp_path / "x.root")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert "torch" not in data["modules"] and "lgatr" not in data["modules"]
    np.testing.assert_allclose(data["mass_back"], data["mass"], rtol=1e-6)
    reference = Sampler(onnx_file).sample(40, "t", seed=3)
    np.testing.assert_allclose(data["mass"], ak.to_numpy(reference.Jet.mass), rtol=1e-6)
    assert np.isfinite(data["dr"])


def test_python_example_runs_without_torch(onnx_file, tmp_path):
    out = tmp_path / "example.root"
    code = (
        "import runpy, sys; sys.modules['torch'] = None; "
        f"sys.argv = ['sample_jets.py', {str(onnx_file)!r}, '--n', '300', '-o', {str(out)!r}]; "
        "runpy.run_path('exports/python/sample_jets.py', run_name='__main__')"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "jet mass [GeV]" in result.stdout
    assert len(read_jets(out)) == 300


def test_export_cli_and_bad_inputs(checkpoint, onnx_file, tmp_path, capsys):
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(onnx_file.read_bytes()[:5000])
    foreign = tmp_path / "foreign.onnx"
    node = onnx.helper.make_node("Identity", ["x"], ["y"])
    value = onnx.helper.make_tensor_value_info
    graph = onnx.helper.make_graph(
        [node], "g", [value("x", 1, [1])], [value("y", 1, [1])]
    )  # fmt: skip
    onnx.save(onnx.helper.make_model(graph), str(foreign))
    for path, message in [
        (tmp_path / "missing.onnx", "no such ONNX file"),
        (truncated, "not a readable ONNX model"),
        (foreign, "not a hepvae sampler"),
    ]:
        with pytest.raises(HepvaeError, match=message) as info:
            Sampler(path)
        assert "\n" not in str(info.value)
    sampler = Sampler(onnx_file)
    for kwargs, message in [
        ({"n": 0}, "^n must be a positive integer"),
        ({"n": 5, "temperature": 0.0}, "^temperature must be > 0"),
        ({"n": 5, "jet_type": "top"}, "unknown jet type"),
        ({"n": 5, "jet_type": "w"}, "not trained on jet type 'w'"),
    ]:
        with pytest.raises(HepvaeError, match=message):
            sampler.sample(**{"jet_type": "t", **kwargs})
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(HepvaeError):
        sampler.write(blocker / "x.root", 5, "t")
    # the command line: a bad checkpoint gives one line and no file
    out = tmp_path / "exp"
    code, err = run_cli(["export", "--checkpoint", str(truncated), "-o", str(out)], capsys)
    assert code == 2 and len(err.splitlines()) == 1 and "checkpoint" in err
    assert not out.exists()


# --- C++ ------------------------------------------------------------------------------------


def onnxruntime_headers() -> Path | None:
    """A folder with onnxruntime_cxx_api.h: ONNXRUNTIME_ROOT, CONDA_PREFIX or the system."""
    prefixes = [os.environ.get("ONNXRUNTIME_ROOT"), os.environ.get("CONDA_PREFIX"), "/usr"]
    suffixes = ["include", "include/onnxruntime", "include/onnxruntime/core/session"]
    for prefix in filter(None, prefixes):
        for suffix in suffixes:
            if (Path(prefix) / suffix / "onnxruntime_cxx_api.h").is_file():
                return Path(prefix) / suffix
    return None


def onnxruntime_library(headers: Path) -> Path:
    """The onnxruntime library next to the headers, else the one in the Python wheel.

    A prefix's own library comes first, so with ONNXRUNTIME_ROOT from `.ci/onnxruntime.sh`
    the program links the 1.21.0 library made for those headers, not the venv's newer wheel.
    The wheel is only the fallback for headers without a library beside them: headers older
    than the library work, newer ones do not (OrtGetApiBase()->GetApi() returns null).
    """
    prefix = headers
    while prefix.name != "include" and prefix.parent != prefix:
        prefix = prefix.parent
    for lib in ("lib", "lib64", "lib/x86_64-linux-gnu", "lib/aarch64-linux-gnu"):
        found = sorted((prefix.parent / lib).glob("libonnxruntime.so*"))
        if found:
            return found[0]
    import onnxruntime

    return sorted((Path(onnxruntime.__file__).parent / "capi").glob("libonnxruntime.so.*"))[0]


def cpp_prefix(tmp: Path) -> Path:
    """An onnxruntime prefix (include/, lib/) for CMake, with links to what was found."""
    headers = onnxruntime_headers()
    library = onnxruntime_library(headers)
    prefix = tmp / "onnxruntime"
    (prefix / "lib").mkdir(parents=True)
    (prefix / "include").symlink_to(headers)
    for name in ("libonnxruntime.so", "libonnxruntime.so.1"):
        (prefix / "lib" / name).symlink_to(library)
    return prefix


def cpp_toolchain_missing() -> str | None:
    """Why the C++ sampler cannot be built here, or None."""
    if shutil.which("cmake") is None:
        return "cmake not found"
    if onnxruntime_headers() is None:
        return (
            "onnxruntime C++ headers not found (set ONNXRUNTIME_ROOT, e.g. to a prefix made by "
            "`bash .ci/onnxruntime.sh build/onnxruntime`, or use the pixi 'cpp' environment); "
            "the pip wheel has none"
        )
    return None


def test_cpp_sampler_matches_python(onnx_file, tmp_path):
    missing = cpp_toolchain_missing()
    if missing:
        # CI provides the headers (.ci/run): there a missing toolchain is a failure, not a skip.
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {missing}")
        pytest.skip(missing)
    build = tmp_path / "build"
    prefix = cpp_prefix(tmp_path)
    for command in (
        [
            "cmake",
            "-S",
            str(ROOT / "exports/cpp"),
            "-B",
            str(build),
            f"-DONNXRUNTIME_ROOT={prefix}",
        ],
        ["cmake", "--build", str(build)],
    ):
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    sampler = Sampler(onnx_file)
    noise = noise_range(5, 0, 30, sampler.noise_dim)
    noise_file = tmp_path / "noise.csv"
    np.savetxt(noise_file, noise, fmt="%.9g", delimiter=",")
    out = tmp_path / "jets.csv"
    program = build / "hepvae-sample"
    args = [str(program), "--model", str(onnx_file), "--type", "t", "--noise", str(noise_file)]
    result = subprocess.run(
        args + ["--temperature", "0.8", "--batch", "7", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    rows = np.genfromtxt(out, delimiter=",", names=True)
    ref = sampler.run(noise, np.full(30, 2), 0.8)
    counts = ref["multiplicity"]
    assert len(rows) == counts.sum()
    np.testing.assert_array_equal(np.bincount(rows["jet"].astype(int), minlength=30), counts)
    expected = np.concatenate([ref["p4"][j, : counts[j]] for j in range(30)])
    got = np.stack([rows["E"], rows["px"], rows["py"], rows["pz"]], axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    # per-constituent rows repeat their jet's full four-momentum and nparticles
    jet_rows = np.repeat(np.arange(30), counts)
    full = np.stack([rows[f"jet_{k}"] for k in ("pt", "eta", "phi", "mass")], axis=1)
    np.testing.assert_allclose(full, ref["jet"][jet_rows], rtol=1e-5, atol=1e-5)
    assert_same_counts(rows["nparticles"], ref["nparticles"][jet_rows])
    # the same jets as a NumPy structured array: the graph's outputs, bit for bit
    npy = tmp_path / "jets.npy"
    result = subprocess.run(
        args + ["--temperature", "0.8", "--batch", "7", "-o", str(npy)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    records = np.load(npy)
    assert records.shape == (30,) and records["p4"].shape == ref["p4"].shape
    np.testing.assert_array_equal(records["label"], np.full(30, 2))
    np.testing.assert_array_equal(records["multiplicity"], counts)
    assert_same_counts(records["nparticles"], ref["nparticles"])
    np.testing.assert_allclose(records["p4"], ref["p4"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(records["jet"], ref["jet"], rtol=1e-5, atol=1e-5)
    # seeded mode and bad input
    seeded = subprocess.run(
        [str(program), "--model", str(onnx_file), "--type", "g", "--n", "50", "--seed", "1",
         "-o", str(tmp_path / "seeded.csv")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert seeded.returncode == 0, seeded.stderr
    bad = subprocess.run(
        [str(program), "--model", str(onnx_file), "--type", "w", "--n", "5", "-o",
         str(tmp_path / "bad.csv")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 2 and "not trained" in bad.stderr
    assert not (tmp_path / "bad.csv").exists()
    suffix = subprocess.run(
        [str(program), "--model", str(onnx_file), "--type", "t", "--n", "5", "-o",
         str(tmp_path / "jets.txt")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert suffix.returncode == 2 and "must end in .csv or .npy" in suffix.stderr


def test_p4_deviation_matches_constituents_not_slots():
    """Two constituents that the graphs sort in different orders are no deviation; a moved one is."""
    rng = np.random.default_rng(0)
    p3 = rng.normal(size=(3, 5, 3)) * 30.0
    ref = np.concatenate([np.linalg.norm(p3, axis=-1, keepdims=True), p3], -1)
    ref[:, 4] = 0.0  # a padded slot
    swapped = ref[:, [1, 0, 2, 3, 4]]
    assert p4_deviation(ref, swapped) == 0.0
    moved = ref.copy()
    moved[1, 2, 3] += 1.0
    assert 1e-3 < p4_deviation(ref, moved) < 1.0
