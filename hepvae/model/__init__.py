"""HyperVAE: a conditional, Lorentz-equivariant hypergraph VAE for jets.

Architecture
------------
Jets enter as dense padded constituents p4 [B, N, 4] (E, px, py, pz in GeV, lab frame) with a
mask [B, N] and a class label [B] (JetNet coding g=0, q=1, t=2, w=3, z=4).

1. Canonical frame (:mod:`hepvae.physics.kinematics`): each jet is rotated about the beam axis
   by -phi_J and boosted along it by -y_J, so the jet points along +x at zero rapidity;
   four-momenta are then divided by one global scale (``p4_scale``, GeV).
2. Encoder (:mod:`.encoder`): an L-GATr (``LGATrSlim`` by default, ``LGATr`` selectable; see
   :mod:`.backbone`) over the particles, whose vector inputs are each particle's four-momentum
   plus the reference vectors as extra channels, with the padding mask in attention; MLPs embed
   the pair-edge and triplet-hyperedge features (:mod:`.features`; at most ``max_edges`` and
   ``max_hyperedges`` per jet, all when they fit, else the strongest by pT weight);
   cross-attention lets every particle attend to all edges and hyperedges of its jet
   (:mod:`.fusion`); mean and max pooling and an MLP give mu and log sigma^2 of the latent
   (conditioned on the label).
3. Decoder: from (z, label) a multiplicity head (:mod:`.multiplicity`; straight-through
   Gumbel-softmax in training, inverse-CDF sampling in generation), a jet-feature head
   (log pT, log mass) and an L-GATr over N particle slots (:mod:`.decoder`) emit one massless
   four-momentum per active slot in the model's frame (canonical, or oriented with
   ``orient``). Edge and hyperedge features of decoded
   jets are recomputed from the decoded particles with the same feature functions as for real
   jets, so they are decoded consistently with the particles. A rest head (:mod:`.rest`)
   gives a Gaussian for the full jet and its multiplicity before truncation relative to the
   decoded constituents' sum (what lies beyond the N slots), trained on the files' ``Jet_*``.
4. Generation (:mod:`.sampler`) samples z from the generation prior (:mod:`.prior`: a Gaussian
   mixture per class fitted to the posterior means of training jets after each epoch; N(0, 1)
   before the first fit; spread scaled by the temperature), the multiplicity, and the jet's lab
   rapidity (per-class quantiles of the training data) and azimuth (uniform), and moves the
   decoded jet there with an exact Lorentz transformation; with ``orient`` it first turns the
   decoded jet about its axis by a uniform angle and reflects it with probability 1/2; the rest
   head's Gaussian, fed by extra noise, then gives the full jet and ``Jet_nparticles``.

Frames and symmetry: what the model respects
--------------------------------------------
The latent is a function of the jet in its canonical frame only, and with ``orient`` (the
default) in its oriented frame only (:func:`hepvae.physics.kinematics.orient`: the canonical
frame turned about the jet axis so that the leading constituent, by energy in that frame,
points along +z, and reflected y -> -y so that the second has py >= 0). Hence:

- The encoder's latent is invariant under rotations about the beam axis and boosts along it
  (longitudinal boosts) of the input jet, and under permutations of its constituents (padding
  slots carry no information). With ``orient`` it is also invariant under every rotation of
  the jet about its own axis in its zero-rapidity frame and under the mirror through the
  jet-beam plane (the group O(2) about the jet axis; jets of two constituents, whose
  reflection is undefined, aside). Tested in float64 to 1e-6 relative.
- Both L-GATr networks are Lorentz-covariant: when all their vector inputs, the reference
  vectors included, are transformed by any Lorentz transformation Lambda (scalar inputs held
  fixed), vector outputs transform by Lambda and scalar outputs are unchanged. The decoder's
  scalar-to-vector lift and gated readout keep this (tested for the decoder's whole covariant
  part). ``LGATrSlim`` is even equivariant under the full O(1,3) (parity, time reversal).
- The reference vectors break the rest. They are given in the model's frame: ``time``
  (1,0,0,0), ``beam`` (0,0,0,1), ``jet_axis`` (0,1,0,0) and ``normal`` (0,0,1,0); in the
  oriented frame ``beam`` and ``normal`` point to the leading and second constituents' sides,
  and the physical beam is (0, 0, s sin a, cos a) with the jet's own turn a and sign s. Time and
  beam alone would leave rotations about the beam and (with LGATrSlim) the mirror y -> -y as
  exact symmetries, under which a decoder that starts from invariant scalars could only output
  vectors along t and z (zero pT); the jet axis and its normal fix the remaining directions of
  the canonical frame so that both networks can resolve every constituent. The physical
  symmetries (azimuth, rapidity, and with ``orient`` the turn about the jet axis) are
  therefore carried by the frame, not by the networks.
- Not covariant, and done after the networks: putting each decoded constituent on the mass
  shell (E = |p|, with E and p in the frame of the time reference), the jet-feature, pair and
  triplet features (pT, eta, phi, Delta R are frame quantities; they are invariant under beam
  rotations and longitudinal boosts only), and the standardization of features. Moving a
  decoded jet from the model's frame to its lab (y, phi) is an exact Lorentz transformation
  (with ``orient`` an improper one when the drawn reflection is taken); so generated jets
  are distributed uniformly in the turn about their axis and in the reflection, as the
  training jets are (a uniform turn and reflection is what top jets show: 2,000 simulated
  tops: Kolmogorov-Smirnov p = 0.85 against uniform, 50.3 % reflected).
- Generated constituents are massless (E = |p| up to 1e-6 in model units) with pT > 0.
"""

from hepvae.model.config import LossConfig, ModelConfig, NetConfig
from hepvae.model.normalization import Normalization, compute_normalization
from hepvae.model.sampler import JetSampler
from hepvae.model.vae import HyperVAE

__all__ = [
    "HyperVAE",
    "JetSampler",
    "LossConfig",
    "ModelConfig",
    "NetConfig",
    "Normalization",
    "compute_normalization",
]
