"""Readers that bring outside jets into the hepvae schema: JetNet HDF5 and ROOT via a branch map.

Both readers return jets in the in-memory schema (:func:`hepvae.data.schema.make_jets`):
constituents sorted by descending pT, optionally truncated to the leading ``particles``
(``Jet.nparticles`` keeps the multiplicity before truncation), event numbers counting jets
from ``first_event``, and every chunk checked with :func:`hepvae.data.schema.check_jets`.
Every error is a one-line :class:`~hepvae.errors.HepvaeError` naming the source file.

Jets without constituents are an error unless ``drop_empty=True``, which skips them and
counts them in :attr:`ImportReport.dropped_empty`.

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

Branch maps
-----------
A :class:`BranchMap` (YAML, unknown keys rejected) names the tree and the branches. Layouts:

* ``jet_per_entry``: one jet per tree entry; jet branches are scalars, constituent branches
  are jagged (one list per jet).
* ``events``: NanoAOD-like events; jet branches are jagged (jets per event), constituent
  branches are a jagged candidate collection, and ``constituents.jet_index`` gives, for each
  candidate, the index of its jet within the event (negative: in no jet). With
  ``constituents.candidate_index`` the pair (``jet_index``, ``candidate_index``) is an
  association table, as PFNano's ``FatJetPFCands_jetIdx`` / ``FatJetPFCands_pFCandsIdx``.
  ``leading_jet_only`` keeps the highest-pT jet of each event.

Labels come from ``jet_type`` (argument) over ``BranchMap.jet_type`` over the branch
``jet.label`` (JetNet coding); one of them is required.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import awkward as ak
import numpy as np
import uproot

from hepvae.config import load_config
from hepvae.data.schema import JET_TYPES, _short, check_jets, label_of, make_jets, wrap_phi
from hepvae.errors import HepvaeError
from hepvae.physics.coords import from_relative

#: source entries (JetNet jets or ROOT tree entries) read per chunk
STEP_SIZE = 20_000

JETNET_PARTICLE_FEATURES = ("eta_rel", "phi_rel", "pt_rel", "mask")
JETNET_JET_FEATURES = ("pt", "eta", "mass", "n_particles")
_JETNET_NAME = re.compile(r"^([gqtwz])(?:[_-]?\d+)?$", re.IGNORECASE)

PathLike = str | os.PathLike


@dataclass
class ImportReport:
    """Counts gathered while importing; pass one to an iterator and read it afterwards."""

    entries: int = 0  #: source entries read (JetNet jets or ROOT tree entries)
    jets: int = 0  #: jets returned
    dropped_empty: int = 0  #: jets without constituents skipped (``drop_empty=True``)
    truncated: int = 0  #: jets with more constituents than ``particles``


# ---------------------------------------------------------------------------------------------
# shared steps


def require_file(path: Path) -> None:
    if not path.exists():
        raise HepvaeError(f"{path}: no such file")
    if path.is_dir():
        raise HepvaeError(f"{path}: is a folder, expected a file")


def _as_paths(paths: PathLike | Iterable[PathLike]) -> list[Path]:
    if isinstance(paths, (str, os.PathLike)):
        return [Path(paths)]
    return [Path(p) for p in paths]


def _assemble(
    source: Path,
    jet: dict[str, np.ndarray],
    label: np.ndarray | int,
    part: dict[str, ak.Array],
    nparticles: np.ndarray | None,
    locate: Callable[[int], str],
    particles: int | None,
    drop_empty: bool,
    first_event: int,
    report: ImportReport,
) -> ak.Array:
    """Turn one chunk of jets into the schema: empty jets, pT order, truncation, checks.

    ``jet`` holds flat pt, eta, phi, mass; ``part`` jagged pt, eta, phi, mass (mass may be
    None); ``locate(i)`` describes jet ``i`` of the chunk for error messages.
    """
    counts = ak.to_numpy(ak.num(part["pt"], axis=1))
    empty = counts == 0
    if np.any(empty):
        if not drop_empty:
            raise HepvaeError(
                f"{source}: {locate(int(np.argmax(empty)))} has no constituents "
                "(drop_empty / --drop-empty skips such jets)"
            )
        keep = ~empty
        report.dropped_empty += int(np.sum(empty))
        jet = {k: v[keep] for k, v in jet.items()}
        part = {k: (None if v is None else v[keep]) for k, v in part.items()}
        label = label[keep] if isinstance(label, np.ndarray) else label
        nparticles = None if nparticles is None else nparticles[keep]
        counts = counts[keep]
    order = ak.argsort(part["pt"], axis=1, ascending=False)
    part = {k: (None if v is None else v[order]) for k, v in part.items()}
    if nparticles is None:
        nparticles = counts
    if particles is not None:
        report.truncated += int(np.sum(counts > particles))
        part = {k: (None if v is None else v[:, :particles]) for k, v in part.items()}
    n = len(jet["pt"])
    start = first_event + report.jets
    jets = make_jets(
        jet["pt"],
        jet["eta"],
        wrap_phi(np.asarray(jet["phi"], dtype=np.float64)),
        jet["mass"],
        label,
        part["pt"],
        part["eta"],
        wrap_phi(part["phi"]),
        part["mass"],
        nparticles=nparticles,
        event=np.arange(start, start + n, dtype=np.uint64),
    )
    check_jets(jets, str(source))
    report.jets += n
    return jets


def _concat(chunks: list[ak.Array]) -> ak.Array:
    if not chunks:
        empty = ak.Array([[0.0]])[:0]
        return make_jets([], [], [], [], [], empty, empty, empty)
    return chunks[0] if len(chunks) == 1 else ak.concatenate(chunks)


# ---------------------------------------------------------------------------------------------
# JetNet HDF5


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
        raise HepvaeError(
            f"{path}: cannot tell the jet type from the file name (expected {', '.join(JET_TYPES)}"
            " optionally followed by the particle count, e.g. t150.hdf5); pass --type"
        )
    return found


def _open_jetnet(path: Path):
    """Open a JetNet HDF5 file and check its two datasets; returns (file, particles, jets)."""
    import h5py

    require_file(path)
    try:
        file = h5py.File(path, "r")
    except OSError as exc:
        raise HepvaeError(f"{path}: not a readable HDF5 file ({_short(exc)})") from None
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
            f"{path}: cannot read {dataset.name.lstrip('/')} ({_short(exc)})"
        ) from None


def _jetnet_chunk(
    path: Path,
    pf: np.ndarray,
    jf: np.ndarray,
    offset: int,
    label: int,
    particles: int | None,
    drop_empty: bool,
    first_event: int,
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
    return _assemble(
        path,
        {"pt": jet_pt, "eta": jet_eta, "phi": jet_phi, "mass": jet_mass},
        label,
        {"pt": pt, "eta": eta, "phi": phi, "mass": None},
        n_particles.astype(np.int64),
        lambda i: f"jet {offset + i}",
        particles,
        drop_empty,
        first_event,
        report,
    )


def iterate_jetnet_hdf5(
    path: PathLike,
    jet_type: str | None = None,
    particles: int | None = None,
    drop_empty: bool = False,
    step_size: int = STEP_SIZE,
    first_event: int = 0,
    report: ImportReport | None = None,
) -> Iterator[ak.Array]:
    """Yield a JetNet HDF5 file as chunks of schema jets (GeV), ``step_size`` jets at a time.

    See the module docstring for the rules (jet type, phi = 0, masks, multiplicity).
    """
    path = Path(path)
    label = label_of(resolve_jetnet_type(path, jet_type))
    report = report if report is not None else ImportReport()
    first_event -= report.jets  # so that this call's first jet gets event number first_event
    file, particle_ds, jet_ds = _open_jetnet(path)
    with file:
        for start in range(0, len(jet_ds), step_size):
            stop = min(start + step_size, len(jet_ds))
            pf = _read_rows(path, particle_ds, start, stop)
            jf = _read_rows(path, jet_ds, start, stop)
            jets = _jetnet_chunk(
                path, pf, jf, start, label, particles, drop_empty, first_event, report
            )
            report.entries += stop - start
            yield jets


def read_jetnet_hdf5(
    path: PathLike,
    jet_type: str | None = None,
    particles: int | None = None,
    drop_empty: bool = False,
    report: ImportReport | None = None,
) -> ak.Array:
    """Read a whole JetNet HDF5 file into the in-memory schema (see :func:`iterate_jetnet_hdf5`)."""
    return _concat(
        list(iterate_jetnet_hdf5(path, jet_type, particles, drop_empty=drop_empty, report=report))
    )


def jetnet_entries(path: PathLike) -> int:
    """Number of jets in a JetNet HDF5 file (checks its datasets)."""
    file, _, jet_ds = _open_jetnet(Path(path))
    with file:
        return len(jet_ds)


# ---------------------------------------------------------------------------------------------
# ROOT through a branch map


@dataclass
class JetBranches:
    """Branches of the jet collection (scalars for ``jet_per_entry``, jagged for ``events``)."""

    pt: str  #: jet pT [GeV]
    eta: str
    phi: str
    mass: str  #: jet mass [GeV]
    label: str | None = None  #: integer jet type in the JetNet coding (g=0, q=1, t=2, w=3, z=4)


@dataclass
class ConstituentBranches:
    """Branches of the constituents (jagged per entry) and how they belong to jets."""

    pt: str  #: constituent pT [GeV]
    eta: str
    phi: str
    mass: str | None = None  #: constituent mass [GeV]; None: massless
    jet_index: str | None = None  #: ``events``: index of each candidate's jet in its event
    candidate_index: str | None = None  #: ``events``: association table's candidate index


@dataclass
class BranchMap:
    """How to read jets and constituents from an external ROOT tree (see the module docstring)."""

    layout: Literal["jet_per_entry", "events"]
    jet: JetBranches
    constituents: ConstituentBranches
    tree: str = "Events"
    leading_jet_only: bool = False  #: ``events``: keep only the highest-pT jet per event
    jet_type: str | None = None  #: fixed jet type (g, q, t, w, z) for all jets

    def __post_init__(self) -> None:
        c = self.constituents
        if self.layout == "events" and c.jet_index is None:
            raise ValueError("layout 'events' needs constituents.jet_index")
        if self.layout == "jet_per_entry":
            for name, value in (
                ("constituents.jet_index", c.jet_index),
                ("constituents.candidate_index", c.candidate_index),
                ("leading_jet_only", self.leading_jet_only or None),
            ):
                if value is not None:
                    raise ValueError(f"{name} applies only to layout 'events'")
        if self.jet_type is not None and self.jet_type not in JET_TYPES:
            raise ValueError(f"jet_type {self.jet_type!r} is not one of {', '.join(JET_TYPES)}")
        if self.jet_type is not None and self.jet.label is not None:
            raise ValueError("give either jet_type or jet.label, not both")

    def branches(self) -> dict[str, str]:
        """Branch names by role (``jet.pt``, ``constituents.jet_index``, ...), unset ones left out."""
        roles = {}
        for group in ("jet", "constituents"):
            for field in dataclasses.fields(getattr(self, group)):
                name = getattr(getattr(self, group), field.name)
                if name is not None:
                    roles[f"{group}.{field.name}"] = name
        return roles


def load_branch_map(path: PathLike) -> BranchMap:
    """Load a :class:`BranchMap` from YAML; unknown keys and wrong types name the file."""
    return load_config(BranchMap, path)


def _open_tree(path: Path, tree_name: str, branch_map: BranchMap):
    require_file(path)
    try:
        file = uproot.open(path)
    except Exception as exc:  # uproot raises many types for broken files
        raise HepvaeError(f"{path}: not a readable ROOT file ({_short(exc)})") from None
    try:
        try:
            tree = file[tree_name]
        except Exception:
            raise HepvaeError(
                f"{path}: no tree '{tree_name}' (keys: {', '.join(file.keys()) or 'none'})"
            ) from None
        if not isinstance(tree, uproot.behaviors.TBranch.HasBranches):
            raise HepvaeError(f"{path}: '{tree_name}' is not a TTree")
        for role, name in branch_map.branches().items():
            if name not in tree:
                raise HepvaeError(
                    f"{path}: branch '{name}' (branch map {role}) not found in tree '{tree_name}'"
                )
    except BaseException:
        file.close()
        raise
    return file, tree


def _numbers(path: Path, role: str, name: str, array: ak.Array, ndim: int) -> ak.Array:
    """Check that a branch holds numbers with ``ndim`` dimensions (1 flat, 2 jagged)."""
    layout = ak.to_layout(ak.flatten(array, axis=None))
    numeric = isinstance(layout, ak.contents.NumpyArray) and layout.dtype.kind in "iuf"
    if not numeric:
        raise HepvaeError(f"{path}: branch '{name}' (branch map {role}) does not hold numbers")
    if array.ndim != ndim:
        shape = "one number per entry" if ndim == 1 else "a list per entry"
        raise HepvaeError(
            f"{path}: branch '{name}' (branch map {role}) has {array.ndim} dimensions, "
            f"expected {shape}"
        )
    return array


def _integers(path: Path, role: str, name: str, array: ak.Array) -> ak.Array:
    """Integer view of an index or label branch (whole-number floats are accepted)."""
    flat = ak.to_numpy(ak.flatten(array, axis=None))
    if flat.dtype.kind == "f":
        if not np.all(np.isfinite(flat) & (flat == np.round(flat))):
            raise HepvaeError(f"{path}: branch '{name}' (branch map {role}) is not whole numbers")
    return ak.values_astype(array, np.int64)


def _same_counts(path: Path, arrays: dict[str, ak.Array], names: dict[str, str]) -> None:
    roles = list(arrays)
    ref = ak.to_numpy(ak.num(arrays[roles[0]], axis=1))
    for role in roles[1:]:
        counts = ak.to_numpy(ak.num(arrays[role], axis=1))
        if not np.array_equal(counts, ref):
            raise HepvaeError(
                f"{path}: branches '{names[roles[0]]}' and '{names[role]}' have different "
                "lengths in the same entry"
            )


def _group_by_jet(
    path: Path,
    entry0: int,
    names: dict[str, str],
    n_jets: np.ndarray,
    jet_index: ak.Array,
    cands: dict[str, ak.Array],
) -> dict[str, ak.Array]:
    """Jagged constituents per jet (jets flattened over events) from per-candidate jet indices."""
    bad = ak.to_numpy(ak.any(jet_index >= n_jets, axis=1))
    if np.any(bad):
        raise HepvaeError(
            f"{path}: branch '{names['constituents.jet_index']}' points past the last jet "
            f"in entry {entry0 + int(np.argmax(bad))}"
        )
    in_jet = jet_index >= 0
    offsets = np.cumsum(n_jets) - n_jets
    jet_id = ak.to_numpy(ak.flatten((jet_index + offsets)[in_jet]))
    order = np.argsort(jet_id, kind="stable")
    counts = np.bincount(jet_id, minlength=int(np.sum(n_jets)))
    return {
        k: (None if v is None else ak.unflatten(ak.to_numpy(ak.flatten(v[in_jet]))[order], counts))
        for k, v in cands.items()
    }


class _Branches:
    """One chunk of branch-map arrays, fetched by role with type and shape checks."""

    def __init__(self, path: Path, bmap: BranchMap, arrays: ak.Array, entry0: int):
        self.path, self.arrays, self.entry0 = path, arrays, entry0
        self.names = bmap.branches()

    def get(self, role: str, ndim: int, integer: bool = False) -> ak.Array | None:
        if role not in self.names:
            return None
        name = self.names[role]
        array = _numbers(self.path, role, name, self.arrays[name], ndim)
        return _integers(self.path, role, name, array) if integer else array

    def same_counts(self, arrays: dict[str, ak.Array | None]) -> None:
        _same_counts(self.path, {k: v for k, v in arrays.items() if v is not None}, self.names)


def _per_entry_jets(b: _Branches):
    """Layout ``jet_per_entry``: flat jet fields, labels, jagged constituents, locate()."""
    jet = {f: ak.to_numpy(b.get(f"jet.{f}", 1)) for f in ("pt", "eta", "phi", "mass")}
    part = {f: b.get(f"constituents.{f}", 2) for f in ("pt", "eta", "phi", "mass")}
    b.same_counts({f"constituents.{k}": v for k, v in part.items()})
    labels = b.get("jet.label", 1, integer=True)
    entry = np.arange(len(b.arrays)) + b.entry0
    return jet, labels, part, lambda i: f"entry {entry[i]}"


def _events_jets(b: _Branches, leading_only: bool):
    """Layout ``events``: jets flattened over events with their constituents grouped per jet."""
    jet = {f: b.get(f"jet.{f}", 2) for f in ("pt", "eta", "phi", "mass")}
    b.same_counts({f"jet.{k}": v for k, v in jet.items()})
    labels = b.get("jet.label", 2, integer=True)
    cand = {f: b.get(f"constituents.{f}", 2) for f in ("pt", "eta", "phi", "mass")}
    b.same_counts({f"constituents.{k}": v for k, v in cand.items()})
    jet_index = b.get("constituents.jet_index", 2, integer=True)
    cand_index = b.get("constituents.candidate_index", 2, integer=True)
    if cand_index is None:
        b.same_counts({"constituents.pt": cand["pt"], "constituents.jet_index": jet_index})
    else:
        b.same_counts(
            {"constituents.jet_index": jet_index, "constituents.candidate_index": cand_index}
        )
        outside = (cand_index < 0) | (cand_index >= ak.num(cand["pt"], axis=1))
        bad = ak.to_numpy(ak.any(outside, axis=1))
        if np.any(bad):
            raise HepvaeError(
                f"{b.path}: branch '{b.names['constituents.candidate_index']}' points outside "
                f"'{b.names['constituents.pt']}' in entry {b.entry0 + int(np.argmax(bad))}"
            )
        cand = {k: (None if v is None else v[cand_index]) for k, v in cand.items()}
    n_jets = ak.to_numpy(ak.num(jet["pt"], axis=1))
    part = _group_by_jet(b.path, b.entry0, b.names, n_jets, jet_index, cand)

    position = ak.local_index(jet["pt"], axis=1)
    keep = np.ones(int(n_jets.sum()), dtype=bool)
    if leading_only:
        leading = ak.argmax(jet["pt"], axis=1, keepdims=True)
        keep = ak.to_numpy(ak.flatten(ak.fill_none(position == leading, False)))
    flat_jet = {k: ak.to_numpy(ak.flatten(v))[keep] for k, v in jet.items()}
    part = {k: (None if v is None else v[keep]) for k, v in part.items()}
    if labels is not None:
        labels = ak.flatten(labels)[keep]
    entry = np.repeat(np.arange(len(b.arrays)) + b.entry0, n_jets)[keep]
    position = ak.to_numpy(ak.flatten(position))[keep]
    return flat_jet, labels, part, lambda i: f"entry {entry[i]} jet {position[i]}"


def _branch_map_chunk(
    path: Path,
    bmap: BranchMap,
    arrays: ak.Array,
    entry0: int,
    label: int | None,
    particles: int | None,
    drop_empty: bool,
    first_event: int,
    report: ImportReport,
) -> ak.Array:
    branches = _Branches(path, bmap, arrays, entry0)
    if bmap.layout == "events":
        jet, labels, part, locate = _events_jets(branches, bmap.leading_jet_only)
    else:
        jet, labels, part, locate = _per_entry_jets(branches)
    if label is None:
        label = ak.to_numpy(labels)
    return _assemble(
        path, jet, label, part, None, locate, particles, drop_empty, first_event, report
    )


def resolve_branch_map_label(bmap: BranchMap, jet_type: str | None = None) -> int | None:
    """Fixed label code, or None when labels come from the ``jet.label`` branch."""
    chosen = jet_type if jet_type is not None else bmap.jet_type
    if chosen is not None:
        return label_of(chosen)
    if bmap.jet.label is None:
        raise HepvaeError(
            "the branch map gives no jet type: set jet_type or jet.label, or pass --type"
        )
    return None


def iterate_branch_map(
    paths: PathLike | Iterable[PathLike],
    branch_map: BranchMap | PathLike,
    jet_type: str | None = None,
    particles: int | None = None,
    drop_empty: bool = False,
    step_size: int = STEP_SIZE,
    first_event: int = 0,
    report: ImportReport | None = None,
) -> Iterator[ak.Array]:
    """Yield jets from external ROOT files as schema chunks, ``step_size`` tree entries at a time.

    ``branch_map`` is a :class:`BranchMap` or the path of its YAML file; ``jet_type``
    overrides its label. Momenta in GeV, as in the source branches.
    """
    bmap = branch_map if isinstance(branch_map, BranchMap) else load_branch_map(branch_map)
    label = resolve_branch_map_label(bmap, jet_type)
    report = report if report is not None else ImportReport()
    first_event -= report.jets
    branch_names = sorted(set(bmap.branches().values()))
    for path in _as_paths(paths):
        file, tree = _open_tree(path, bmap.tree, bmap)
        with file:
            chunks = tree.iterate(branch_names, step_size=step_size, library="ak", report=True)
            while True:
                try:
                    arrays, where = next(chunks)
                except StopIteration:
                    break
                except Exception as exc:  # damaged baskets, unreadable types, ...
                    raise HepvaeError(
                        f"{path}: cannot read tree '{bmap.tree}' ({_short(exc)})"
                    ) from None
                jets = _branch_map_chunk(
                    path,
                    bmap,
                    arrays,
                    where.tree_entry_start,
                    label,
                    particles,
                    drop_empty,
                    first_event,
                    report,
                )
                report.entries += len(arrays)
                yield jets


def read_branch_map(
    paths: PathLike | Iterable[PathLike],
    branch_map: BranchMap | PathLike,
    jet_type: str | None = None,
    particles: int | None = None,
    drop_empty: bool = False,
    report: ImportReport | None = None,
) -> ak.Array:
    """Read external ROOT files into the in-memory schema (see :func:`iterate_branch_map`)."""
    return _concat(
        list(
            iterate_branch_map(
                paths, branch_map, jet_type, particles, drop_empty=drop_empty, report=report
            )
        )
    )


def root_entries(path: PathLike, branch_map: BranchMap) -> int:
    """Number of entries of the branch map's tree in a ROOT file (checks the branches)."""
    file, tree = _open_tree(Path(path), branch_map.tree, branch_map)
    with file:
        return tree.num_entries


__all__ = [
    "STEP_SIZE",
    "BranchMap",
    "ConstituentBranches",
    "ImportReport",
    "JetBranches",
    "iterate_branch_map",
    "iterate_jetnet_hdf5",
    "jetnet_entries",
    "jetnet_type_from_name",
    "load_branch_map",
    "require_file",
    "read_branch_map",
    "read_jetnet_hdf5",
    "resolve_branch_map_label",
    "resolve_jetnet_type",
    "root_entries",
]
