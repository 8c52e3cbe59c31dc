"""Read external ROOT files into the hepvae schema through a branch map; errors name the file.

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

Chunks are assembled by :func:`hepvae.data.importing.assemble` (pT order, truncation,
empty jets, checks).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import awkward as ak
import numpy as np
import uproot

from hepvae.config import load_config
from hepvae.data.importing import STEP_SIZE, ImportReport, assemble
from hepvae.data.schema import JET_TYPES, concat_jets, label_of
from hepvae.errors import HepvaeError, ParameterError
from hepvae.paths import PathLike, as_paths, reason, require_file


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
        raise HepvaeError(f"{path}: not a readable ROOT file ({reason(exc)})") from None
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
    report: ImportReport,
) -> ak.Array:
    branches = _Branches(path, bmap, arrays, entry0)
    if bmap.layout == "events":
        jet, labels, part, locate = _events_jets(branches, bmap.leading_jet_only)
    else:
        jet, labels, part, locate = _per_entry_jets(branches)
    if label is None:
        label = ak.to_numpy(labels)
    return assemble(path, jet, label, part, None, locate, particles, drop_empty, report)


def resolve_branch_map_label(
    bmap: BranchMap, jet_type: str | None = None, source: PathLike = "the branch map"
) -> int | None:
    """Fixed label code, or None when labels come from the ``jet.label`` branch.

    ``source`` names the branch map (its file) in the error raised when it gives no jet type.
    """
    chosen = jet_type if jet_type is not None else bmap.jet_type
    if chosen is not None:
        return label_of(chosen)
    if bmap.jet.label is None:
        raise ParameterError(
            "{source}: the branch map gives no jet type: set jet_type or jet.label in it, "
            "or give {jet_type}",
            source=source,
        )
    return None


def iterate_branch_map(
    paths: PathLike | Iterable[PathLike],
    branch_map: BranchMap | PathLike,
    jet_type: str | None = None,
    particles: int | None = None,
    drop_empty: bool = False,
    step_size: int = STEP_SIZE,
    report: ImportReport | None = None,
) -> Iterator[ak.Array]:
    """Yield jets from external ROOT files as schema chunks, ``step_size`` tree entries at a time.

    ``branch_map`` is a :class:`BranchMap` or the path of its YAML file; ``jet_type``
    overrides its label. Momenta in GeV, as in the source branches. Event numbers continue
    from ``report.jets`` (0 for a new report).
    """
    bmap = branch_map if isinstance(branch_map, BranchMap) else load_branch_map(branch_map)
    label = resolve_branch_map_label(bmap, jet_type)
    report = report if report is not None else ImportReport()
    branch_names = sorted(set(bmap.branches().values()))
    for path in as_paths(paths):
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
                        f"{path}: cannot read tree '{bmap.tree}' ({reason(exc)})"
                    ) from None
                jets = _branch_map_chunk(
                    path,
                    bmap,
                    arrays,
                    where.tree_entry_start,
                    label,
                    particles,
                    drop_empty,
                    report,
                )
                report.entries += len(arrays)
                yield jets


def read_branch_map(
    paths: PathLike | Iterable[PathLike],
    branch_map: BranchMap | PathLike,
    *args: Any,
    **options: Any,
) -> ak.Array:
    """Read external ROOT files into the in-memory schema; the arguments are those of
    :func:`iterate_branch_map` (``jet_type``, ``particles``, ``drop_empty``, ``report``)."""
    return concat_jets(list(iterate_branch_map(paths, branch_map, *args, **options)))


def root_entries(path: PathLike, branch_map: BranchMap) -> int:
    """Number of entries of the branch map's tree in a ROOT file (checks the branches)."""
    file, tree = _open_tree(Path(path), branch_map.tree, branch_map)
    with file:
        return tree.num_entries
