"""Settings of a Pythia 8 + FastJet sample: the processes per jet class and :class:`SimulationConfig`.

Proton-proton collisions at sqrt(s) = 13 TeV with Pythia 8 (``pythia8mc``) and its default
Monash 2013 tune (``Tune:pp = 14``, set explicitly). Each class has one hard 2 -> 2 process that
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

Chunk k of a sample is generated with a Pythia random seed in [1, 900_000_000] derived from
(seed, jet label, k) with :class:`numpy.random.SeedSequence` (:meth:`SimulationConfig.chunk_seed`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from hepvae.data.schema import label_of
from hepvae.errors import ParameterError

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
        """Raise :class:`ParameterError` naming the first invalid setting."""
        if self.jet_type not in PROCESSES:
            raise ParameterError(
                "{jet_type}: unknown jet type {got!r}, choose one of g, q, t, w, z",
                got=self.jet_type,
            )
        for name in ("n_jets", "n_particles", "chunk_size", "batch_events"):
            _check_int(name, getattr(self, name), minimum=1)
        _check_int("seed", self.seed, minimum=0)
        if self.workers is not None:
            _check_int("workers", self.workers, minimum=1)
        if not 0 <= self.pt_min < self.pt_max:
            raise ParameterError(
                "need 0 <= {pt_min} < {pt_max}, got {low}, {high}",
                low=self.pt_min,
                high=self.pt_max,
            )
        for name in ("pthat_min", "sqrt_s", "jet_r", "eta_max"):
            if not getattr(self, name) > 0:
                raise ParameterError(
                    "{" + name + "} must be > 0, got {got!r}", got=getattr(self, name)
                )
        if self.match_dr is not None and not self.match_dr > 0:
            raise ParameterError("{match_dr} must be > 0, got {got!r}", got=self.match_dr)

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


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ParameterError(
            "{" + name + "} must be an integer >= {minimum}, got {got!r}",
            minimum=minimum,
            got=value,
        )


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1
