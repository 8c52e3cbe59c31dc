"""The hypergraph view: PyTorch Geometric batches of exactly what the model sees.

A batch of jets is made dense (:meth:`hepvae.graphs.arrays.JetArrays.dense`), passed through
:func:`hepvae.model.normalization.model_inputs` (the function :meth:`HyperVAE.prepare` calls),
and its real nodes, selected pair edges and selected triplet hyperedges are listed flat over
the batch in a :class:`torch_geometric.data.Batch` (with the bookkeeping that
``Batch.get_example`` and ``Batch.to_data_list`` need), without per-graph Python work.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import Batch

from hepvae.model.features import JetInputs
from hepvae.model.normalization import Normalization, model_inputs


def _offsets(sizes: Tensor) -> Tensor:
    out = torch.zeros(sizes.shape[0] + 1, dtype=torch.int64, device=sizes.device)
    torch.cumsum(sizes, 0, out=out[1:])
    return out


def _flat_index(index: Tensor, valid: Tensor, ptr: Tensor) -> tuple[Tensor, Tensor]:
    """Rows [B, K, r] of per-jet node indices kept where ``valid`` [B, K], shifted to global
    node numbers -> ([r, M] long, per-jet counts [B])."""
    graph = valid.nonzero(as_tuple=True)[0]
    return (index[valid] + ptr[graph].unsqueeze(1)).T.contiguous(), valid.sum(1)


def inputs_to_batch(
    x: JetInputs,
    particle: Tensor,
    edges: Tensor,
    hyper: Tensor,
    mask: Tensor,
    label: Tensor,
    extra: dict[str, Tensor] | None = None,
) -> Batch:
    """A PyG ``Batch`` of the outputs of :func:`model_inputs` (fields: see
    :mod:`hepvae.graphs`); ``extra`` adds per-graph fields [B, ...]."""
    bsz = mask.shape[0]
    counts = mask.sum(1)
    ptr = _offsets(counts)
    edge_index, n_edges = _flat_index(x.pairs, x.edge_mask, ptr)
    hyper_index, n_hyper = _flat_index(x.triplets, x.hmask, ptr)
    graph_fields = {"jet": x.targets, "jet_p4": x.jet, "label": label, **(extra or {})}
    batch = Batch(
        x=particle[mask],
        p4=x.p4c[mask],
        edge_index=edge_index,
        edge_attr=edges[x.edge_mask],
        hyperedge_index=hyper_index,
        hyperedge_attr=hyper[x.hmask],
        **graph_fields,
    )
    batch.batch = torch.repeat_interleave(torch.arange(bsz, device=mask.device), counts)
    batch.ptr = ptr
    per_graph = torch.arange(bsz + 1, device=ptr.device)
    e_ptr, h_ptr = _offsets(n_edges), _offsets(n_hyper)
    batch._slice_dict = {"x": ptr, "p4": ptr, "edge_index": e_ptr, "edge_attr": e_ptr,
                         "hyperedge_index": h_ptr, "hyperedge_attr": h_ptr,
                         **{key: per_graph for key in graph_fields}}  # fmt: skip
    zeros = torch.zeros(bsz, dtype=torch.int64, device=ptr.device)
    batch._inc_dict = {key: zeros for key in batch._slice_dict}
    batch._inc_dict["edge_index"] = ptr[:-1]
    batch._inc_dict["hyperedge_index"] = ptr[:-1]
    batch._num_graphs = bsz
    return batch


def make_batch(
    p4: Tensor,
    mask: Tensor,
    label: Tensor,
    norm: Normalization,
    max_edges: int,
    max_hyperedges: int,
    extra: dict[str, Tensor] | None = None,
    oriented: bool = False,
) -> Batch:
    """A normalized PyG ``Batch`` of dense jets: lab-frame ``p4`` [B, N, 4] in GeV, ``mask``
    [B, N], ``label`` [B], with the model's edge and hyperedge bounds and frame."""
    with torch.no_grad():
        out = model_inputs(p4, mask, norm.tensors(), max_edges, max_hyperedges, oriented)
        return inputs_to_batch(*out, mask.bool(), label, extra)
