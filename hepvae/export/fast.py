"""An inference-only formulation of the decoder for the exported sampler: same weights, same
math, far fewer kernels.

The decoder's ``LGATrSlim`` keeps vectors [.., 4, C] and scalars [.., C] apart and runs every
per-channel map, Minkowski product and RMS norm as its own chain of small element-wise kernels.
Here the tokens are two streams of rows, vectors [B N, 4 Cv] (component-major, as
``LGATrSlim`` stores them inside) and scalars [B N, Cs], so that:

- every equivariant linear map is one matmul per stream (the vector part is the per-channel map
  repeated over the four components; no map mixes the streams, so no zeros are multiplied);
  the norms' gains, the Minkowski metric of the attention queries and the GLU's factor 1/2 are
  folded into the weights, and the MLP's vector stream runs as [B N 4, Cv];
- the Minkowski squares of the RMS norms are one matmul with a constant matrix; the
  attention's norms of queries, keys and values scale the [N, N] scores and weights instead
  of the rows;
- the decoder's input (the lift onto the reference vectors, which are constants, and the first
  linear layer) is one per-jet matmul plus a per-slot constant table, and its readout (last
  linear layer, gates and anchor) is one matmul per stream;
- attention is plain scaled dot-product attention with an additive padding mask, its softmax
  written out over the keys' axis; with one head no transposes are needed.

:func:`fast_decoder` builds it from a trained :class:`hepvae.model.decoder.Decoder`. Every
folded matrix is read off the trained layers themselves (each is an affine map, evaluated in
float64 on the unit vectors), so the converter follows the layers' own conventions.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from hepvae.model.decoder import Decoder, on_mass_shell

METRIC = (1.0, -1.0, -1.0, -1.0)
#: attention scores below the row maximum by more than this are taken at it (exp(-80) ~ 2e-35,
#: below float32 resolution next to the maximum's weight 1): onnxruntime's Exp is about ten
#: times slower on arguments in the underflow range, the padded keys' -inf included
EXP_FLOOR = -80.0


def affine(fn: Callable[[torch.Tensor], torch.Tensor], n_in: int) -> tuple[torch.Tensor, ...]:
    """(weight [n_in, n_out], bias [n_out]) of an affine map ``fn`` from [K, n_in] to [K, n_out],
    read off in float64 from its values at zero and at the unit vectors."""
    with torch.no_grad():
        x = torch.cat([torch.zeros(1, n_in), torch.eye(n_in)]).double()
        y = fn(x)
    return (y[1:] - y[:1]).float(), y[0].float()


def split(x: torch.Tensor, v_channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Row [.., 4 * Cv + Cs] -> (vectors [.., 4, Cv], scalars [.., Cs])."""
    return x[..., : 4 * v_channels].unflatten(-1, (4, v_channels)), x[..., 4 * v_channels :]


def join(vectors: torch.Tensor, scalars: torch.Tensor) -> torch.Tensor:
    """(vectors [.., 4, Cv], scalars [.., Cs]) -> row [.., 4 * Cv + Cs]."""
    return torch.cat([vectors.flatten(-2), scalars], dim=-1)


def vector_mask(groups: int, v_width: int, s_width: int) -> torch.Tensor:
    """Bool [groups * (v_width + s_width)]: True on the vector entries of ``groups`` rows of
    ``[v_width | s_width]`` laid end to end."""
    return torch.cat([torch.ones(v_width), torch.zeros(s_width)]).bool().repeat(groups)


def stream_blocks(
    weight: torch.Tensor, rows_v: torch.Tensor, cols_v: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(vector -> vector, scalar -> scalar) blocks of a linear map ``weight`` [n_in, n_out]
    whose vector inputs and outputs are marked by the bools ``rows_v`` and ``cols_v``; an
    equivariant map has no other entries (a ValueError if it has)."""
    cross = torch.cat([weight[rows_v][:, ~cols_v].flatten(), weight[~rows_v][:, cols_v].flatten()])
    if (cross != 0).any():
        raise ValueError("fast decoder: a linear map mixes the vector and scalar channels")
    return weight[rows_v][:, cols_v], weight[~rows_v][:, ~cols_v]


def vector_norm_matrix(v_channels: int, s_channels: int) -> torch.Tensor:
    """[4 Cv, Cv]: squared vector row -> per-channel Minkowski squares, each divided by the
    number of channels Cv + Cs (the mean of an RMS norm)."""
    g = torch.zeros(4 * v_channels, v_channels)
    for a, sign in enumerate(METRIC):
        g[a * v_channels : (a + 1) * v_channels] = sign * torch.eye(v_channels)
    return g / (v_channels + s_channels)


def mean_square(v: torch.Tensor, s: torch.Tensor, matrix: torch.Tensor, n: int) -> torch.Tensor:
    """Mean square of ``SlimRMSNorm`` (|Minkowski square| per vector channel) over vector rows
    v [.., 4 Cv] and scalars s [.., Cs], shape [..]; ``matrix`` is the
    :func:`vector_norm_matrix` and n = Cv + Cs."""
    # as norms, each one kernel without the squares in memory (ReduceL1, ReduceL2)
    vectors = torch.linalg.vector_norm((v * v).matmul(matrix), ord=1, dim=-1)
    return vectors + torch.linalg.vector_norm(s, dim=-1).square() * (1.0 / n)


def heads_first(x: torch.Tensor, batch: int, heads: int) -> torch.Tensor:
    """Token rows [B N, H d] -> [B, H, N, d]."""
    if heads == 1:  # no transpose kernel
        return x.reshape(batch, 1, -1, x.shape[-1])
    return x.reshape(batch, -1, heads, x.shape[-1] // heads).transpose(1, 2)


def tokens_first(x: torch.Tensor) -> torch.Tensor:
    """[B, H, N, d] -> token rows [B N, H d]."""
    if x.shape[1] == 1:
        return x.reshape(-1, x.shape[-1])
    return x.transpose(1, 2).flatten(2).flatten(0, 1)


class FastBlock(nn.Module):
    """One ``SlimBlock`` (RMS norm, attention, residual; RMS norm, GLU, linear, residual) on
    the two streams: vector rows v [B N, 4 Cv] and scalars s [B N, Cs]."""

    def __init__(self, block: nn.Module, v_channels: int, s_channels: int) -> None:
        super().__init__()
        att = block.attention
        if len(block.mlp.layers) != 2 or att.dropout is not None:
            raise ValueError("fast decoder: only 2-layer MLPs without dropout are supported")
        self.heads, hv, hs = att.num_heads, att.hidden_v_channels, att.hidden_s_channels
        self.eps, self.att_eps = block.norm1.epsilon, att.norm.epsilon
        self.channels, self.att_channels = v_channels + s_channels, hv + hs
        self.scale = (4 * hv + hs) ** -0.5
        width = 4 * v_channels + s_channels
        rows_v = vector_mask(1, 4 * v_channels, s_channels)
        heads_v = vector_mask(self.heads, 4 * hv, hs)  # one row per head, as attention keeps them
        glu, out = block.mlp.layers
        hidden_v = glu.linear._out_v_channels // 3
        metric = torch.tensor(METRIC, dtype=torch.float64)

        def gains(norm: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            v, s = split(x, v_channels)
            return v * norm.weight_v, s * norm.weight_s

        def qkv(x: torch.Tensor) -> torch.Tensor:
            v, s = att.linear_in(*gains(block.norm1, x))  # [K, 4, 3 hv H], [K, 3 hs H]
            v = v.unflatten(-1, (3, hv, self.heads)).permute(0, 2, 4, 1, 3)  # [K, 3, H, 4, hv]
            v = v * torch.stack([metric, *[torch.ones_like(metric)] * 2])[None, :, None, :, None]
            s = s.unflatten(-1, (3, hs, self.heads)).permute(0, 1, 3, 2)  # [K, 3, H, hs]
            return torch.cat([v.flatten(-2), s], -1).flatten(1)

        def attention_out(x: torch.Tensor) -> torch.Tensor:
            x = x.unflatten(-1, (self.heads, 4 * hv + hs))  # [K, H, 4 hv + hs]
            v = x[..., : 4 * hv].unflatten(-1, (4, hv)).transpose(1, 2).flatten(-2)
            return join(*att.linear_out(v, x[..., 4 * hv :].flatten(-2)))

        def vector_part(fn: nn.Module, gain: torch.Tensor | None = None) -> Callable:
            # per-channel map of one vector component: [K, Cin] -> [K, Cout] (no bias)
            def one(x: torch.Tensor) -> torch.Tensor:
                x = x * gain if gain is not None else x
                v = torch.cat([x[:, None], x.new_zeros(x.shape[0], 3, x.shape[1])], 1)
                return fn(v, x.new_zeros(x.shape[0], fn._in_s_channels))[0][:, 0]

            return one

        def scalar_part(fn: nn.Module, gain: torch.Tensor | None = None) -> Callable:
            def one(x: torch.Tensor) -> torch.Tensor:
                x = x * gain if gain is not None else x
                return fn(x.new_zeros(x.shape[0], 4, fn._in_v_channels), x)[1]

            return one

        # queries, keys and values of each stream: matmuls over the stream's own channels (an
        # equivariant map has no vector-scalar entries); the vector part repeats the
        # per-channel map over the four components, with the Minkowski metric on the queries
        w_v, w_s = stream_blocks(affine(qkv, width)[0], rows_v, heads_v.repeat(3))
        w_att, b_att = affine(attention_out, (4 * hv + hs) * self.heads)
        w_att_v, w_att_s = stream_blocks(w_att, heads_v, rows_v)
        if (b_att[rows_v] != 0).any():
            raise ValueError("fast decoder: the attention output has a vector bias")
        # the MLP: the vector stream as [B N 4, Cv], one row per component
        n2 = block.norm2
        w_gv = affine(vector_part(glu.linear, n2.weight_v), v_channels)[0]
        w_gs, b_gs = affine(scalar_part(glu.linear, n2.weight_s), s_channels)
        hidden_s = b_gs.shape[0] // 2
        gate_metric = torch.kron(0.5 * metric.float()[:, None], torch.eye(hidden_v))
        buffers = {
            **dict(zip(("w_q_v", "w_k_v", "w_v_v"), w_v.chunk(3, dim=1))),
            **dict(zip(("w_q_s", "w_k_s", "w_v_s"), w_s.chunk(3, dim=1))),
            "w_att_v": w_att_v,
            "w_att_s": w_att_s,
            "b_att_s": b_att[~rows_v],
            **dict(zip(("w_pre", "w_g1", "w_g2"), w_gv.split(hidden_v, dim=1))),
            "gate_metric": gate_metric,
            "gate_tile": torch.eye(hidden_v).repeat(1, 4),
            **dict(zip(("w_spre", "w_sgate"), w_gs.split(hidden_s, dim=1))),
            **dict(zip(("b_spre", "b_sgate"), b_gs.split(hidden_s))),
            "w_out_v": affine(vector_part(out), hidden_v)[0],
            **dict(zip(("w_out_s", "b_out_s"), affine(scalar_part(out), hidden_s))),
            "norm": vector_norm_matrix(v_channels, s_channels),
            "att_norm": vector_norm_matrix(hv, hs),
        }
        for name, value in buffers.items():
            self.register_buffer(name, value.contiguous())
        self.head_widths = (4 * hv, hs)
        self.nonlinearity = glu.nonlinearity
        self.nonlinearity_v = glu.nonlinearity_v

    def rms(self, v: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """1 / RMS [B N, 1] of the block's norms (their gains are folded into the weights)."""
        # eps is added before the trailing unit axis: onnxruntime broadcasts a scalar onto a
        # [.., 1] tensor about thirty times slower than onto [..]
        ms = mean_square(v, s, self.norm, self.channels)
        return torch.rsqrt(ms + self.eps).unsqueeze(-1)

    def attention_rms(
        self, v: torch.Tensor, s: torch.Tensor, eps: torch.Tensor, batch: int, factor: float = 1.0
    ) -> torch.Tensor:
        """``factor`` / RMS [B, H, N, 1] of the attention's norm of each head's query, key or
        value, with the epsilon ``eps`` [B N] of each token."""
        wv, ws = self.head_widths
        ms = mean_square(v.reshape(-1, wv), s.reshape(-1, ws), self.att_norm, self.att_channels)
        if factor != 1.0:  # on [B N H] and [B N]: no scalar onto a unit axis
            ms, eps = ms * factor**-2, eps * factor**-2
        r = torch.rsqrt(ms.reshape(-1, self.heads) + eps.unsqueeze(-1))  # [B N, H]
        return heads_first(r, batch, self.heads)

    def forward(
        self, v: torch.Tensor, s: torch.Tensor, bias: torch.Tensor, batch: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Vector rows v [B N, 4 Cv], scalars s [B N, Cs] and the additive padding mask bias
        [B, 1, N, 1] -> (v, s) after the block."""
        # the attention normalizes its queries, keys and values (linear in the block's input,
        # no bias), so the block's first norm, x -> r x with r = (ms + eps)^-1/2, cancels in
        # them but for their epsilon: RMS(r y, eps') = r RMS(y, eps' (ms + eps))
        eps = (mean_square(v, s, self.norm, self.channels) + self.eps) * self.att_eps  # [B N]
        h = self.heads
        qv, kv, vv = (v.matmul(w) for w in (self.w_q_v, self.w_k_v, self.w_v_v))
        qs, ks, vs = (s.matmul(w) for w in (self.w_q_s, self.w_k_s, self.w_v_s))
        # the attention norm's scales multiply the scores and the weights, not the rows
        rq = self.attention_rms(qv, qs, eps, batch, self.scale)
        rk, rv = (self.attention_rms(a, b, eps, batch) for a, b in ((kv, ks), (vv, vs)))
        qv, kv, vv, qs, ks, vs = (heads_first(x, batch, h) for x in (qv, kv, vv, qs, ks, vs))
        # scores with keys along the rows, [B, H, N keys, N queries]: onnxruntime normalizes
        # over a non-last axis of 30 much faster than along rows of 30 (its Softmax)
        dots = kv.matmul(qv.transpose(-1, -2)) + ks.matmul(qs.transpose(-1, -2))
        scores = dots * (rk * rq.transpose(-1, -2)) + bias
        weights = torch.exp((scores - scores.amax(-2, keepdim=True)).clamp_min(EXP_FLOOR))
        weights = weights * (rv / weights.sum(-2, keepdim=True))
        weights = weights.transpose(-1, -2)
        v = v + tokens_first(weights.matmul(vv)).matmul(self.w_att_v)
        s = s + tokens_first(weights.matmul(vs)).matmul(self.w_att_s) + self.b_att_s
        r = self.rms(v, s)
        vn, sn = (v * r).reshape(-1, self.w_pre.shape[0]), s * r  # [B N 4, Cv]: per component
        pre = vn.matmul(self.w_pre).reshape(v.shape[0], -1)  # [B N, 4 hidden_v]
        gate = (vn.matmul(self.w_g1) * vn.matmul(self.w_g2)).reshape(v.shape[0], -1)
        gate = self.nonlinearity_v(gate.matmul(self.gate_metric))  # [B N, hidden_v]
        # the gate repeated for the four components by a matmul: onnxruntime broadcasts
        # [.., 1, C] onto [.., 4, C], or concatenates four copies, several times slower
        gated = (gate.matmul(self.gate_tile) * pre).reshape(-1, self.w_out_v.shape[0])
        v = v + gated.matmul(self.w_out_v).reshape(v.shape)
        glu = self.nonlinearity(sn.matmul(self.w_sgate) + self.b_sgate)
        s = s + (glu * (sn.matmul(self.w_spre) + self.b_spre)).matmul(self.w_out_s) + self.b_out_s
        return v, s


class FastDecoder(nn.Module):
    """Computes what :class:`hepvae.model.decoder.Decoder` computes (same call and output) with
    the folded formulation; built by :func:`fast_decoder`."""

    def __init__(self, decoder: Decoder, references: torch.Tensor) -> None:
        super().__init__()
        d = copy.deepcopy(decoder).double().eval()
        net = d.net.net
        if d.net.kind != "slim":
            raise ValueError("fast decoder: only the slim L-GATr is supported")
        refs = references.double()
        v_channels = net.linear_in._out_v_channels
        s_channels = net.linear_in._out_s_channels
        hidden = d.slots.shape[1]
        rows_v = vector_mask(1, 4 * v_channels, s_channels)

        def inputs(s: torch.Tensor) -> torch.Tensor:
            coeff = d.lift(s).unflatten(-1, (d.lift_channels, d.n_refs))
            vectors = torch.cat([coeff @ refs, refs.expand(s.shape[0], -1, -1)], dim=1)
            return join(*net.linear_in(vectors.transpose(-2, -1), s))

        def readout(x: torch.Tensor) -> torch.Tensor:
            v, s = net.linear_out(*split(x, v_channels))  # [K, 4, Cout], [K, Cs_out]
            heads = [d.gate(s)] + ([d.anchor(s)] if d.anchor_index is not None else [])
            return torch.cat([v.flatten(-2), *heads], -1)

        self.cond = copy.deepcopy(decoder.cond)
        w_in, slots = affine(inputs, hidden)[0], inputs(d.slots.detach()).float()
        w_read, b_read = affine(readout, 4 * v_channels + s_channels)
        c = self.readout_channels = d.gate.out_features
        read_v = vector_mask(1, 4 * c, w_read.shape[1] - 4 * c)
        w_read_v, w_read_s = stream_blocks(w_read, rows_v, read_v)
        if (b_read[read_v] != 0).any():
            raise ValueError("fast decoder: the readout has a vector bias")
        buffers = {
            "w_in_v": w_in[:, rows_v],
            "w_in_s": w_in[:, ~rows_v],
            "slots_v": slots[:, rows_v],
            "slots_s": slots[:, ~rows_v],
            "w_read_v": w_read_v,
            "w_read_s": w_read_s,
            "b_read_s": b_read[~read_v],
        }
        for name, value in buffers.items():
            self.register_buffer(name, value.contiguous())
        self.blocks = nn.ModuleList(FastBlock(b, v_channels, s_channels) for b in net.blocks)
        self.has_anchor = d.anchor_index is not None
        # the gated sum over the readout channels as two matmuls on rows, no broadcasts over
        # short axes: the gates [K, c] tiled onto the four components, the products summed per
        # component, and the anchor's softplus times its axis vector as one more row
        self.register_buffer("tile", torch.eye(c).repeat(1, 4))  # [c, 4c]
        combine = torch.kron(torch.eye(4), torch.ones(c, 1))  # [4c, 4]
        if self.has_anchor:
            axis = (refs[d.anchor_index[0]] + refs[d.anchor_index[1]]).float()
            combine = torch.cat([combine, axis[None]])
        self.register_buffer("combine", combine)
        self.register_buffer("references", references.float().clone())

    def vectors(self, cond: torch.Tensor, mask: torch.Tensor, refs: torch.Tensor) -> torch.Tensor:
        """Readout four-vectors [B, N, 4] (before the mass shell); ``refs`` must be the
        reference vectors the decoder was converted with (they are folded into the weights)."""
        b, n = mask.shape
        c = self.cond(cond)
        v = (c.matmul(self.w_in_v).unsqueeze(1) + self.slots_v[:n]).reshape(b * n, -1)
        s = (c.matmul(self.w_in_s).unsqueeze(1) + self.slots_s[:n]).reshape(b * n, -1)
        bias = torch.zeros_like(mask, dtype=cond.dtype).masked_fill(~mask, float("-inf"))
        bias = bias[:, None, :, None]  # on the keys
        for block in self.blocks:
            v, s = block(v, s, bias, b)
        gates = s.matmul(self.w_read_s) + self.b_read_s
        c = self.readout_channels
        products = v.matmul(self.w_read_v) * gates[:, :c].matmul(self.tile)
        if self.has_anchor:
            # on [B N], not [B N, 1]: onnxruntime compares with a scalar slowly there
            products = torch.cat([products, F.softplus(gates[:, c]).unsqueeze(-1)], -1)
        return products.matmul(self.combine).reshape(b, n, 4)

    def forward(self, cond: torch.Tensor, mask: torch.Tensor, refs: torch.Tensor) -> torch.Tensor:
        """Massless constituents [B, N, 4] in the canonical frame (model units)."""
        return on_mass_shell(self.vectors(cond, mask, refs))


def fast_decoder(decoder: Decoder, references: torch.Tensor) -> FastDecoder:
    """The inference-only :class:`FastDecoder` of a trained decoder, for the given reference
    vectors [R, 4] (``HyperVAE.references``)."""
    return FastDecoder(decoder, references).eval()


def fast_copy(vae: nn.Module) -> nn.Module:
    """A copy of a HyperVAE whose decoder is the inference-only :class:`FastDecoder` (for
    sampling only; the original is left untouched)."""
    fast = copy.copy(vae)
    fast._modules = dict(vae._modules)
    fast.decoder = fast_decoder(vae.decoder, vae.references(vae.prior_means))
    return fast
