"""Pythia 8 events to jets: anti-kT clustering with FastJet, the JetNet cuts and truth matching.

These functions run in the simulation's worker processes; all momenta in GeV. The processes
and the settings of a sample are in :mod:`hepvae.data.simulation_config`.

Jets are clustered with FastJet's anti-kT algorithm, R = 0.8, E-scheme, on all visible
final-state particles (every final-state particle except neutrinos), and kept when
800 < pT < 1600 GeV and |eta| < 2.5 (the JetNet cuts).

Class rule (truth matching)
---------------------------
A jet is kept only if it is of its class, judged with the hard-process partons (Pythia status
+-23, taken before showering):

- g, q: an outgoing parton of the class (a gluon; a u, d or s quark) lies within
  Delta R < 0.4 of the jet axis. Heavy-flavour quarks from ``qq2qq`` (c, b from the proton
  sea) are not quark jets here.
- t, w, z: every quark from the decay of one resonance of the class (b, q, q' for a top;
  q, q' for a W or Z) lies within Delta R < 0.8 (= R) of the jet axis: fully contained,
  "merged" jets, so the jet mass peaks near the resonance mass (a few GeV above it for these
  ungroomed jets, which also collect the underlying event).

Both jets of an event are kept when both pass; they are back to back, so their pT are
correlated, while their substructure is nearly independent.

Constituents
------------
The jet's particles are sorted by decreasing pT and the leading ``n_particles`` (30 or 150 for
JetNet) are stored; ``Jet_nparticles`` is the full multiplicity. The jet four-momentum
(``Jet_pt``, ``Jet_eta``, ``Jet_phi``, ``Jet_mass``) is always that of the full jet (the sum of
all its particles), so for a jet with more particles than stored, the stored constituents sum
to slightly less than the jet. Constituent masses are the particles' masses (0.14 GeV for a
pion, 0 for a photon).

Reproducibility
---------------
The work is split into chunks of ``chunk_size`` jets. Chunk k is generated with a Pythia
random seed in [1, 900_000_000] derived from (seed, jet label, k) with
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np

from hepvae.data.schema import make_jets
from hepvae.data.simulation_config import (
    MAX_EVENTS_PER_JET,
    NEUTRINOS,
    PARTON_IDS,
    PROCESSES,
    RESONANCE_IDS,
    SimulationConfig,
)
from hepvae.errors import HepvaeError
from hepvae.physics.p4 import delta_r, invariant_mass, pt_eta_phi

_PYTHIA: dict[tuple[str, ...], Any] = {}


def _pythia(settings: tuple[str, ...]):
    """This process's initialized Pythia for ``settings`` (created once per process and kept)."""
    if settings not in _PYTHIA:
        import fastjet._swig
        import pythia8mc

        fastjet._swig.ClusterSequence.set_fastjet_banner_stream(None)
        pythia = pythia8mc.Pythia("", False)
        for line in settings:
            if not pythia.readString(line, False):
                raise HepvaeError(f"Pythia rejected the setting {line!r}")
        if not pythia.init():
            raise HepvaeError(f"Pythia failed to initialize with settings {list(settings)}")
        if len(_PYTHIA) >= len(PROCESSES):  # bound memory: drop the oldest instance
            del _PYTHIA[next(iter(_PYTHIA))]
        _PYTHIA[settings] = pythia
    return _PYTHIA[settings]


def flatten_events(events: ak.Array) -> dict[str, np.ndarray]:
    """Flat numpy arrays of all particles of a Pythia batch (``Pythia.nextBatch`` output).

    Keys: id, status, px, py, pz, e, m (GeV), event (index in the batch) and mother (global
    index of the first mother in these flat arrays, -1 for none).
    """
    counts = ak.to_numpy(ak.num(events.prt, axis=1))
    first = np.repeat(np.cumsum(counts) - counts, counts)
    flat = ak.flatten(events.prt, axis=1)
    mother = ak.to_numpy(flat.mother1).astype(np.int64)
    out = {
        "id": ak.to_numpy(flat.id),
        "status": ak.to_numpy(flat.status),
        "mother": np.where(mother > 0, mother + first, -1),
        "event": np.repeat(np.arange(len(counts)), counts),
        "m": ak.to_numpy(flat.m),
    }
    for c in ("px", "py", "pz", "e"):
        out[c] = ak.to_numpy(flat.p[c])
    return out


def _truth_partons(
    pid: np.ndarray, status: np.ndarray, mother: np.ndarray, cfg: SimulationConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Global indices of the hard partons that define the class, and the object each belongs to.

    Hard partons have Pythia status +-23 (outgoing from the hardest process, resonance decays
    included, before showering). ``mother`` holds global indices of the first mother (-1 for
    none). For g and q a parton is its own object; for t, w and z the object is the nearest
    ancestor that is the class's resonance. Results are sorted by index, hence by event.
    """
    hard = np.nonzero(np.abs(status) == 23)[0]
    if cfg.jet_type in PARTON_IDS:
        hard = hard[np.isin(np.abs(pid[hard]), PARTON_IDS[cfg.jet_type])]
        return hard, hard
    target = RESONANCE_IDS[cfg.jet_type]
    owner = mother[hard]
    for _ in range(100):  # walk up the mother chain; decay chains are a few steps long
        active = (owner >= 0) & (np.abs(pid[np.maximum(owner, 0)]) != target)
        if not active.any():
            break
        owner[active] = mother[owner[active]]
    found = owner >= 0
    return hard[found], owner[found]


def _matched(
    jet_event: np.ndarray,
    jet_eta: np.ndarray,
    jet_phi: np.ndarray,
    parton_event: np.ndarray,
    parton_eta: np.ndarray,
    parton_phi: np.ndarray,
    owner: np.ndarray,
    n_events: int,
    max_dr: float,
) -> np.ndarray:
    """True for jets that contain every parton (within ``max_dr``) of at least one object.

    Partons must be sorted by event; ``owner`` names the object of each parton.
    """
    counts = np.bincount(parton_event, minlength=n_events)
    width = int(counts.max(initial=0))
    if width == 0 or len(jet_event) == 0:
        return np.zeros(len(jet_event), dtype=bool)
    slot = np.arange(len(parton_event)) - np.repeat(np.cumsum(counts) - counts, counts)
    eta = np.full((n_events, width), np.nan)
    phi = np.full((n_events, width), np.nan)
    obj = np.full((n_events, width), -1, dtype=np.int64)
    eta[parton_event, slot] = parton_eta
    phi[parton_event, slot] = parton_phi
    obj[parton_event, slot] = owner
    eta, phi, obj = eta[jet_event], phi[jet_event], obj[jet_event]  # [jet, parton]
    dr = delta_r(eta, phi, jet_eta[:, None], jet_phi[:, None])
    inside = dr < max_dr  # NaN padding compares False
    valid = obj >= 0
    same = obj[:, :, None] == obj[:, None, :]  # [jet, parton, parton]
    contained = valid & np.all(~same | inside[:, None, :], axis=2)
    return contained.any(axis=1)


def _jets_from_events(events: ak.Array, cfg: SimulationConfig) -> dict[str, np.ndarray]:
    """Cluster a batch of Pythia events and return the accepted jets as flat arrays.

    Jets come in event order, by decreasing pT within an event; constituents by decreasing pT,
    truncated to ``cfg.n_particles``.
    """
    import fastjet

    n_events = len(events)
    if n_events == 0:
        return {key: np.zeros(0) for key in _JET_KEYS}
    rec = flatten_events(events)
    pid, status, mother, event_of = rec["id"], rec["status"], rec["mother"], rec["event"]
    px, py, pz, energy, mass = rec["px"], rec["py"], rec["pz"], rec["e"], rec["m"]

    # cluster the visible final state of all events at once
    visible = np.nonzero((status > 0) & ~np.isin(np.abs(pid), NEUTRINOS))[0]
    vis_counts = np.bincount(event_of[visible], minlength=n_events)
    vis_first = np.cumsum(vis_counts) - vis_counts
    inputs = ak.unflatten(
        ak.zip(
            {"px": px[visible], "py": py[visible], "pz": pz[visible], "E": energy[visible]},
            with_name="Momentum4D",
        ),
        vis_counts,
    )
    definition = fastjet.JetDefinition(fastjet.antikt_algorithm, cfg.jet_r)
    sequence = fastjet.ClusterSequence(inputs, definition)
    jets = sequence.inclusive_jets(min_pt=cfg.pt_min)
    constituents = ak.flatten(sequence.constituent_index(min_pt=cfg.pt_min), axis=1)

    jet_event = np.repeat(np.arange(n_events), ak.to_numpy(ak.num(jets, axis=1)))
    jets = ak.flatten(jets, axis=1)
    jpx, jpy, jpz, jen = (ak.to_numpy(jets[c]) for c in ("px", "py", "pz", "E"))
    jet_pt, jet_eta, jet_phi = pt_eta_phi(jpx, jpy, jpz)
    jet_mass = invariant_mass(jen, jpx, jpy, jpz)
    keep = (jet_pt > cfg.pt_min) & (jet_pt < cfg.pt_max) & (np.abs(jet_eta) < cfg.eta_max)

    truth, owner = _truth_partons(pid, status, mother, cfg)
    _, t_eta, t_phi = pt_eta_phi(px[truth], py[truth], pz[truth])
    keep &= _matched(
        jet_event,
        jet_eta,
        jet_phi,
        event_of[truth],
        t_eta,
        t_phi,
        owner,
        n_events,
        cfg.resolved_match_dr,
    )
    selected = np.nonzero(keep)[0]
    selected = selected[np.lexsort((-jet_pt[selected], jet_event[selected]))]

    # constituents of the selected jets, as global particle indices
    local = constituents[selected]
    n_const = ak.to_numpy(ak.num(local, axis=1))
    index = ak.to_numpy(ak.flatten(local)) + np.repeat(vis_first[jet_event[selected]], n_const)
    index = visible[index]
    p_pt, p_eta, p_phi = pt_eta_phi(px[index], py[index], pz[index])
    p_mass = mass[index]
    jet_id = np.repeat(np.arange(len(selected)), n_const)
    order = np.lexsort((-p_pt, jet_id))
    rank = np.arange(len(order)) - np.repeat(np.cumsum(n_const) - n_const, n_const)
    order = order[rank < cfg.n_particles]
    return {
        "jet_pt": jet_pt[selected],
        "jet_eta": jet_eta[selected],
        "jet_phi": jet_phi[selected],
        "jet_mass": jet_mass[selected],
        "nparticles": n_const,
        "counts": np.minimum(n_const, cfg.n_particles),
        "part_pt": p_pt[order],
        "part_eta": p_eta[order],
        "part_phi": p_phi[order],
        "part_mass": p_mass[order],
    }


_JET_KEYS = ("jet_pt", "jet_eta", "jet_phi", "jet_mass", "nparticles", "counts") + tuple(
    f"part_{f}" for f in ("pt", "eta", "phi", "mass")
)


def _take_jets(parts: list[dict[str, np.ndarray]], n: int) -> dict[str, np.ndarray]:
    """Concatenate flat jet batches and keep the first ``n`` jets."""
    out = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    n_part = int(out["counts"][:n].sum())
    for key in out:
        out[key] = out[key][:n_part] if key.startswith("part_") else out[key][:n]
    return out


def simulate_chunk(cfg: SimulationConfig, chunk: int, n_jets: int) -> dict[str, Any]:
    """Generate the first ``n_jets`` accepted jets of chunk ``chunk`` (flat arrays)."""
    pythia = _pythia(cfg.settings())
    pythia.rndm.init(cfg.chunk_seed(chunk))
    parts: list[dict[str, np.ndarray]] = []
    have = n_events = tried = 0
    while have < n_jets:
        if tried > MAX_EVENTS_PER_JET * n_jets:
            raise HepvaeError(
                f"only {have} {cfg.jet_type} jets passed the cuts in {tried} events; "
                f"check pthat_min ({cfg.pthat_min:g} GeV) against pt_min ({cfg.pt_min:g} GeV)"
            )
        tried += cfg.batch_events
        events = pythia.nextBatch(cfg.batch_events)
        n_events += len(events)
        batch = _jets_from_events(events, cfg)
        parts.append(batch)
        have += len(batch["jet_pt"])
    result: dict[str, Any] = _take_jets(parts, n_jets)
    result["n_events"] = n_events
    return result


def chunk_to_jets(cfg: SimulationConfig, chunk: int, data: dict[str, Any]) -> ak.Array:
    """In-memory schema for one chunk: luminosityBlock = chunk + 1, event = global jet index."""
    counts = data["counts"]
    first = chunk * cfg.chunk_size
    return make_jets(
        data["jet_pt"],
        data["jet_eta"],
        data["jet_phi"],
        data["jet_mass"],
        cfg.label,
        ak.unflatten(data["part_pt"], counts),
        ak.unflatten(data["part_eta"], counts),
        ak.unflatten(data["part_phi"], counts),
        ak.unflatten(data["part_mass"], counts),
        nparticles=data["nparticles"],
        event=np.arange(first, first + len(counts), dtype=np.uint64),
        luminosity_block=chunk + 1,
    )
