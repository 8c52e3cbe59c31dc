"""Build PyTorch Geometric batches of jet hypergraphs from padded constituent arrays.

The whole batch is computed at once: nodes, pairs (i < j) and selected triplets are listed
flat over the batch, their features computed by the kernels of
:mod:`hepvae.graphs.features`, and the result assembled straight into a
:class:`torch_geometric.data.Batch` (with the bookkeeping that ``Batch.get_example`` and
``Batch.to_data_list`` need), so there is no per-graph Python work.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor
from torch_geometric.data import Batch

from hepvae.graphs.features import (
    Kinematics,
    coordinate_kinematics,
    four_momenta,
    jet_features,
    node_terms,
    pair_terms,
    select_ranked,
    triplet_terms,
    upper_pairs,
)
from hepvae.graphs.normalization import Normalization


class RawGraphs(NamedTuple):
    """Unnormalized features of a batch of B graphs, flat over the batch (GeV if dimensioned).

    ``p4`` [n, 4] and ``x`` [n, F_node] per node; ``batch`` [n] graph of each node; ``ptr``
    [B + 1] node offsets; ``edge_index`` [2, n_e] (i < j, global node numbers), ``edge``
    [n_e, 5]; ``hyperedge_index`` [3, n_h] (i < j < k), ``hyperedge`` [n_h, F_h];
    ``jet_p4`` [B, 4]; ``jet`` [B, 4] (JET_FEATURES); ``label`` [B]; ``counts`` [B] nodes,
    ``n_edges`` and ``n_hyperedges`` [B] per graph.
    """

    p4: Tensor
    x: Tensor
    batch: Tensor
    ptr: Tensor
    edge_index: Tensor
    edge: Tensor
    hyperedge_index: Tensor
    hyperedge: Tensor
    jet_p4: Tensor
    jet: Tensor
    label: Tensor
    counts: Tensor
    n_edges: Tensor
    n_hyperedges: Tensor


#: pairs or triplets per block, so that the temporaries of a block stay in the CPU cache
BLOCK = 1 << 16


def _blockwise(kernel, table: Tensor, index: Tensor, jet_pt: Tensor) -> Tensor:
    """``kernel`` on the nodes of each column of ``index`` [r, m] (rows of the [n, 5]
    kinematics ``table``), in blocks of ``BLOCK`` columns; returns [m, F]."""
    m = index.shape[1]
    out = None
    for start in range(0, max(m, 1), BLOCK):
        cols = slice(start, start + BLOCK)
        parts = [Kinematics.unstack(table.index_select(0, row)) for row in index[:, cols]]
        feats = kernel(*parts, jet_pt[cols])
        if out is None:
            out = feats.new_empty((m, feats.shape[-1]))
        out[cols] = feats
    return out


def _offsets(sizes: Tensor) -> Tensor:
    out = torch.zeros(sizes.shape[0] + 1, dtype=torch.int64, device=sizes.device)
    torch.cumsum(sizes, 0, out=out[1:])
    return out


def raw_graphs(
    parts: Tensor, counts: Tensor, jets: Tensor, labels: Tensor, max_hyperedges: int
) -> RawGraphs:
    """Features of B jets from padded constituents.

    ``parts`` [B, N, 4] holds (pT [GeV], eta, phi, mass [GeV]) of the constituents sorted by
    descending pT, ignored beyond ``counts`` [B] (each >= 1); ``jets`` [B, 4] the jet's
    (pT, eta, phi, mass) from the file (all constituents, before truncation), whose pT is
    the pT_J of the EEC weights; ``labels`` [B] the JetNet class codes.
    """
    counts = counts.to(torch.int64)
    bsz = counts.shape[0]
    device = parts.device
    n = max(int(counts.max()), 1) if bsz else 1
    parts = parts[:, :n]
    mask = torch.arange(n, device=device).unsqueeze(0) < counts.unsqueeze(1)
    ptr = _offsets(counts)
    node_graph = torch.repeat_interleave(torch.arange(bsz, device=device), counts)

    flat = parts[mask]
    kin = coordinate_kinematics(*flat.unbind(-1))
    table = kin.stacked()
    jet_pt, jet_eta, jet_phi, jet_mass = jets.unbind(-1)
    jet_kin = coordinate_kinematics(jet_pt, jet_eta, jet_phi, jet_mass)

    pairs = upper_pairs(n).to(device)
    edge_graph, edge_slot = (pairs[:, 1].unsqueeze(0) < counts.unsqueeze(1)).nonzero(as_tuple=True)
    edge_index = (pairs.index_select(0, edge_slot) + ptr[edge_graph].unsqueeze(1)).T
    edge = _blockwise(pair_terms, table, edge_index, jet_pt[edge_graph])

    hyper_graph, triplets = select_ranked(parts[..., 0], mask, max_hyperedges)
    hyper_index = (triplets + ptr[hyper_graph].unsqueeze(1)).T
    hyperedge = _blockwise(triplet_terms, table, hyper_index, jet_pt[hyper_graph])

    return RawGraphs(
        p4=four_momenta(*flat.unbind(-1)),
        x=node_terms(kin, Kinematics.unstack(jet_kin.stacked().index_select(0, node_graph))),
        batch=node_graph,
        ptr=ptr,
        edge_index=edge_index.contiguous(),
        edge=edge,
        hyperedge_index=hyper_index.contiguous(),
        hyperedge=hyperedge,
        jet_p4=four_momenta(jet_pt, jet_eta, jet_phi, jet_mass),
        jet=jet_features(jet_pt, jet_eta, jet_mass, counts),
        label=labels.to(torch.int64),
        counts=counts,
        n_edges=counts * (counts - 1) // 2,
        n_hyperedges=torch.bincount(hyper_graph, minlength=bsz),
    )


def to_batch(raw: RawGraphs, norm: Normalization) -> Batch:
    """Normalize :class:`RawGraphs` into a PyG ``Batch`` (fields as in the graph contract)."""
    bsz = raw.counts.shape[0]
    batch = Batch(
        x=norm.normalize_node(raw.x),
        p4=norm.normalize_p4(raw.p4),
        edge_index=raw.edge_index,
        edge_attr=norm.normalize_edge(raw.edge),
        hyperedge_index=raw.hyperedge_index,
        hyperedge_attr=norm.normalize_hyperedge(raw.hyperedge),
        jet=norm.normalize_jet(raw.jet),
        jet_p4=norm.normalize_p4(raw.jet_p4),
        label=raw.label,
    )
    batch.batch = raw.batch
    batch.ptr = raw.ptr
    per_graph = torch.arange(bsz + 1, device=raw.ptr.device)
    edges, hyperedges = _offsets(raw.n_edges), _offsets(raw.n_hyperedges)
    batch._slice_dict = {
        "x": raw.ptr,
        "p4": raw.ptr,
        "edge_index": edges,
        "edge_attr": edges,
        "hyperedge_index": hyperedges,
        "hyperedge_attr": hyperedges,
        "jet": per_graph,
        "jet_p4": per_graph,
        "label": per_graph,
    }
    zeros = torch.zeros(bsz, dtype=torch.int64, device=raw.ptr.device)
    batch._inc_dict = {key: zeros for key in batch._slice_dict}
    batch._inc_dict["edge_index"] = raw.ptr[:-1]
    batch._inc_dict["hyperedge_index"] = raw.ptr[:-1]
    batch._num_graphs = bsz
    return batch


def make_batch(
    parts: Tensor,
    counts: Tensor,
    jets: Tensor,
    labels: Tensor,
    norm: Normalization,
    max_hyperedges: int,
) -> Batch:
    """:func:`raw_graphs` then :func:`to_batch`: a normalized PyG ``Batch`` of B jets."""
    with torch.no_grad():
        return to_batch(raw_graphs(parts, counts, jets, labels, max_hyperedges), norm)
