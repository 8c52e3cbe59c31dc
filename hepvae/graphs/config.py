"""Settings of the data layer: which constituents, which splits, which graphs, which cache."""

from __future__ import annotations

import dataclasses
import math

from hepvae.errors import ConfigError
from hepvae.model.config import ModelConfig

_MODEL = ModelConfig()


@dataclasses.dataclass
class GraphConfig:
    """How jets become arrays, splits and graphs. The defaults are those of a training run
    with the default config (:meth:`from_train` makes them equal for any config), so that a
    cache written by ``hepvae graphs`` is the one training reads.

    ``n_particles``: leading constituents kept per jet (by pT). ``max_edges`` and
    ``max_hyperedges``: bounds on pair edges and 3-point hyperedges per jet (the model's; 0:
    none). ``n_labels``: jet classes (rapidity quantiles are kept per class). ``p4_scale``:
    the one constant [GeV] that divides all four-momenta; None: the training split's mean
    canonical-frame constituent energy. ``split_fractions``: train, val, test shares (sum 1).
    ``seed``: changes the split. ``max_jets``: read at most this many jets (in file order).
    ``norm_jets``: at most this many training jets, evenly spaced, give the statistics.
    ``cache``: folder for the compact arrays and statistics (None: read the files each time).
    ``read_chunk``: jets read from ROOT at a time. ``orient``: features in the model's
    oriented frame (the model's ``orient``).
    """

    n_particles: int = _MODEL.n_particles
    max_edges: int = _MODEL.max_edges
    max_hyperedges: int = _MODEL.max_hyperedges
    n_labels: int = _MODEL.n_labels
    p4_scale: float | None = None
    split_fractions: tuple[float, float, float] = (0.9, 0.1, 0.0)
    seed: int = 0
    max_jets: int | None = None
    norm_jets: int = 10_000
    cache: str | None = None
    read_chunk: int = 100_000
    orient: bool = _MODEL.orient

    def __post_init__(self) -> None:
        for name in ("n_particles", "n_labels", "norm_jets", "read_chunk"):
            if getattr(self, name) < 1:
                raise ConfigError(f"graphs.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("max_edges", "max_hyperedges"):
            if getattr(self, name) < 0:
                raise ConfigError(f"graphs.{name} must be >= 0, got {getattr(self, name)}")
        if self.max_jets is not None and self.max_jets < 1:
            raise ConfigError(f"graphs.max_jets must be >= 1, got {self.max_jets}")
        if self.p4_scale is not None and not (self.p4_scale > 0 and math.isfinite(self.p4_scale)):
            raise ConfigError(f"graphs.p4_scale must be a positive number, got {self.p4_scale}")
        fractions = tuple(float(f) for f in self.split_fractions)
        if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
            raise ConfigError(
                f"graphs.split_fractions must be three non-negative numbers summing to 1, "
                f"got {list(self.split_fractions)}"
            )
        self.split_fractions = fractions

    @classmethod
    def from_train(cls, config, **overrides) -> GraphConfig:
        """The settings a training run with ``config`` (a :class:`hepvae.train.config.Config`)
        uses; ``overrides`` replace single fields."""
        d, m = config.data, config.model
        values = {
            "n_particles": m.n_particles,
            "max_edges": m.max_edges,
            "max_hyperedges": m.max_hyperedges,
            "n_labels": m.n_labels,
            "orient": m.orient,
            "split_fractions": (
                1.0 - d.val_fraction - d.test_fraction,
                d.val_fraction,
                d.test_fraction,
            ),  # fmt: skip
            "seed": d.split_seed,
            "max_jets": d.max_jets,
            "cache": d.cache,
        }
        values.update(overrides)
        return cls(**values)
