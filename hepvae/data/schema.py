"""The hepvae ROOT schema: one jet per entry of the TTree ``Events``.

Simulated, imported and generated jets all use it (units GeV, NanoAOD naming):

==================  =========  =====================================================
branch              type       meaning
==================  =========  =====================================================
run                 uint32     run number (1 unless the producer says otherwise)
luminosityBlock     uint32     luminosity block (1 unless the producer says otherwise)
event               uint64     event number, unique within a file
Jet_pt              float32    jet transverse momentum [GeV]
Jet_eta             float32    jet pseudorapidity
Jet_phi             float32    jet azimuth in [-pi, pi)
Jet_mass            float32    jet mass [GeV]
Jet_label           int32      jet type, JetNet coding: g=0, q=1, t=2, w=3, z=4
Jet_nparticles      int32      number of constituents before truncation
nPart               int32      number of stored constituents (leading by pT)
Part_pt             float32[]  constituent transverse momentum [GeV], descending
Part_eta            float32[]  constituent pseudorapidity
Part_phi            float32[]  constituent azimuth in [-pi, pi)
Part_mass           float32[]  constituent mass [GeV] (0 for massless constituents)
==================  =========  =====================================================

The file also holds a ``TObjString`` named ``hepvae_metadata`` with a JSON object:
``schema_version``, ``producer`` (simulate, convert, generate, ...), ``n_jets`` and the
producer's settings.

In memory a file is an awkward array with fields ``run``, ``luminosityBlock``, ``event``,
``Jet`` (a ``Momentum4D`` record with extra fields ``label`` and ``nparticles``) and
``Part`` (a jagged ``Momentum4D`` collection), so that ``vector`` methods work directly:
``jets.Part.deltaR(jets.Jet)``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot
import vector

from hepvae.atomic import remove_stale_temps, temp_path
from hepvae.errors import HepvaeError, SchemaError
from hepvae.paths import as_paths, reason, require_file
from hepvae.physics.p4 import wrap_phi  # noqa: F401  (re-exported: hepvae.data.wrap_phi)

vector.register_awkward()

SCHEMA_VERSION = "1.0"
TREE = "Events"
METADATA_KEY = "hepvae_metadata"
JET_TYPES = ("g", "q", "t", "w", "z")
LABELS = {name: code for code, name in enumerate(JET_TYPES)}
JET_FIELDS = ("pt", "eta", "phi", "mass")
PART_FIELDS = ("pt", "eta", "phi", "mass")

#: branch name -> numpy dtype kind expected ("f" float, "i" integer, "u" unsigned)
BRANCHES: dict[str, str] = {
    "run": "u",
    "luminosityBlock": "u",
    "event": "u",
    "Jet_pt": "f",
    "Jet_eta": "f",
    "Jet_phi": "f",
    "Jet_mass": "f",
    "Jet_label": "i",
    "Jet_nparticles": "i",
    "nPart": "i",
    "Part_pt": "f",
    "Part_eta": "f",
    "Part_phi": "f",
    "Part_mass": "f",
}


def label_of(jet_type: str) -> int:
    """Return the JetNet label code of a jet type name (``g``, ``q``, ``t``, ``w``, ``z``)."""
    try:
        return LABELS[jet_type]
    except KeyError:
        raise HepvaeError(
            f"unknown jet type {jet_type!r}: choose one of {', '.join(JET_TYPES)}"
        ) from None


def make_jets(
    jet_pt: Any,
    jet_eta: Any,
    jet_phi: Any,
    jet_mass: Any,
    label: Any,
    part_pt: Any,
    part_eta: Any,
    part_phi: Any,
    part_mass: Any | None = None,
    nparticles: Any | None = None,
    event: Any | None = None,
    run: Any = 1,
    luminosity_block: Any = 1,
) -> ak.Array:
    """Build a jet array in the in-memory schema from flat jet and jagged constituent arrays.

    Momenta in GeV. ``part_mass`` defaults to zero (massless constituents), ``nparticles``
    to the stored multiplicity, ``event`` to 0, 1, 2, ...
    """
    jet_pt = np.asarray(jet_pt, dtype=np.float32)
    n = len(jet_pt)
    part_pt = ak.values_astype(ak.Array(part_pt), np.float32)
    counts = ak.num(part_pt, axis=1)
    if part_mass is None:
        part_mass = ak.zeros_like(part_pt)
    if nparticles is None:
        nparticles = ak.to_numpy(counts)
    if event is None:
        event = np.arange(n, dtype=np.uint64)
    part = ak.zip(
        {
            "pt": part_pt,
            "eta": ak.values_astype(ak.Array(part_eta), np.float32),
            "phi": ak.values_astype(ak.Array(part_phi), np.float32),
            "mass": ak.values_astype(ak.Array(part_mass), np.float32),
        },
        with_name="Momentum4D",
    )
    jet = ak.zip(
        {
            "pt": jet_pt,
            "eta": np.asarray(jet_eta, dtype=np.float32),
            "phi": np.asarray(jet_phi, dtype=np.float32),
            "mass": np.asarray(jet_mass, dtype=np.float32),
            "label": np.broadcast_to(np.asarray(label, dtype=np.int32), (n,)).copy(),
            "nparticles": np.asarray(nparticles, dtype=np.int32),
        },
        with_name="Momentum4D",
    )
    return ak.zip(
        {
            "run": np.broadcast_to(np.asarray(run, dtype=np.uint32), (n,)).copy(),
            "luminosityBlock": np.broadcast_to(
                np.asarray(luminosity_block, dtype=np.uint32), (n,)
            ).copy(),
            "event": np.asarray(event, dtype=np.uint64),
            "Jet": jet,
            "Part": part,
        },
        depth_limit=1,
    )


def empty_jets() -> ak.Array:
    """A jet array with no jets, typed like every other."""
    no_parts = ak.Array([[0.0]])[:0]
    return make_jets([], [], [], [], [], no_parts, no_parts, no_parts)


def concat_jets(chunks: list[ak.Array]) -> ak.Array:
    """One jet array from chunks in order (an empty one, typed, for no chunks)."""
    if not chunks:
        return empty_jets()
    return chunks[0] if len(chunks) == 1 else ak.concatenate(chunks)


def check_jets(jets: ak.Array, source: str) -> None:
    """Raise :class:`SchemaError` naming ``source`` if the jets break the schema's physics rules.

    Rules: finite values everywhere, positive jet and constituent pT, at least one constituent
    per jet, non-negative masses, labels in the JetNet coding.
    """
    if len(jets) == 0:
        return
    n_part = ak.to_numpy(ak.num(jets.Part, axis=1))
    if np.any(n_part == 0):
        first = int(np.argmax(n_part == 0))
        raise SchemaError(f"{source}: jet {first} has no constituents")
    for coll, fields in (("Jet", JET_FIELDS), ("Part", PART_FIELDS)):
        for field in fields:
            values = ak.to_numpy(ak.flatten(jets[coll][field], axis=None))
            if not np.all(np.isfinite(values)):
                raise SchemaError(f"{source}: {coll}_{field} has NaN or infinite values")
            if field == "pt" and np.any(values <= 0):
                raise SchemaError(f"{source}: {coll}_pt has non-positive values")
            if field == "mass" and np.any(values < 0):
                raise SchemaError(f"{source}: {coll}_mass has negative values")
    labels = ak.to_numpy(jets.Jet.label)
    if np.any((labels < 0) | (labels >= len(JET_TYPES))):
        raise SchemaError(f"{source}: Jet_label outside the JetNet coding 0..{len(JET_TYPES) - 1}")


def _branch_arrays(jets: ak.Array) -> dict[str, Any]:
    """Flatten the in-memory schema into the dict of arrays that uproot writes as branches."""
    data: dict[str, Any] = {
        "run": ak.to_numpy(jets.run).astype(np.uint32),
        "luminosityBlock": ak.to_numpy(jets.luminosityBlock).astype(np.uint32),
        "event": ak.to_numpy(jets.event).astype(np.uint64),
    }
    for field in JET_FIELDS:
        data[f"Jet_{field}"] = ak.to_numpy(jets.Jet[field]).astype(np.float32)
    data["Jet_label"] = ak.to_numpy(jets.Jet.label).astype(np.int32)
    data["Jet_nparticles"] = ak.to_numpy(jets.Jet.nparticles).astype(np.int32)
    data["Part"] = ak.zip(
        {
            field: ak.values_astype(ak.without_parameters(jets.Part[field]), np.float32)
            for field in PART_FIELDS
        }
    )
    return data


class JetWriter:
    """Write jets in chunks to a ROOT file in the hepvae schema, atomically.

    The file is written under a temporary name in the target folder and renamed when the
    writer closes without error; on error the temporary file is removed and nothing is left.
    Temporary files that killed runs left for the same target are removed first
    (:func:`hepvae.atomic.remove_stale_temps`).

    >>> with JetWriter("jets.root", metadata={"producer": "simulate"}) as writer:
    ...     writer.write(chunk)
    """

    def __init__(self, path: str | os.PathLike, metadata: Mapping[str, Any] | None = None):
        self.path = Path(path)
        self.metadata = dict(metadata or {})
        self.n_jets = 0
        self._file = None
        self._tree = None
        if self.path.suffix != ".root":
            raise HepvaeError(f"{self.path}: output file must end in .root")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise HepvaeError(
                f"{self.path.parent}: cannot create output folder ({exc.strerror})"
            ) from None
        remove_stale_temps(self.path)
        self._tmp = temp_path(self.path)
        try:
            self._file = uproot.recreate(self._tmp)
        except OSError as exc:
            raise HepvaeError(f"{self.path}: cannot write ({exc.strerror or exc})") from None

    def write(self, jets: ak.Array) -> None:
        """Append a chunk of jets (in-memory schema); event numbers continue across chunks."""
        if len(jets) == 0:
            return
        data = _branch_arrays(jets)
        if self._tree is None:
            types = {k: (v.type if isinstance(v, ak.Array) else v.dtype) for k, v in data.items()}
            self._tree = self._file.mktree(TREE, types, title="hepvae jets")
        self._tree.extend(data)
        self.n_jets += len(jets)

    def close(self) -> None:
        """Finish the file: write metadata, close, and move it to its final name."""
        if self._file is None:
            return
        if self._tree is None:  # an empty file still gets a valid, empty tree
            self.write_empty()
        meta = {"schema_version": SCHEMA_VERSION, **self.metadata, "n_jets": self.n_jets}
        self._file[METADATA_KEY] = json.dumps(meta, sort_keys=True, default=str)
        self._file.close()
        self._file = None
        os.replace(self._tmp, self.path)

    def write_empty(self) -> None:
        data = _branch_arrays(empty_jets())
        types = {k: (v.type if isinstance(v, ak.Array) else v.dtype) for k, v in data.items()}
        self._tree = self._file.mktree(TREE, types, title="hepvae jets")

    def abort(self) -> None:
        """Discard the temporary file."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> JetWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                self.close()
            except BaseException:
                self.abort()
                raise
        else:
            self.abort()


def write_jets(
    path: str | os.PathLike, jets: ak.Array, metadata: Mapping[str, Any] | None = None
) -> Path:
    """Write one array of jets to ``path`` atomically and return the path."""
    with JetWriter(path, metadata) as writer:
        writer.write(jets)
    return writer.path


def _open_tree(path: str | os.PathLike):
    """Open a file's ``Events`` tree and check its branches; errors name the file."""
    path = require_file(path, "ROOT file")
    try:
        file = uproot.open(path)
    except Exception as exc:  # uproot raises many types for broken files
        raise SchemaError(f"{path}: not a readable ROOT file ({reason(exc)})") from None
    try:
        tree = file[TREE]
    except Exception:
        raise SchemaError(
            f"{path}: no '{TREE}' tree (keys: {', '.join(file.keys()) or 'none'})"
        ) from None
    missing = [b for b in BRANCHES if b not in tree]
    if missing:
        raise SchemaError(f"{path}: missing branches {', '.join(missing)}")
    for name, kind in BRANCHES.items():
        dtype = _dtype_of(tree[name])
        ok = dtype is not None and (dtype.kind == "f" if kind == "f" else dtype.kind in "iu")
        if not ok:
            raise SchemaError(
                f"{path}: branch {name} has type {dtype}, expected {_KIND_NAME[kind]}"
            )
    return file, tree


_KIND_NAME = {"f": "floating point", "i": "integer", "u": "unsigned integer"}


def _dtype_of(branch) -> np.dtype | None:
    interp = branch.interpretation
    for attr in ("to_dtype", "content"):
        obj = getattr(interp, attr, None)
        if attr == "content" and obj is not None:
            obj = getattr(obj, "to_dtype", None)
        if isinstance(obj, np.dtype):
            return obj.base if obj.shape else obj
    return None


def _arrays_to_jets(arrays: ak.Array) -> ak.Array:
    return make_jets(
        arrays["Jet_pt"],
        arrays["Jet_eta"],
        arrays["Jet_phi"],
        arrays["Jet_mass"],
        arrays["Jet_label"],
        arrays["Part_pt"],
        arrays["Part_eta"],
        arrays["Part_phi"],
        arrays["Part_mass"],
        nparticles=arrays["Jet_nparticles"],
        event=arrays["event"],
        run=arrays["run"],
        luminosity_block=arrays["luminosityBlock"],
    )


def iterate_jets(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    step_size: int = 100_000,
    check: bool = True,
    require_jets: bool = False,
) -> Iterator[ak.Array]:
    """Yield chunks of at most ``step_size`` jets from one or more schema files, in order.

    With ``check`` every chunk is checked (:func:`check_jets`); with ``require_jets`` a file
    without jets is an error naming it (for readers that cannot work without jets).
    """
    for path in as_paths(paths):
        file, tree = _open_tree(path)
        with file:
            if require_jets and tree.num_entries == 0:
                raise SchemaError(f"{path}: holds no jets")
            try:
                chunks = tree.iterate(list(BRANCHES), step_size=step_size, library="ak")
                for arrays in chunks:
                    jets = _arrays_to_jets(arrays)
                    if check:
                        check_jets(jets, str(path))
                    yield jets
            except (SchemaError, HepvaeError):
                raise
            except Exception as exc:
                raise SchemaError(
                    f"{path}: cannot read the '{TREE}' tree ({reason(exc)})"
                ) from None


def read_jets(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    max_jets: int | None = None,
    check: bool = True,
    require_jets: bool = False,
) -> ak.Array:
    """Read jets from one or more schema files into memory (at most ``max_jets``).

    ``check`` and ``require_jets`` are those of :func:`iterate_jets`.
    """
    chunks = []
    total = 0
    for chunk in iterate_jets(paths, check=check, require_jets=require_jets):
        if max_jets is not None and total + len(chunk) > max_jets:
            chunk = chunk[: max_jets - total]
        chunks.append(chunk)
        total += len(chunk)
        if max_jets is not None and total >= max_jets:
            break
    return concat_jets(chunks)


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """Return the JSON metadata of a schema file (empty dict if it has none)."""
    file, _ = _open_tree(path)
    with file:
        if METADATA_KEY not in file:
            return {}
        try:
            return json.loads(str(file[METADATA_KEY]))
        except ValueError:
            raise SchemaError(f"{path}: metadata is not valid JSON") from None


def count_jets(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> int:
    """Number of jets in one or more schema files, without reading them."""
    total = 0
    for path in as_paths(paths):
        file, tree = _open_tree(path)
        with file:
            total += tree.num_entries
    return total
