"""Typed configuration of the model and its loss (filled from YAML by ``hepvae.config``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class NetConfig:
    """One L-GATr network: ``slim`` (LGATrSlim) or ``full`` (LGATr, multivectors)."""

    kind: Literal["slim", "full"] = "slim"
    hidden_v: int = 8
    hidden_s: int = 32
    blocks: int = 2
    heads: int = 4

    def __post_init__(self) -> None:
        for name in ("hidden_v", "hidden_s", "blocks", "heads"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")


@dataclass
class ModelConfig:
    """Architecture of :class:`hepvae.model.HyperVAE`."""

    n_particles: int = 30
    n_labels: int = 5
    latent_dim: int = 32
    label_dim: int = 16
    #: width of the scalar MLPs and of the particle tokens after the encoder
    hidden: int = 64
    encoder: NetConfig = field(default_factory=NetConfig)
    decoder: NetConfig = field(default_factory=NetConfig)
    #: reference vectors given to both L-GATr networks (see hepvae.model.frames)
    references: list[str] = field(default_factory=lambda: ["time", "beam", "jet_axis", "normal"])
    use_edges: bool = True
    use_hyperedges: bool = True
    #: pair edges per jet: all when they fit, else the strongest by EEC weight
    max_edges: int = 128
    #: triplet hyperedges per jet: all when they fit, else the strongest by pT_i pT_j pT_k
    max_hyperedges: int = 64
    edge_dim: int = 32
    fusion_heads: int = 4
    #: vector channels the decoder lifts from its scalars onto the reference vectors
    lift_channels: int = 8
    #: vector channels of the decoder's gated readout
    readout_channels: int = 4
    #: initial standard deviation of the decoder's learned slot embeddings, which are added to
    #: the (latent, label) condition of every slot: large values let the fixed slot template
    #: drown the condition, so that decoded jets hardly depend on the latent
    slot_init_std: float = 1.0
    gradient_checkpointing: bool = False
    #: work in the oriented frame: each jet is also turned about its axis so that its leading
    #: constituent points along +z and reflected so the second has py >= 0 (exact, see
    #: hepvae.physics.kinematics.orient); generation draws the turn and the reflection
    #: uniformly (two more noise columns)
    orient: bool = True
    #: Gaussian components per class of the generation prior fitted when training ends (at
    #: most one per 250 jets; docs/ablation_prongs.md, seventh round)
    prior_components: int = 128

    def __post_init__(self) -> None:
        from hepvae.model.frames import REFERENCE_VECTORS

        for name in self.references:
            if name not in REFERENCE_VECTORS:
                raise ValueError(
                    f"references: unknown vector {name!r} (known: {', '.join(REFERENCE_VECTORS)})"
                )
        for name in ("n_particles", "n_labels", "latent_dim", "label_dim", "hidden",
                     "prior_components", "slot_init_std"):  # fmt: skip
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")


@dataclass
class LossConfig:
    """Loss terms and their weights."""

    #: permutation-invariant particle loss. ``hungarian`` (one-to-one) is the default: at equal
    #: training time it gave 2-5x lower W1P than ``chamfer``, whose many-to-one nearest
    #: assignment also makes the edge and hyperedge losses compare degenerate pairs.
    #: ``ordered`` (the k-th slot against the k-th hardest particle, no matching) gave the
    #: best tau32 and EEC at small scale but a 3x worse W1P, and was worse on every metric at
    #: the equal-budget scale (docs/ablation_prongs.md)
    set_loss: Literal["chamfer", "hungarian", "sinkhorn", "ordered"] = "hungarian"
    #: share of the pT weighting of true particles in the set loss (0: every particle weighs
    #: the same; 1: by pT fraction, see hepvae.model.losses.pt_weights)
    particle_pt_weight: float = 0.0
    #: weight of the angles (eta, phi) against ln pT in the particle set loss, each in units
    #: of its standard deviation over the training constituents (hepvae.model.losses)
    angle_weight: float = 1.0
    sinkhorn_epsilon: float = 0.05
    sinkhorn_iterations: int = 30
    particle: float = 1.0
    edge: float = 0.05
    hyperedge: float = 0.05
    #: jet (log pT, log mass, rapidity, azimuth) of the decoded constituents' sum
    jet: float = 1.0
    #: pT-weighted jet-shape observables: angular moments, width, the EEC's mean ln dR
    #: (hepvae.model.losses.shape_observables)
    shape: float = 0.0
    #: N-subjettiness tau_1..3, tau_21 and tau_32 (beta = 1, R0 = 0.8) of the decoded
    #: constituents against the input's (hepvae.model.losses.nsubjettiness_observables)
    nsubjettiness: float = 0.0
    #: the jet-feature head's (log pT, log mass)
    jet_head: float = 0.5
    #: cross-entropy of the multiplicity head
    multiplicity: float = 0.2
    #: Gaussian NLL of the rest head: the full jet and the multiplicity before truncation
    #: relative to the decoded constituents (hepvae.model.rest)
    rest: float = 0.1
    #: KL weight after annealing, and the annealing length in optimizer steps
    kl: float = 0.001
    kl_warmup_steps: int = 500
    #: free bits: nats per latent dimension below which the KL is not penalized
    free_bits: float = 0.0
    gumbel_tau: float = 1.0
    #: scale of the reconstruction gradient reaching the multiplicity head (straight-through)
    straight_through_scale: float = 0.05
    #: probability per batch that the decoder gets the true multiplicity (straight-through)
    teacher_forcing: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.particle_pt_weight <= 1.0:
            raise ValueError("particle_pt_weight must be in [0, 1]")
        if self.angle_weight <= 0:
            raise ValueError("angle_weight must be > 0")
