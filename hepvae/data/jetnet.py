"""Read JetNet HDF5 files into the hepvae schema (GeV); errors name the file.

JetNet HDF5 rules
-----------------
* Datasets ``particle_features`` [N, P, 4] (eta_rel, phi_rel, pt_rel, mask) and
  ``jet_features`` [N, 4] (pT [GeV], eta, mass [GeV], n_particles).
* The jet type is ``jet_type`` when given, otherwise the file name: the stem must be a JetNet
  class letter, optionally followed by ``_`` or ``-`` and digits (``t.hdf5``, ``g150.hdf5``,
  ``q_30.h5``, ``W-150.hdf5``); any other name needs an explicit type.
* JetNet stores no jet azimuth, so every jet gets ``phi = 0``. The choice is deterministic and
  loses nothing: the model's symmetry includes rotations about the beam axis, and all JetNet
  observables use relative coordinates.
* Slots with mask 1 are particles, slots with mask 0 are dropped; masks other than 0/1 are an
  error. Constituents: ``pt = pt_rel * pT_jet``, ``eta = eta_rel + eta_jet``,
  ``phi = wrap(phi_rel)``, massless. ``Jet.nparticles`` is ``n_particles`` from
  ``jet_features`` (JetNet's multiplicity before its own truncation); it may not be smaller
  than the number of unmasked slots.

Chunks are assembled by :func:`hepvae.data.importing.assemble` (pT order, truncation,
empty jets, checks).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from hepvae.data.importing import STEP_SIZE, ImportReport, assemble
from hepvae.data.schema import JET_TYPES, concat_jets, label_of
from hepvae.errors import HepvaeError, ParameterError
from hepvae.paths import PathLike, reason, require_file
from hepvae.physics.coords import from_relative

JETNET_PARTICLE_FEATURES = ("eta_rel", "phi_rel", "pt_rel", "mask")
JETNET_JET_FEATURES = ("pt", "eta", "mass", "n_particles")
_JETNET_NAME = re.compile(r"^([gqtwz])(?:[_-]?\d+)?$", re.IGNORECASE)


def jetnet_type_from_name(path: PathLike) -> str | None:
    """JetNet class letter from a file name (``t.hdf5``, ``g150.hdf5``, ``q_30.h5``), or None."""
    match = _JETNET_NAME.match(Path(path).stem)
    return match.group(1).lower() if match else None


def resolve_jetnet_type(path: PathLike, jet_type: str | None = None) -> str:
    """The jet type of a JetNet file: ``jet_type`` when given, else from the file name."""
    if jet_type is not None:
        label_of(jet_type)  # validates
        return jet_type
    found = jetnet_type_from_name(path)
    if found is None:
        raise ParameterError(
            "{path}: cannot tell the jet type from the file name (expected {types} optionally "
            "followed by the particle count, e.g. t150.hdf5); give {jet_type}",
            path=path,
            types=", ".join(JET_TYPES),
        )
    return found


def _open_jetnet(path: Path):
    """Open a JetNet HDF5 file and check its two datasets; returns (file, particles, jets)."""
    import h5py

    require_file(path)
    try:
        file = h5py.File(path, "r")
    except OSError as exc:
        raise HepvaeError(f"{path}: not a readable HDF5 file ({reason(exc)})") from None
    try:
        datasets = {}
        for name, ndim, features in (
            ("particle_features", 3, JETNET_PARTICLE_FEATURES),
            ("jet_features", 2, JETNET_JET_FEATURES),
        ):
            ds = file.get(name)
            if not isinstance(ds, h5py.Dataset):
                raise HepvaeError(
                    f"{path}: no dataset '{name}' (found: {', '.join(file.keys()) or 'none'})"
                )
            expected = "[N, P, 4]" if ndim == 3 else "[N, 4]"
            if ds.ndim != ndim or ds.shape[-1] != len(features):
                raise HepvaeError(
                    f"{path}: {name} has shape {list(ds.shape)}, expected {expected} "
                    f"({', '.join(features)})"
                )
            if ds.dtype.kind not in "iuf":
                raise HepvaeError(f"{path}: {name} has type {ds.dtype}, expected numbers")
            datasets[name] = ds
        n_part, n_jet = len(datasets["particle_features"]), len(datasets["jet_features"])
        if n_part != n_jet:
            raise HepvaeError(
                f"{path}: particle_features has {n_part} jets but jet_features has {n_jet}"
            )
    except BaseException:
        file.close()
        raise
    return file, datasets["particle_features"], datasets["jet_features"]


def _read_rows(path: Path, dataset, start: int, stop: int) -> np.ndarray:
    try:
        return np.asarray(dataset[start:stop])
    except Exception as exc:  # h5py raises OSError or others on damaged files
        raise HepvaeError(
            f"{path}: cannot read {dataset.name.lstrip('/')} ({reason(exc)})"
        ) from None


def _jetnet_chunk(
    path: Path,
    pf: np.ndarray,
    jf: np.ndarray,
    offset: int,
    label: int,
    particles: int | None,
    drop_empty: bool,
    report: ImportReport,
) -> ak.Array:
    mask_values = pf[..., 3]
    if not np.all((mask_values == 0) | (mask_values == 1)):
        raise HepvaeError(
            f"{path}: particle_features mask (feature 4) has values other than 0 and 1; "
            f"expected features {', '.join(JETNET_PARTICLE_FEATURES)}"
        )
    mask = mask_values == 1
    counts = mask.sum(axis=1)
    eta_rel, phi_rel, pt_rel = (ak.unflatten(pf[..., i][mask], counts) for i in range(3))
    jet_pt, jet_eta, jet_mass, n_particles = (jf[:, i].astype(np.float64) for i in range(4))
    jet_phi = np.zeros(len(jf))
    bad = ~np.isfinite(n_particles) | (n_particles != np.round(n_particles))
    bad |= n_particles < counts
    if np.any(bad):
        i = int(np.argmax(bad))
        raise HepvaeError(
            f"{path}: jet {offset + i}: jet_features n_particles is {n_particles[i]:g}, "
            f"expected a whole number >= its {counts[i]} unmasked particles"
        )
    pt, eta, phi = from_relative(jet_pt, jet_eta, jet_phi, eta_rel, phi_rel, pt_rel)
    return assemble(
        path,
        {"pt": jet_pt, "eta": jet_eta, "phi": jet_phi, "mass": jet_mass},
        label,
        {"pt": pt, "eta": eta, "phi": phi, "mass": None},
        n_particles.astype(np.int64),
        lambda i: f"jet {offset + i}",
        particles,
        drop_empty,
        report,
    )


def iterate_jetnet_hdf5(
    path: PathLike,
    jet_type: str | None = None,
    particles: int | None = None,
    drop_empty: bool = False,
    step_size: int = STEP_SIZE,
    report: ImportReport | None = None,
) -> Iterator[ak.Array]:
    """Yield a JetNet HDF5 file as chunks of schema jets (GeV), ``step_size`` jets at a time.

    See the module docstring for the rules (jet type, phi = 0, masks, multiplicity). Event
    numbers continue from ``report.jets`` (0 for a new report).
    """
    path = Path(path)
    label = label_of(resolve_jetnet_type(path, jet_type))
    report = report if report is not None else ImportReport()
    file, particle_ds, jet_ds = _open_jetnet(path)
    with file:
        for start in range(0, len(jet_ds), step_size):
            stop = min(start + step_size, len(jet_ds))
            pf = _read_rows(path, particle_ds, start, stop)
            jf = _read_rows(path, jet_ds, start, stop)
            jets = _jetnet_chunk(path, pf, jf, start, label, particles, drop_empty, report)
            report.entries += stop - start
            yield jets


def read_jetnet_hdf5(path: PathLike, *args: Any, **options: Any) -> ak.Array:
    """Read a whole JetNet HDF5 file into the in-memory schema; the arguments are those of
    :func:`iterate_jetnet_hdf5` (``jet_type``, ``particles``, ``drop_empty``, ``report``)."""
    return concat_jets(list(iterate_jetnet_hdf5(path, *args, **options)))


def jetnet_entries(path: PathLike) -> int:
    """Number of jets in a JetNet HDF5 file (checks its datasets)."""
    file, _, jet_ds = _open_jetnet(Path(path))
    with file:
        return len(jet_ds)
