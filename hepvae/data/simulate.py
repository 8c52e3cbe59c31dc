"""Pythia 8 + FastJet simulation of JetNet-like jets: the embedded default data.

Physics (all momenta in GeV)
----------------------------
Proton-proton collisions at sqrt(s) = 13 TeV with Pythia 8 (``pythia8mc``) and its default
Monash 2013 tune (``Tune:pp = 14``, set explicitly), with initial- and final-state showers,
multiparton interactions and hadronization on. Each class has one hard 2 -> 2 process that
makes two objects of the class back to back, with ``PhaseSpace:pTHatMin = 900`` so that most
of them give a jet inside the JetNet window:

====  ==============================================  ==========================================
type  Pythia processes                                truth object of the class
====  ==============================================  ==========================================
g     HardQCD:gg2gg, HardQCD:qqbar2gg                 an outgoing gluon
q     HardQCD:qq2qq, HardQCD:qqbar2qqbarNew           an outgoing u, d or s quark or antiquark
t     Top:gg2ttbar, Top:qqbar2ttbar, W -> quarks      a top quark, t -> b W -> b q q'
w     WeakDoubleBoson:ffbar2WW, W -> quarks           a W boson, W -> q q'
z     WeakDoubleBoson:ffbar2gmZgmZ (pure Z0),         a Z boson, Z -> q qbar
      Z -> quarks
====  ==============================================  ==========================================

W and Z decay only to quarks (``onIfAny = 1 2 3 4 5``); top decays are Pythia's own (t -> W b
dominates). Resonance masses are generated within 15 widths of the pole mass (as MadGraph's
default ``bwcutoff``): 152-194 GeV for the top, 49.1-111.7 GeV for the W, 53.8-128.6 GeV for
the Z; otherwise the Breit-Wigner tail, enhanced at high partonic energy, gives "W bosons" of
several hundred GeV.

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
:class:`numpy.random.SeedSequence`; each worker keeps one initialized Pythia per settings and
re-seeds it per chunk. Chunks are collected in order, so the jets depend only on
(jet type, n_jets, n_particles, seed) and the physics settings, never on the number of
workers (``chunk_size``, 250 by default, is part of the sample's definition); the first n jets
of a larger sample with the same seed are the sample of n jets, and ``n_particles`` only
changes the truncation. Workers are forked on Linux (spawned elsewhere); Ctrl-C terminates
them and no output file is left behind.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from hepvae.data.schema import JET_TYPES, JetWriter, label_of, make_jets, wrap_phi
from hepvae.errors import HepvaeError

# W and Z decay to quarks only; resonance masses within 15 widths of the pole mass (MadGraph's
# default bwcutoff): top 173.0 +- 21.0, W 80.4 +- 31.3, Z 91.2 +- 37.4 GeV
_W_TO_QUARKS = ("24:onMode = off", "24:onIfAny = 1 2 3 4 5", "24:mMin = 49.1", "24:mMax = 111.7")
_Z_TO_QUARKS = ("23:onMode = off", "23:onIfAny = 1 2 3 4 5", "23:mMin = 53.8", "23:mMax = 128.6")

#: Pythia processes and decays per jet type (see the module docstring)
PROCESSES: dict[str, tuple[str, ...]] = {
    "g": ("HardQCD:gg2gg = on", "HardQCD:qqbar2gg = on"),
    "q": ("HardQCD:qq2qq = on", "HardQCD:qqbar2qqbarNew = on", "HardQCD:nQuarkNew = 3"),
    "t": (
        "Top:gg2ttbar = on",
        "Top:qqbar2ttbar = on",
        "6:mMin = 152.0",
        "6:mMax = 194.0",
        *_W_TO_QUARKS,
    ),
    "w": ("WeakDoubleBoson:ffbar2WW = on", *_W_TO_QUARKS),
    "z": ("WeakDoubleBoson:ffbar2gmZgmZ = on", "WeakZ0:gmZmode = 2", *_Z_TO_QUARKS),
}
#: PDG ids (absolute) of the hard partons that define the g and q classes
PARTON_IDS: dict[str, tuple[int, ...]] = {"g": (21,), "q": (1, 2, 3)}
#: PDG id (absolute) of the resonance that defines the t, w and z classes
RESONANCE_IDS: dict[str, int] = {"t": 6, "w": 24, "z": 23}
#: default matching distance: parton to jet axis (g, q), every decay quark to jet axis (t, w, z)
MATCH_DR: dict[str, float] = {"g": 0.4, "q": 0.4, "t": 0.8, "w": 0.8, "z": 0.8}
NEUTRINOS = (12, 14, 16)
TUNE = "Monash 2013 (Tune:pp = 14)"
MAX_PYTHIA_SEED = 900_000_000
#: give up on a chunk after this many events per requested jet (a sign of bad settings)
MAX_EVENTS_PER_JET = 100


@dataclass
class SimulationConfig:
    """Settings of one simulated sample (momenta in GeV).

    ``chunk_size`` and the physics settings are part of the sample's definition: changing
    them changes the jets. ``workers`` and ``batch_events`` only change the speed.
    """

    jet_type: str = "t"
    n_jets: int = 1000
    n_particles: int = 30
    seed: int = 0
    workers: int | None = None  # None: all cores available to this process
    chunk_size: int = 250  # jets per chunk (each chunk has its own Pythia seed)
    batch_events: int = 25  # events per Pythia batch, clustered together
    pthat_min: float = 900.0
    sqrt_s: float = 13000.0
    jet_r: float = 0.8
    pt_min: float = 800.0
    pt_max: float = 1600.0
    eta_max: float = 2.5
    match_dr: float | None = None  # None: 0.4 for g and q, 0.8 for t, w and z
    pythia_settings: tuple[str, ...] = ()  # extra Pythia lines, read after the defaults

    def validate(self) -> None:
        """Raise :class:`HepvaeError` naming the first invalid setting."""
        label_of(self.jet_type)
        for name in ("n_jets", "n_particles", "chunk_size", "batch_events"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise HepvaeError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise HepvaeError(f"seed must be an integer >= 0, got {self.seed!r}")
        if self.workers is not None and (not isinstance(self.workers, int) or self.workers <= 0):
            raise HepvaeError(f"workers must be a positive integer, got {self.workers!r}")
        if not 0 <= self.pt_min < self.pt_max:
            raise HepvaeError(f"need 0 <= pt_min < pt_max, got {self.pt_min}, {self.pt_max}")
        for name in ("pthat_min", "sqrt_s", "jet_r", "eta_max"):
            if not getattr(self, name) > 0:
                raise HepvaeError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if self.match_dr is not None and not self.match_dr > 0:
            raise HepvaeError(f"match_dr must be > 0, got {self.match_dr!r}")

    @property
    def label(self) -> int:
        return label_of(self.jet_type)

    @property
    def resolved_match_dr(self) -> float:
        return MATCH_DR[self.jet_type] if self.match_dr is None else self.match_dr

    @property
    def n_chunks(self) -> int:
        return -(-self.n_jets // self.chunk_size)

    def resolved_workers(self) -> int:
        """Worker processes to use: ``workers``, or all available cores, at most one per chunk."""
        workers = self.workers or available_cores()
        return max(1, min(workers, self.n_chunks))

    def settings(self) -> tuple[str, ...]:
        """All Pythia settings lines of this sample, in the order they are read."""
        base = (
            "Print:quiet = on",
            "Tune:pp = 14",  # first: a tune resets the parameters it covers
            "Next:numberCount = 0",
            f"Beams:eCM = {float(self.sqrt_s)}",
            f"PhaseSpace:pTHatMin = {float(self.pthat_min)}",
            "Random:setSeed = on",
            "Random:seed = 1",  # init only; every chunk re-seeds
        )
        return base + PROCESSES[self.jet_type] + tuple(self.pythia_settings)

    def chunk_seed(self, chunk: int) -> int:
        """Pythia seed (1..900_000_000) of chunk ``chunk``, from (seed, label, chunk)."""
        state = np.random.SeedSequence([self.seed, self.label, chunk]).generate_state(2)
        return int((int(state[0]) << 32 | int(state[1])) % MAX_PYTHIA_SEED) + 1


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


# --------------------------------------------------------------------------------------------
# one batch of events -> jets (runs in the workers)

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


def _ptetaphi(px: np.ndarray, py: np.ndarray, pz: np.ndarray):
    pt = np.hypot(px, py)
    return pt, np.arcsinh(pz / pt), wrap_phi(np.arctan2(py, px))


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
    dr = np.hypot(eta - jet_eta[:, None], wrap_phi(phi - jet_phi[:, None]))
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
    jet_pt, jet_eta, jet_phi = _ptetaphi(jpx, jpy, jpz)
    jet_mass = np.sqrt(np.maximum(jen**2 - jpx**2 - jpy**2 - jpz**2, 0.0))
    keep = (jet_pt > cfg.pt_min) & (jet_pt < cfg.pt_max) & (np.abs(jet_eta) < cfg.eta_max)

    truth, owner = _truth_partons(pid, status, mother, cfg)
    _, t_eta, t_phi = _ptetaphi(px[truth], py[truth], pz[truth])
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
    p_pt, p_eta, p_phi = _ptetaphi(px[index], py[index], pz[index])
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


def _simulate_chunk(cfg: SimulationConfig, chunk: int, n_jets: int) -> dict[str, Any]:
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


def _chunk_to_jets(cfg: SimulationConfig, chunk: int, data: dict[str, Any]) -> ak.Array:
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


# --------------------------------------------------------------------------------------------
# chunks -> workers -> ordered results


def _ignore_sigint() -> None:
    """Pool initializer: workers leave Ctrl-C to the main process, which terminates them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _pool_context():
    """Process start method for the pool.

    ``fork`` on Linux: workers start at once and need no ``if __name__ == "__main__"`` guard
    in the calling script; they only run numpy, awkward, FastJet and Pythia code. Elsewhere
    (macOS, where forking is unsafe) ``spawn``.
    """
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _chunk_sizes(cfg: SimulationConfig) -> list[int]:
    return [min(cfg.chunk_size, cfg.n_jets - k * cfg.chunk_size) for k in range(cfg.n_chunks)]


@contextlib.contextmanager
def _chunk_results(cfg: SimulationConfig) -> Iterator[Iterator[tuple[int, dict[str, Any]]]]:
    """Yield an iterator of (chunk index, flat arrays) in chunk order.

    With more than one worker the chunks run on a process pool, created here (before any
    progress-bar thread exists) and terminated on leaving, also on error or Ctrl-C.
    """
    sizes = _chunk_sizes(cfg)
    workers = cfg.resolved_workers()
    if workers == 1:
        yield ((chunk, _simulate_chunk(cfg, chunk, size)) for chunk, size in enumerate(sizes))
        return
    pool = _pool_context().Pool(workers, initializer=_ignore_sigint)
    try:
        yield _ordered(pool, cfg, sizes, window=2 * workers)
    finally:
        pool.terminate()
        pool.join()


def _ordered(pool, cfg: SimulationConfig, sizes: list[int], window: int):
    """Results of all chunks in order, with at most ``window`` chunks in flight (bounds memory)."""
    pending: deque = deque()
    todo = iter(enumerate(sizes))

    def submit() -> None:
        item = next(todo, None)
        if item is not None:
            pending.append((item[0], pool.apply_async(_simulate_chunk, (cfg, *item))))

    for _ in range(window):
        submit()
    while pending:
        chunk, result = pending.popleft()
        data = result.get()
        submit()
        yield chunk, data


@contextlib.contextmanager
def _progress(total: int, description: str, enabled: bool) -> Iterator[Callable[[int], None]]:
    """A rich progress bar in jets with a jets/s column; yields ``advance(n)``."""
    if not enabled:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task) -> Text:
            speed = task.finished_speed or task.speed
            return Text("-- jets/s" if speed is None else f"{speed:,.0f} jets/s")

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


def _iterate(cfg: SimulationConfig, progress: bool) -> Iterator[tuple[ak.Array, int]]:
    """Yield (jets of one chunk, events generated for it) in chunk order."""
    cfg.validate()
    workers = cfg.resolved_workers()
    description = f"simulating {cfg.jet_type} jets ({workers} worker{'s' * (workers > 1)})"
    with _chunk_results(cfg) as chunks, _progress(cfg.n_jets, description, progress) as advance:
        for chunk, data in chunks:
            advance(len(data["counts"]))
            yield _chunk_to_jets(cfg, chunk, data), data["n_events"]


def iterate_simulation(cfg: SimulationConfig, progress: bool = True) -> Iterator[ak.Array]:
    """Yield the sample chunk by chunk (in-memory schema), in order; memory stays bounded."""
    with contextlib.closing(_iterate(cfg, progress)) as chunks:
        for jets, _ in chunks:
            yield jets


def simulation_metadata(cfg: SimulationConfig, n_events: int | None = None) -> dict[str, Any]:
    """The generator settings of a sample, as stored in the file's metadata."""
    from hepvae import __version__

    meta = {
        "producer": "simulate",
        "jet_type": cfg.jet_type,
        "label": cfg.label,
        "n_particles": cfg.n_particles,
        "seed": cfg.seed,
        "chunk_size": cfg.chunk_size,
        "chunk_seeds": "numpy SeedSequence([seed, label, chunk]) -> 1..900000000",
        "generator": "Pythia 8 (pythia8mc)",
        "tune": TUNE,
        "sqrt_s_gev": cfg.sqrt_s,
        "pthat_min_gev": cfg.pthat_min,
        "processes": list(PROCESSES[cfg.jet_type]),
        "pythia_settings": list(cfg.settings()),
        "jet_algorithm": "anti-kt (FastJet, E-scheme) on visible final-state particles",
        "jet_r": cfg.jet_r,
        "cuts": {"pt_min_gev": cfg.pt_min, "pt_max_gev": cfg.pt_max, "abs_eta_max": cfg.eta_max},
        "match": {
            "rule": (
                "hard parton of the class within match_dr of the jet axis"
                if cfg.jet_type in PARTON_IDS
                else "all decay quarks of one resonance of the class within match_dr"
            ),
            "match_dr": cfg.resolved_match_dr,
        },
        "constituents": "leading n_particles by pT; jet four-momentum is the full jet's",
        "versions": {
            "hepvae": __version__,
            "pythia8mc": _version("pythia8mc"),
            "fastjet": _version("fastjet"),
        },
    }
    if n_events is not None:
        meta["n_events"] = n_events
    return meta


def _version(package: str) -> str:
    try:
        return importlib_metadata.version(package)
    except importlib_metadata.PackageNotFoundError:
        return "unknown"


def _config(
    jet_type: str, n_jets: int, n_particles: int, seed: int, workers: int | None, **overrides
) -> SimulationConfig:
    cfg = SimulationConfig(
        jet_type=jet_type,
        n_jets=n_jets,
        n_particles=n_particles,
        seed=seed,
        workers=workers,
        **overrides,
    )
    cfg.validate()
    return cfg


def simulate(
    jet_type: str,
    n_jets: int,
    n_particles: int = 30,
    seed: int = 0,
    workers: int | None = None,
    progress: bool = True,
    **overrides: Any,
) -> ak.Array:
    """Simulate ``n_jets`` jets of ``jet_type`` (g, q, t, w, z) in memory (schema of ``make_jets``).

    ``overrides`` are further :class:`SimulationConfig` fields (e.g. ``pthat_min``).
    """
    cfg = _config(jet_type, n_jets, n_particles, seed, workers, **overrides)
    return simulate_config(cfg, progress=progress)


def simulate_config(cfg: SimulationConfig, progress: bool = True) -> ak.Array:
    """Simulate the sample described by ``cfg`` in memory."""
    chunks = list(iterate_simulation(cfg, progress=progress))
    return chunks[0] if len(chunks) == 1 else ak.concatenate(chunks)


def simulate_to_file(
    path: str | os.PathLike,
    jet_type: str,
    n_jets: int,
    n_particles: int = 30,
    seed: int = 0,
    workers: int | None = None,
    progress: bool = True,
    **overrides: Any,
) -> Path:
    """Simulate jets into a ROOT file in the hepvae schema, chunk by chunk; return the path.

    The file appears only when complete (no partial file on error or Ctrl-C); its metadata
    holds :func:`simulation_metadata`.
    """
    cfg = _config(jet_type, n_jets, n_particles, seed, workers, **overrides)
    return simulate_config_to_file(path, cfg, progress=progress)


def simulate_config_to_file(
    path: str | os.PathLike, cfg: SimulationConfig, progress: bool = True
) -> Path:
    """Simulate the sample described by ``cfg`` into ``path``."""
    cfg.validate()
    with JetWriter(path, simulation_metadata(cfg)) as writer:
        n_events = 0
        with contextlib.closing(_iterate(cfg, progress)) as chunks:
            for jets, events in chunks:
                writer.write(jets)
                n_events += events
        writer.metadata["n_events"] = n_events
    return writer.path


__all__ = [
    "JET_TYPES",
    "MATCH_DR",
    "PROCESSES",
    "SimulationConfig",
    "available_cores",
    "flatten_events",
    "iterate_simulation",
    "simulate",
    "simulate_config",
    "simulate_config_to_file",
    "simulate_to_file",
    "simulation_metadata",
]
