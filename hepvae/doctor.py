"""``hepvae doctor``: versions, device, precision and optional pieces of this installation."""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

CORE = (
    "torch",
    "lgatr",
    "torch_geometric",
    "numpy",
    "awkward",
    "uproot",
    "vector",
    "coffea",
    "hist",
    "mplhep",
    "fastjet",
    "pythia8mc",
    "energyflow",
    "jetnet",
    "onnx",
    "onnxruntime",
)
DISTRIBUTIONS = {"torch_geometric": "torch_geometric", "pythia8mc": "pythia8mc"}


@dataclass
class Report:
    """What the doctor found: rows of (section, item, value, ok)."""

    rows: list[tuple[str, str, str, bool]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(self, section: str, item: str, value: str, ok: bool = True, core: bool = False):
        self.rows.append((section, item, value, ok))
        if core and not ok:
            self.problems.append(f"{item}: {value}")


def _version(module: str) -> str:
    try:
        return importlib.metadata.version(DISTRIBUTIONS.get(module, module))
    except importlib.metadata.PackageNotFoundError:
        mod = importlib.import_module(module)
        return getattr(mod, "__version__", "installed")


def check_packages(report: Report) -> None:
    for name in CORE:
        try:
            importlib.import_module(name)
            report.add("packages", name, _version(name))
        except Exception as exc:  # any import failure is a broken installation
            report.add(
                "packages",
                name,
                f"cannot import ({' '.join(str(exc).split())[:80]})",
                False,
                core=True,
            )


def check_device(report: Report) -> None:
    import torch

    from hepvae.device import autocast_works, choose_precision

    report.add("device", "CPU threads", str(torch.get_num_threads()))
    cpu = torch.device("cpu")
    report.add("device", "CPU bf16 autocast", "works" if autocast_works(cpu, "bf16") else "fails")
    devices = [cpu]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            cuda = torch.device("cuda", i)
            devices.append(cuda)
            report.add(
                "device",
                f"cuda:{i}",
                f"{props.name}, {props.total_memory / 2**30:.1f} GiB, "
                f"compute capability {props.major}.{props.minor}",
            )
            for precision in ("bf16", "fp16"):
                works = autocast_works(cuda, precision)
                report.add(
                    "device", f"cuda:{i} {precision} autocast", "works" if works else "fails"
                )
    else:
        report.add("device", "CUDA", "no CUDA device (training runs on the CPU)")
    for device in devices:
        report.add("precision", f"recommended on {device}", choose_precision("auto", device))


def onnxruntime_headers() -> Path | None:
    """Folder holding ``onnxruntime_cxx_api.h``, if any is installed."""
    roots = [
        os.environ.get("CONDA_PREFIX", ""),
        os.environ.get("ONNXRUNTIME_ROOT", ""),
        "/usr",
        "/usr/local",
    ]
    for root in filter(None, roots):
        for sub in ("include/onnxruntime", "include/onnxruntime/core/session", "include"):
            if (Path(root) / sub / "onnxruntime_cxx_api.h").is_file():
                return Path(root) / sub
    return None


def check_optional(report: Report) -> None:
    try:
        import distributed

        report.add("optional", "dask distributed", distributed.__version__)
    except ImportError:
        report.add("optional", "dask distributed", "not installed (no cluster scale-out)", False)
    headers = onnxruntime_headers()
    report.add(
        "optional",
        "onnxruntime C++ headers",
        str(headers) if headers else "not found (the C++ example cannot be built)",
        headers is not None,
    )
    cmake = shutil.which("cmake")
    report.add("optional", "cmake", cmake or "not found", cmake is not None)


def diagnose() -> Report:
    """Run every check."""
    from hepvae import __version__

    report = Report()
    report.add("packages", "hepvae", __version__)
    check_packages(report)
    if not any(p.startswith("torch:") for p in report.problems):
        check_device(report)
    check_optional(report)
    return report
