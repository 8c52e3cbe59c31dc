"""What the importers share: the counts of an import and the step that turns a chunk of
source jets into the in-memory schema (:func:`hepvae.data.schema.make_jets`).

Every chunk comes out with constituents sorted by descending pT, optionally truncated to the
leading ``particles`` (``Jet.nparticles`` keeps the multiplicity before truncation), event
numbers counting the jets returned with the same :class:`ImportReport` (from 0; so one
report shared by several files numbers them on), and checked with
:func:`hepvae.data.schema.check_jets`. Jets without constituents are an error unless
``drop_empty=True``, which skips them and counts them in :attr:`ImportReport.dropped_empty`.
The readers are :mod:`hepvae.data.jetnet` (JetNet HDF5) and :mod:`hepvae.data.branchmap`
(external ROOT files through a branch map).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import awkward as ak
import numpy as np

from hepvae.data.schema import check_jets, make_jets, wrap_phi
from hepvae.errors import ParameterError

#: source entries (JetNet jets or ROOT tree entries) read per chunk
STEP_SIZE = 20_000


@dataclass
class ImportReport:
    """Counts gathered while importing; pass one to an iterator and read it afterwards."""

    entries: int = 0  #: source entries read (JetNet jets or ROOT tree entries)
    jets: int = 0  #: jets returned (the event number of the next jet)
    dropped_empty: int = 0  #: jets without constituents skipped (``drop_empty=True``)
    truncated: int = 0  #: jets with more constituents than ``particles``


def assemble(
    source: Path,
    jet: dict[str, np.ndarray],
    label: np.ndarray | int,
    part: dict[str, ak.Array],
    nparticles: np.ndarray | None,
    locate: Callable[[int], str],
    particles: int | None,
    drop_empty: bool,
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
            raise ParameterError(
                "{source}: {jet} has no constituents ({drop_empty} skips such jets)",
                source=source,
                jet=locate(int(np.argmax(empty))),
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
    start = report.jets
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
