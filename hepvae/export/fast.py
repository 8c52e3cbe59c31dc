"""An inference-only formulation of the decoder for the exported sampler: same weights, same
math, far fewer kernels.

The decoder's ``LGATrSlim`` keeps vectors [.., 4, C] and scalars [.., C] apart and runs every
per-channel map, Minkowski product and RMS norm as its own chain of small element-wise kernels.
Here each token is one row of ``[4 * Cv + Cs]`` numbers (the vector channels component-major,
as ``LGATrSlim`` stores them inside, then the scalars), so that:

- the attention's equivariant linear maps are one dense matmul over that row each (the vector
  part is the per-channel map repeated over the four components), the MLP's are matmuls over
  the channels of each stream (vectors as [B N 4, Cv]); the norms' gains, the Minkowski
  metric of the attention queries and the GLU's factor 1/2 are folded into the weights;
- the Minkowski squares of the RMS norms are one matmul with a constant matrix;
- the decoder's input (the lift onto the reference vectors, which are constants, and the first
  linear layer) is one per-jet matmul plus a per-slot constant table, and its readout (last
  linear layer, gates and anchor) is one matmul;
- attention is plain scaled dot-product attention with an additive padding mask, its softmax
  written out over the keys' axis.

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


def norm_matrix(v_channels: int, s_channels: int) -> torch.Tensor:
    """[4 Cv + Cs, Cv + 1]: squared row -> per-channel Minkowski squares and the scalars' sum,
    each divided by the number of channels (the mean of an RMS norm)."""
    g = torch.zeros(4 * v_channels + s_channels, v_channels + 1)
    for a, sign in enumerate(METRIC):
        g[a * v_channels : (a + 1) * v_channels, :v_channels] = sign * torch.eye(v_channels)
    g[4 * v_channels :, v_channels] = 1.0
    return g / (v_channels + s_channels)


def rms_scale(x: torch.Tensor, matrix: torch.Tensor, eps: float) -> torch.Tensor:
    """1 / RMS of rows x [.., F] as ``SlimRMSNorm`` takes it (|Minkowski square| per vector
    channel), shape [.., 1]."""
    # eps is added before the trailing unit axis: onnxruntime broadcasts a scalar onto a
    # [.., 1] tensor about thirty times slower than onto [..]
    return torch.rsqrt((x * x).matmul(matrix).abs().sum(-1) + eps).unsqueeze(-1)


class FastBlock(nn.Module):
    """One ``SlimBlock`` (RMS norm, attention, residual; RMS norm, GLU, linear, residual)."""

    def __init__(self, block: nn.Module, v_channels: int, s_channels: int) -> None:
        super().__init__()
        att = block.attention
        if len(block.mlp.layers) != 2 or att.dropout is not None:
            raise ValueError("fast decoder: only 2-layer MLPs without dropout are supported")
        self.heads, hv, hs = att.num_heads, att.hidden_v_channels, att.hidden_s_channels
        self.head_dim = 4 * hv + hs
        self.eps, self.att_eps = block.norm1.epsilon, att.norm.epsilon
        width = 4 * v_channels + s_channels
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
            x = x.unflatten(-1, (self.heads, self.head_dim))  # [K, H, 4 hv + hs]
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

        # the MLP keeps its vector and scalar streams apart: a dense matmul over the whole
        # row would multiply 3/4 zeros in the vector part (per-channel maps repeat over the
        # four components)
        n2 = block.norm2
        w_gv = affine(vector_part(glu.linear, n2.weight_v), v_channels)[0]
        w_gs, b_gs = affine(scalar_part(glu.linear, n2.weight_s), s_channels)
        hidden_s = b_gs.shape[0] // 2
        gate_metric = torch.kron(0.5 * metric.float()[:, None], torch.eye(hidden_v))
        buffers = {
            "w_qkv": affine(qkv, width)[0],
            **dict(zip(("w_att", "b_att"), affine(attention_out, (4 * hv + hs) * self.heads))),
            **dict(zip(("w_pre", "w_g1", "w_g2"), w_gv.split(hidden_v, dim=1))),
            "gate_metric": gate_metric,
            **dict(zip(("w_spre", "w_sgate"), w_gs.split(hidden_s, dim=1))),
            **dict(zip(("b_spre", "b_sgate"), b_gs.split(hidden_s))),
            "w_out_v": affine(vector_part(out), hidden_v)[0],
            **dict(zip(("w_out_s", "b_out_s"), affine(scalar_part(out), hidden_s))),
            "norm": norm_matrix(v_channels, s_channels),
            "att_norm": norm_matrix(hv, hs),
        }
        for name, value in buffers.items():
            self.register_buffer(name, value.contiguous())
        self.sizes = [4 * v_channels, s_channels]
        self.nonlinearity = glu.nonlinearity
        self.nonlinearity_v = glu.nonlinearity_v

    def forward(self, h: torch.Tensor, bias: torch.Tensor, batch: int) -> torch.Tensor:
        """Rows h [B N, F] and the additive padding mask bias [B, 1, N, 1] -> rows [B N, F]."""
        qkv = (h * rms_scale(h, self.norm, self.eps)).matmul(self.w_qkv)
        qkv = qkv.reshape(-1, 3 * self.heads, self.head_dim)
        qkv = qkv * rms_scale(qkv, self.att_norm, self.att_eps)
        q, k, v = qkv.reshape(batch, -1, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        # scores with keys along the rows, [B, H, N keys, N queries]: onnxruntime normalizes
        # over a non-last axis of 30 much faster than along rows of 30 (its Softmax)
        scores = k.matmul(q.transpose(-1, -2)) * self.head_dim**-0.5 + bias
        weights = torch.exp((scores - scores.amax(-2, keepdim=True)).clamp_min(EXP_FLOOR))
        weights = weights / weights.sum(-2, keepdim=True)
        att = weights.transpose(-1, -2).matmul(v).transpose(1, 2).reshape(h.shape[0], -1)
        h = h + att.matmul(self.w_att) + self.b_att
        v, s = (h * rms_scale(h, self.norm, self.eps)).split(self.sizes, dim=-1)
        v = v.reshape(-1, self.w_pre.shape[0])  # [B N 4, Cv]: one row per vector component
        pre = v.matmul(self.w_pre).reshape(h.shape[0], 4, -1)
        gate = (v.matmul(self.w_g1) * v.matmul(self.w_g2)).reshape(h.shape[0], -1)
        gate = self.nonlinearity_v(gate.matmul(self.gate_metric)).unsqueeze(1)
        v = (gate * pre).reshape(-1, pre.shape[-1]).matmul(self.w_out_v)
        s = self.nonlinearity(s.matmul(self.w_sgate) + self.b_sgate) * (
            s.matmul(self.w_spre) + self.b_spre
        )
        return h + torch.cat([v.reshape(h.shape[0], -1), s.matmul(self.w_out_s) + self.b_out_s], -1)


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

        def inputs(s: torch.Tensor) -> torch.Tensor:
            coeff = d.lift(s).unflatten(-1, (d.lift_channels, d.n_refs))
            vectors = torch.cat([coeff @ refs, refs.expand(s.shape[0], -1, -1)], dim=1)
            return join(*net.linear_in(vectors.transpose(-2, -1), s))

        def readout(x: torch.Tensor) -> torch.Tensor:
            v, s = net.linear_out(*split(x, v_channels))  # [K, 4, Cout], [K, Cs_out]
            heads = [d.gate(s)] + ([d.anchor(s)] if d.anchor_index is not None else [])
            return torch.cat([v.flatten(-2), *heads], -1)

        self.cond = copy.deepcopy(decoder.cond)
        self.register_buffer("w_in", affine(inputs, hidden)[0])
        self.register_buffer("slot_rows", inputs(d.slots.detach()).float().contiguous())
        self.blocks = nn.ModuleList(FastBlock(b, v_channels, s_channels) for b in net.blocks)
        w_read, b_read = affine(readout, 4 * v_channels + s_channels)
        self.register_buffer("w_read", w_read)
        self.register_buffer("b_read", b_read)
        c = self.readout_channels = d.gate.out_features
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
        h = self.cond(cond).matmul(self.w_in).unsqueeze(1) + self.slot_rows[:n]
        h = h.reshape(b * n, -1)
        bias = torch.zeros_like(mask, dtype=cond.dtype).masked_fill(~mask, float("-inf"))
        bias = bias[:, None, :, None]  # on the keys
        for block in self.blocks:
            h = block(h, bias, b)
        y = h.matmul(self.w_read) + self.b_read
        c = self.readout_channels
        products = y[:, : 4 * c] * y[:, 4 * c : 5 * c].matmul(self.tile)
        if self.has_anchor:
            products = torch.cat([products, F.softplus(y[:, 5 * c :])], -1)
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
