"""Sparse attention layer (SAL): windowed multi-head self-attention fusing a dense and a sparse branch.

References:
    - Dual-attention Residual U-Net for brain ultrasound segmentation with CBAM and a sparse attention layer,
      arXiv:2505.17683 (2025); their code follows AST.
    - Zhou et al., "Adapt or Perish: Adaptive Sparse Transformer with Attentive Feature Refinement for Image
      Restoration" (AST), CVPR 2024: the ``ReLU(S)**2`` sparse branch fused with softmax by learned weights.
    - Chen et al., "Learning A Sparse Transformer Network for Effective Image Deraining" (DRSformer), CVPR 2023:
      top-k sparse attention with several learned-weighted ratios.
    - Liu et al., "Swin Transformer", ICCV 2021: windows and the relative position bias.
"""

from __future__ import annotations

import math
from typing import List, Sequence, Union

import torch
import torch.nn.functional as F
from monai.utils import look_up_option
from torch import nn

from .utils import ensure_tuple_dims
from .windows import effective_window, window_padding, window_partition, window_reverse

__all__ = ["SparseAttentionLayer", "SPARSE_MODES", "SPARSE_NORMS", "ATTENTION_KINDS"]

SPARSE_MODES = ("relu2", "topk")
SPARSE_NORMS = ("none", "sum")
ATTENTION_KINDS = ("sal", "dense")
_MASKED: float = -1.0e4  # finite (fp16-safe) logit for padded keys: softmax gives 0, ReLU gives 0


class SparseAttentionLayer(nn.Module):
    """Windowed self-attention with a dense softmax branch and a sparse branch, fused by learned weights.

    For tokens ``x`` in a window: ``S = q k^T / sqrt(d) + B`` (``B`` a learned relative-position bias),
    ``A = w1 * softmax(S) + w2 * sparse(S)`` with ``(w1, w2) = softmax(fusion_logits)`` (0.5/0.5 at start), and
    the output ``x + proj(A v)``. Pre-LayerNorm; windows of 8 x 8 (x 8) that shrink to the feature map when the
    map is smaller (global attention at a small bottleneck); any spatial size, padded internally to whole
    windows with padded keys masked out.

    Sparse branch:
        - ``"relu2"`` (default, the authors' choice, from AST): ``ReLU(S) ** 2``; every pair with a non-positive
          logit gets exactly zero weight. Unnormalised, as in AST (``sparse_norm="none"``): a query's weights
          can sum to far more than 1 (hundreds of keys with logits of a few units), so ``A v`` grows with the
          window and the logits and can pass float16's maximum (65,504) under AMP. ``sparse_norm="sum"``
          divides each query's weights by their sum, ``ReLU(S)^2 / sum_k ReLU(S)^2`` (all zero where every
          logit is non-positive): the weights are convex, so the branch output stays within the range of ``v``
          whatever the logits, and half precision can hold it. It is computed as
          ``(ReLU(S) / m)^2 / sum_k (ReLU(S) / m)^2`` with ``m`` the row's largest logit, which is the same
          value but never squares a large number (exact, no epsilon: the row's largest term is 1).
        - ``"topk"`` (DRSformer): per query keep the ``ceil(r * N)`` largest logits (``N`` keys in the window),
          mask the rest, softmax; with several ratios ``r`` the results are mixed by softmax-normalised
          learned weights.

    With ``kind="dense"`` the layer is plain windowed softmax attention (the sparse branch and fusion weights
    are absent), the "dense" ablation.

    Args:
        spatial_dims: number of spatial dimensions.
        channels: channels of the input (the token width); must be divisible by ``num_heads``.
        num_heads: attention heads.
        window_size: window size, an int or one per axis.
        sparse_mode: ``"relu2"`` or ``"topk"``.
        sparse_norm: ``"none"`` (the authors' unnormalised ``ReLU(S)^2``) or ``"sum"`` (each query's ``ReLU(S)^2``
            weights divided by their sum: float16-safe, see above). Applies to ``"relu2"``; ``"topk"`` is a
            softmax, already normalised, and requires ``"none"``.
        topk_ratios: ratios in (0, 1] of the window's keys kept per query, for ``"topk"``.
        kind: ``"sal"`` (dense + sparse) or ``"dense"`` (softmax only).
        qkv_bias: bias of the query/key/value projection.
        dropout: dropout on the attention weights and the output projection.

    Example:
        >>> sal = SparseAttentionLayer(2, 32, num_heads=8, window_size=8)
        >>> sal(torch.rand(2, 32, 20, 24)).shape
        torch.Size([2, 32, 20, 24])
    """

    def __init__(
        self,
        spatial_dims: int,
        channels: int,
        *,
        num_heads: int = 8,
        window_size: Union[Sequence[int], int] = 8,
        sparse_mode: str = "relu2",
        sparse_norm: str = "none",
        topk_ratios: Sequence[float] = (0.5,),
        kind: str = "sal",
        qkv_bias: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if num_heads < 1 or channels % num_heads != 0:
            raise ValueError(
                f"channels ({channels}) must be divisible by num_heads ({num_heads!r}); pick num_heads from the "
                f"divisors of {channels}."
            )
        self.kind = look_up_option(kind, ATTENTION_KINDS)
        self.sparse_mode = look_up_option(sparse_mode, SPARSE_MODES)
        self.sparse_norm = look_up_option(sparse_norm, SPARSE_NORMS)
        if self.sparse_mode == "topk" and self.sparse_norm != "none":
            raise ValueError(
                f"sparse_norm={sparse_norm!r} applies to sparse_mode='relu2' only; 'topk' is a softmax (already "
                "normalised): use sparse_norm='none'."
            )
        ratios = [float(r) for r in topk_ratios]
        if len(ratios) == 0 or any(not (0.0 < r <= 1.0) for r in ratios):
            raise ValueError(f"topk_ratios must be a non-empty sequence of numbers in (0, 1], got {topk_ratios!r}.")
        self.topk_ratios: List[float] = ratios
        self.window: List[int] = list(ensure_tuple_dims(window_size, spatial_dims, "window_size"))
        self.spatial_dims = spatial_dims
        self.num_heads = num_heads
        self.scale = (channels // num_heads) ** -0.5
        self.masked_logit = _MASKED

        self.norm = nn.LayerNorm(channels)
        self.qkv = nn.Linear(channels, 3 * channels, bias=qkv_bias)
        self.proj = nn.Linear(channels, channels)
        self.attn_drop = nn.Dropout(dropout)
        self.proj_drop = nn.Dropout(dropout)
        table = 1
        for w in self.window:
            table *= 2 * w - 1
        self.relative_position_bias = nn.Parameter(torch.zeros(table, num_heads))
        nn.init.trunc_normal_(self.relative_position_bias, std=0.02)
        # Learned fusion of the dense and sparse branches: softmax([0, 0]) = (0.5, 0.5) at start. Settings that
        # do not use a weight keep it as a constant buffer, so no parameter goes unused (DDP needs that).
        if self.kind == "sal":
            self.fusion_logits = nn.Parameter(torch.zeros(2))
        else:
            self.register_buffer("fusion_logits", torch.zeros(1), persistent=False)
        # learned mixing of several top-k ratios (DRSformer)
        if self.kind == "sal" and self.sparse_mode == "topk" and len(ratios) > 1:
            self.topk_logits = nn.Parameter(torch.zeros(len(ratios)))
        else:
            self.register_buffer("topk_logits", torch.zeros(1), persistent=False)

    def fusion_weights(self) -> torch.Tensor:
        """The dense and sparse branch weights ``(w1, w2)``: a softmax over two learned scalars."""
        return torch.softmax(self.fusion_logits, dim=0)

    def position_bias(self, window: List[int]) -> torch.Tensor:
        """Relative position bias ``(heads, N, N)`` for a (possibly shrunk) window of the given size."""
        device = self.relative_position_bias.device
        axes = [torch.arange(w, device=device) for w in window]
        coords = torch.stack(torch.meshgrid(axes, indexing="ij")).flatten(1)  # (d, N)
        rel = coords[:, :, None] - coords[:, None, :]  # (d, N, N)
        index = torch.zeros_like(rel[0])
        for i in range(len(window)):
            index = index * (2 * self.window[i] - 1) + rel[i] + (self.window[i] - 1)
        n = coords.shape[1]
        return self.relative_position_bias[index.reshape(-1)].reshape(n, n, -1).permute(2, 0, 1)

    def sparse_branch(self, logits: torch.Tensor) -> torch.Tensor:
        """Sparse attention weights from logits ``(..., N_query, N_key)``."""
        if self.sparse_mode == "relu2":
            if self.sparse_norm == "none":
                return torch.relu(logits) ** 2
            # ReLU(S)^2 / sum ReLU(S)^2, scaled by the row maximum first (scale-invariant, so the max is detached:
            # same value and gradient) so no large number is squared; the largest term is then exactly 1, the sum
            # >= 1 and clamp_min(1) only guards the all-zero row (every logit <= 0: zero weights).
            r = torch.relu(logits)
            m = torch.amax(r, dim=-1, keepdim=True).detach()
            r = r / torch.where(m > 0, m, torch.ones_like(m))
            r = r * r
            return r / torch.sum(r, dim=-1, keepdim=True).clamp_min(1.0)
        n_keys = logits.shape[-1]
        mix = torch.softmax(self.topk_logits, dim=0)
        out = torch.zeros_like(logits)
        for i, ratio in enumerate(self.topk_ratios):
            k = max(1, min(n_keys, int(math.ceil(ratio * n_keys - 1e-6))))
            kth = torch.topk(logits, k, dim=-1).values[..., -1:]
            kept = logits.masked_fill(logits < kth, self.masked_logit)
            out = out + mix[min(i, mix.shape[0] - 1)] * torch.softmax(kept, dim=-1)
        return out

    def attention_weights(self, logits: torch.Tensor) -> torch.Tensor:
        """Fused attention weights from logits: dense softmax, plus the weighted sparse branch for ``"sal"``."""
        dense = torch.softmax(logits, dim=-1)
        if self.kind == "dense":
            return dense
        w = self.fusion_weights()
        return w[0] * dense + w[1] * self.sparse_branch(logits)

    def attend(self, logits: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Attention output ``(..., N, d)``; equals ``attention_weights(logits) @ v`` without dropout.

        Each branch multiplies ``v`` on its own and the small ``(N, d)`` results are mixed, so the weighted sum of
        the two ``N x N`` maps is never materialised (three fewer passes over the largest tensors).
        """
        dense = self.attn_drop(torch.softmax(logits, dim=-1)) @ v
        if self.kind == "dense":
            return dense
        w = self.fusion_weights()
        return w[0] * dense + w[1] * (self.attn_drop(self.sparse_branch(logits)) @ v)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c = x.shape[0], x.shape[1]
        spatial: List[int] = list(x.shape[2:])
        window = effective_window(spatial, self.window)
        pad = window_padding(spatial, window)
        padded = [s + p for s, p in zip(spatial, pad)]
        needs_pad = sum(pad) > 0
        pad_arg: List[int] = []
        for p in pad[::-1]:  # F.pad takes the last axis first
            pad_arg += [0, p]
        h = F.pad(x, pad_arg) if needs_pad else x

        tokens = self.norm(window_partition(h, window))  # (B*nW, N, C)
        bw, n = tokens.shape[0], tokens.shape[1]
        qkv = self.qkv(tokens).reshape(bw, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # (B*nW, heads, N, d)
        logits = (q * self.scale) @ k.transpose(-2, -1) + self.position_bias(window).unsqueeze(0)
        if needs_pad:
            valid = F.pad(torch.ones([1, 1] + spatial, device=x.device, dtype=x.dtype), pad_arg)
            invalid_key = window_partition(valid, window)[:, :, 0] < 0.5  # (nW, N)
            n_win = invalid_key.shape[0]
            logits = logits.reshape(b, n_win, self.num_heads, n, n)
            logits = logits.masked_fill(invalid_key[None, :, None, None, :], self.masked_logit).reshape(
                bw, self.num_heads, n, n
            )
        out = self.attend(logits, v).transpose(1, 2).reshape(bw, n, c)
        out = self.proj_drop(self.proj(out))
        out = window_reverse(out, window, padded, b)
        if needs_pad:
            out = _crop(out, spatial)
        return x + out


def _crop(x: torch.Tensor, spatial: List[int]) -> torch.Tensor:
    """Crop ``(B, C, *padded)`` back to ``(B, C, *spatial)`` from the start of every axis."""
    for i, s in enumerate(spatial):
        x = x.narrow(2 + i, 0, s)
    return x
