"""Jets as bipartite hypergraphs for the VAE: features, normalization, data set and loader.

One graph per jet (PyG ``Data``; a ``Batch`` for many):

===================  ==================  =======================================================
field                shape               meaning
===================  ==================  =======================================================
``p4``               [n, 4] float32      (E, px, py, pz) / p4_scale, lab frame, by descending pT
``x``                [n, 4] float32      normalized NODE_FEATURES
``edge_index``       [2, n(n-1)/2] long  every unordered pair once, row 0 < row 1
``edge_attr``        [n_e, 5] float32    normalized EDGE_FEATURES
``hyperedge_index``  [3, n_h] long       node triplets i < j < k, n_h <= max_hyperedges
``hyperedge_attr``   [n_h, 5] float32    normalized HYPEREDGE_FEATURES
``jet``              [1, 4] float32      normalized JET_FEATURES
``jet_p4``           [1, 4] float32      jet (E, px, py, pz) / p4_scale, lab frame
``label``            [1] long            JetNet coding g=0, q=1, t=2, w=3, z=4
===================  ==================  =======================================================

Feature names (all defined in :mod:`hepvae.graphs.features`, GeV where dimensioned):

* NODE_FEATURES = (log_pt_rel, y_rel, phi_rel, log_dr): ln(pT_i/pT_J), rapidity and azimuth
  relative to the jet axis, ln dR to the axis. All four are invariant under azimuthal
  rotations and longitudinal boosts (so no ln E_rel, which is not).
* EDGE_FEATURES = (eec, log_dr, log_kt, log_z, log_m2).
* HYPEREDGE_FEATURES = (e3c, log_dr_max, log_dr_mid, log_dr_min, log_m2): the 3-point weight
  pT_i pT_j pT_k / pT_J^3, the triangle's ln dR sides sorted, the triplet's ln m^2.
* JET_FEATURES = (log_pt, eta, log_mass, multiplicity); the multiplicity is the number of
  stored nodes n (<= n_particles); pT, eta, mass are the file's jet (all constituents).

Points where this package refines the graph contract:

* The feature functions take four-momenta in GeV. For decoded, scaled four-momenta pass
  ``norm.denormalize_p4(p4)``.
* Extra public functions: ``edge_features`` (listed pairs, no N x N matrix),
  ``node_features``, ``jet_features``, the shape-agnostic kernels ``pair_terms``,
  ``triplet_terms``, ``node_terms`` on ``Kinematics`` (``kinematics(p4)`` or
  ``coordinate_kinematics(pt, eta, phi, mass)``), ``upper_pairs``, ``triplet_candidates``,
  ``select_ranked``, and :func:`hepvae.graphs.build.make_batch` (padded constituents ->
  ``Batch``).
* ``select_triplets`` returns H = min(K, C(N, 3)) rows in the lexicographic order of pT
  ranks (padding rows last).
* ``JetGraphDataset.splits(paths, config)`` reads the files once for all three splits;
  ``make_loader`` also takes ``drop_last`` and ``generator``.
"""

from hepvae.graphs.build import make_batch, raw_graphs
from hepvae.graphs.dataset import SPLITS, GraphConfig, JetGraphDataset, make_loader
from hepvae.graphs.features import (
    EDGE_FEATURES,
    HYPEREDGE_FEATURES,
    JET_FEATURES,
    NODE_FEATURES,
    edge_features,
    four_momenta,
    jet_features,
    node_features,
    pair_features,
    select_triplets,
    triplet_features,
)
from hepvae.graphs.normalization import Normalization

__all__ = [
    "EDGE_FEATURES",
    "HYPEREDGE_FEATURES",
    "JET_FEATURES",
    "NODE_FEATURES",
    "SPLITS",
    "GraphConfig",
    "JetGraphDataset",
    "Normalization",
    "edge_features",
    "four_momenta",
    "jet_features",
    "make_batch",
    "make_loader",
    "node_features",
    "pair_features",
    "raw_graphs",
    "select_triplets",
    "triplet_features",
]
