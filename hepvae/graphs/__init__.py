"""The data layer: ROOT -> compact jet arrays -> hash splits -> hypergraphs or dense batches.

* :mod:`~hepvae.graphs.config`: :class:`GraphConfig` (equal to a training run's settings
  through :meth:`GraphConfig.from_train`).
* :mod:`~hepvae.graphs.reading`: chunked reads of schema files into
  :class:`~hepvae.graphs.arrays.JetArrays` (leading constituents, the full jet
  four-momentum, the multiplicity before truncation), split by
  :func:`~hepvae.graphs.splits.split_of` (a hash of each jet's identity).
* :mod:`~hepvae.graphs.normalization`: the training :class:`Normalization` (one class, from
  :mod:`hepvae.model.normalization`) streamed from the arrays.
* :mod:`~hepvae.graphs.cache`: ``.npy`` + JSON cache, memory-mapped, shared by
  ``hepvae graphs --cache`` and ``hepvae train`` (``data.cache``).
* Two views of the same arrays with the same features: the dense padded batches of training
  (:class:`hepvae.train.data.JetTensors`) and the PyG hypergraphs below
  (:class:`JetGraphDataset`, :mod:`~hepvae.graphs.build`). Both go through
  :func:`hepvae.model.normalization.model_inputs`, the function ``HyperVAE.prepare`` calls.

One graph per jet (PyG ``Data``; a ``Batch`` for many), in model units (four-momenta divided
by ``p4_scale``):

===================  ==================  =======================================================
field                shape               meaning
===================  ==================  =======================================================
``p4``               [n, 4] float32      (E, px, py, pz) in the jet's canonical frame
``x``                [n, 6] float32      standardized PARTICLE_FEATURES
``edge_index``       [2, n_e] long       selected pairs i < j, n_e <= max_edges
``edge_attr``        [n_e, 5] float32    standardized EDGE_FEATURES
``hyperedge_index``  [3, n_h] long       selected triplets i < j < k, n_h <= max_hyperedges
``hyperedge_attr``   [n_h, 5] float32    standardized HYPEREDGE_FEATURES
``jet``              [1, 2] float32      standardized JET_TARGETS of the constituents' sum
``jet_p4``           [1, 4] float32      constituents' sum (E, px, py, pz), lab frame
``full_jet``         [1, 4] float32      the file's full jet (pT GeV, eta, phi, mass GeV)
``nparticles``       [1] long            multiplicity before truncation
``label``            [1] long            JetNet coding g=0, q=1, t=2, w=3, z=4
===================  ==================  =======================================================

Feature names and definitions: :mod:`hepvae.model.features`; pair and triplet kernels and the
selection rules: :mod:`hepvae.graphs.features`.
"""

import importlib

#: public name -> module; imported on first use, so that ``hepvae.model`` can use the
#: feature kernels of ``hepvae.graphs.features`` without importing the whole data layer
_EXPORTS = {
    "EDGE_FEATURES": "features",
    "SPLITS": "splits",
    "GraphConfig": "config",
    "JetArrays": "arrays",
    "JetGraphDataset": "dataset",
    "Normalization": "normalization",
    "edge_features": "features",
    "four_momenta": "features",
    "make_batch": "build",
    "make_loader": "dataset",
    "pair_features": "features",
    "select_triplets": "features",
    "split_of": "splits",
    "triplet_features": "features",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
