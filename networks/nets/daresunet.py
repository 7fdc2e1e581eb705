"""Dual-attention Residual U-Net (CBAM + sparse attention layer) and its relatives as settings of one network.

References:
    - Dual-attention Residual U-Net with CBAM and a sparse attention layer (SAL) for brain ultrasound
      segmentation, arXiv:2505.17683 (2025): ventricles in brain ultrasound, Dice 89.04 / IoU 81.84 (private data).
    - Woo et al., "CBAM: Convolutional Block Attention Module", ECCV 2018.
    - Zhou et al., "Adapt or Perish: Adaptive Sparse Transformer ..." (AST), CVPR 2024 (the SAL's sparse branch).
    - Zhang, Liu and Wang, "Road Extraction by Deep Residual U-Net", IEEE GRSL 2018 (the plain ResUNet).
    - Hu, Shen and Sun, "Squeeze-and-Excitation Networks", CVPR 2018; channel + spatial recalibration residual
      U-Net (CSR-Unet) for subdural/epidural haematoma on head CT.
    - Oktay et al., "Attention U-Net: Learning Where to Look for the Pancreas", MIDL 2018 (skip attention gates).
"""

from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from monai.networks.blocks import Convolution
from monai.networks.layers.factories import Conv
from monai.networks.nets.attentionunet import AttentionBlock
from monai.utils import look_up_option
from torch import nn

from ..blocks.full_resolution import space_to_depth
from ..blocks.residual import ResidualBlock
from ..blocks.skip_refinement import CHANNEL_ATTENTIONS, channel_spatial_attention
from ..blocks.sparse_attention import SPARSE_MODES, SPARSE_NORMS, SparseAttentionLayer
from ..blocks.utils import check_odd_kernel, ensure_tuple_dims

__all__ = ["DAResUNet", "PRESETS", "VARIANTS", "DAResUnet", "DualAttentionResUNet"]

#: Presets: each relative of the dual-attention network is one ``variant=`` setting away. Explicit arguments
#: override the preset's values.
VARIANTS: Dict[str, Dict[str, Union[str, bool]]] = {
    "dual_attention": {"attention": "cbam", "spatial_attention": True, "self_attention": "sal", "skip_gates": False},
    "resunet": {"attention": "none", "spatial_attention": False, "self_attention": "none", "skip_gates": False},
    "csr_unet": {"attention": "se", "spatial_attention": True, "self_attention": "none", "skip_gates": False},
    "attention_gated": {"attention": "none", "spatial_attention": False, "self_attention": "none", "skip_gates": True},
}
#: Cost presets, orthogonal to ``variant`` (which attention): the resolution of each level, the decoder block,
#: the full-resolution path and the sparse branch's scaling. Explicit arguments override a preset's values.
PRESETS: Dict[str, Dict[str, str]] = {
    "faithful": {"stride_layout": "levels", "decoder_block": "residual", "full_res_channels": "0",
                 "sparse_norm": "none"},
    "efficient": {"stride_layout": "unet", "decoder_block": "conv", "full_res_channels": "channels[0] // 2",
                  "sparse_norm": "sum"},
}  # fmt: skip
_SELF_ATTENTIONS = ("sal", "dense", "none")
_STRIDE_LAYOUTS = ("levels", "unet")
_DECODER_BLOCKS = ("residual", "conv")
_PLACEMENTS = ("skip", "residual")


@torch.jit.unused
def _graph_capture() -> bool:
    """Whether an exporter or compiler is capturing the graph (shapes may be symbolic: skip eager checks)."""
    return bool(torch.compiler.is_compiling() or torch.onnx.is_in_onnx_export() or torch.jit.is_tracing())


class _NoGate(nn.Module):
    """Pass-through stand-in for an attention gate: returns the skip unchanged (keeps forward scriptable)."""

    def forward(self, g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return x


class _DecoderLevel(nn.Module):
    """Transposed-conv up-sampling, optional attention gate on the skip, concatenation (with the input image on
    the coarse grid, at the top level of the efficient preset), one residual block or convolution."""

    def __init__(self, up: nn.Module, gate: nn.Module, block: nn.Module) -> None:
        super().__init__()
        self.up = up
        self.gate = gate
        self.block = block

    def forward(self, x: torch.Tensor, skip: torch.Tensor, image: Optional[torch.Tensor] = None) -> torch.Tensor:
        up = self.up(x)
        parts = [up, self.gate(up, skip)]
        if image is not None:
            parts.append(image)
        return self.block(torch.cat(parts, dim=1))


class DAResUNet(nn.Module):
    """Dual-attention Residual U-Net: residual encoder whose every level's output is refined by CBAM then a
    sparse attention layer (SAL); the refined map is the skip connection (and, at the bottleneck, the decoder's
    input). The decoder up-samples by transposed convolution, concatenates the skip and applies one residual
    block per level; a 1x1 convolution gives the logits.

    Unlike the authors' published code, which builds CBAM and SAL inside ``forward`` (fresh random weights on
    every call, so they never train), every module here is registered once and trained.

    Relatives are settings of this one network (``variant=`` presets, or the individual arguments):

    ============================  ==========================================================================
    ``variant``                   network
    ============================  ==========================================================================
    ``"dual_attention"`` default  ResUNet + CBAM + SAL on every skip (arXiv:2505.17683)
    ``"resunet"``                 plain residual U-Net (Zhang et al., 2018), the ablation baseline
    ``"csr_unet"``                SE channel + spatial attention on the skips (CSR-Unet, SDH/EDH on head CT);
                                  add ``attention_placement="residual"`` to put it inside every residual block
    ``"attention_gated"``         additive attention gates on the skips (Oktay et al., 2018)
    ============================  ==========================================================================

    Cost presets (``preset=``), orthogonal to ``variant``:

    - ``"faithful"`` (default): the published layout, every level at the resolution of ``strides`` with the first
      at full resolution, residual decoder blocks, and the authors' unnormalised sparse branch. The exactness and
      parameter-count tests pin it.
    - ``"efficient"``: every level at the resolution MONAI ``UNet`` gives it for the same ``channels`` and
      ``strides`` (``stride_layout="unet"``: the first level strided by ``strides[0]``, the deepest at the
      resolution of the one above; same total stride as ``"faithful"``), so no residual level, CBAM or SAL runs
      at the input size; one convolution per decoder level (``decoder_block="conv"``); the input image,
      rearranged losslessly onto the first level's grid (:func:`~cranialseg.networks.blocks.space_to_depth`),
      joins the top decoder level's concatenation and a transposed convolution brings ``channels[0] // 2``
      features to the input size for the head (``full_res_channels``), so each voxel's logits see its own
      intensity; the sparse branch normalised (``sparse_norm="sum"``, float16-safe). The encoder's residual
      blocks, CBAM and SAL are unchanged. Measured in ``scripts/benchmark_training.py`` against MONAI ``UNet``
      with the same channels and strides. Weights of one preset do not load into the other.

    Extra heads, read through :meth:`forward_with_heads` (``forward`` always returns the segmentation logits,
    so inferers, TorchScript, ``ckpt_export`` and ONNX see one tensor):

    - ``num_image_classes > 0``: image-level logits ``(B, K)`` from average- and max-pooled bottleneck features
      (the deepest encoder output, before its skip refinement), for lesion present / lesion type, supervised next
      to the mask as in CSR-Unet and DualAttNet (see :class:`cranialseg.losses.SegmentationPresenceLoss`).
    - ``deep_supervision=True``: logits of the lower decoder levels, up-sampled to the input size and stacked
      with the main output, ``(B, 1 + L, out_channels, *spatial)``, index 0 the main output (as MONAI DynUNet).

    Args:
        spatial_dims: 1, 2 or 3.
        in_channels: input channels (e.g. 1 for grey ultrasound, 3 for three CT windows).
        out_channels: output channels (classes including background).
        channels: feature channels per level, e.g. ``(16, 32, 64, 128, 256)``.
        strides: down-sampling between consecutive levels (``len(channels) - 1`` entries), each an int or one
            per axis, e.g. ``[[2, 2, 1], [2, 2, 2], ...]`` for thick CT slices.
        input_stride: down-sampling of the first level (int or per axis) with ``stride_layout="levels"``; ``None``
            means 1 (it must stay ``None`` with ``"unet"``, where ``strides[0]`` is the first level's). 1: every
            level then runs at the resolution of ``strides``, the first at full resolution, as in the authors'
            network. 2 runs the
            first level at half resolution, as MONAI ``UNet`` does (its first level is strided), and a transposed
            convolution (kernel = stride) brings the features back to the input size before the 1x1 head: about
            4x (2D) / 8x (3D) less work per level for coarser boundary detail, the lean setting for CPU
            deployment (``scripts/benchmark_networks.py``). It multiplies the total stride.
        stride_layout: ``"levels"`` (``strides`` between consecutive levels, the first level at ``input_stride``)
            or ``"unet"`` (MONAI ``UNet``'s reading: ``strides[i]`` down-samples into level ``i``, the deepest
            level keeps the resolution of the one above); ``None``: the preset's.
        decoder_block: ``"residual"`` (a residual block per decoder level, the authors') or ``"conv"`` (one
            convolution-norm-activation; with ``attention_placement="residual"`` the attention then sits in the
            encoder's blocks only); ``None``: the preset's.
        full_res_channels: > 0 fuses the input image (space-to-depth onto the first level's grid) into the top
            decoder level and restores ``full_res_channels`` features at the input size for the head; 0: no
            image fusion (a strided first level is restored to ``channels[0]``); ``None``: the preset's (0 for
            ``"faithful"``, ``channels[0] // 2`` for ``"efficient"``).
        preset: ``"faithful"`` or ``"efficient"`` (see above); explicit arguments override its values.
        kernel_size: odd convolution kernel, int or per axis.
        num_res_units: residual blocks per encoder level (the first one strided).
        act: activation, MONAI ``Act`` name or ``(name, args)``.
        norm: normalisation, MONAI ``Norm`` name or ``(name, args)``.
        dropout: dropout rate in the convolution blocks.
        variant: preset of the four settings below (see the table).
        attention: channel attention, ``"cbam"`` | ``"se"`` | ``"none"``.
        spatial_attention: add CBAM's spatial attention after the channel attention.
        attention_placement: ``"skip"`` (refine each encoder level's output, the authors' placement) or
            ``"residual"`` (inside every residual block's branch, encoder and decoder).
        reduction: channel-attention MLP reduction ratio.
        spatial_kernel_size: spatial-attention kernel (int or per axis, odd), 7 by default.
        self_attention: ``"sal"`` (dense + sparse), ``"dense"`` (windowed softmax attention) or ``"none"``.
        sal_levels: encoder levels (0 = full resolution) that get self-attention. ``None``: every level in 1D and
            2D (the authors' 2D network); in 3D the levels from 2 (1/4 resolution) down, because 512-token
            windows at full resolution need tens of GB for a 96^3 input (about 72 GB measured by the estimate in
            ``scripts/benchmark_networks.py``). Pass ``range(len(channels))`` to force every level in 3D.
        window_size: attention window, int or per axis; it shrinks to the map where the map is smaller.
        num_heads: attention heads, one number for every level or one per level (e.g. ``(1, 2, 4, 8, 8)``, as
            Swin grows its heads with the width); capped at the level's channels, which it must divide. Fewer
            heads at full resolution make SAL several times cheaper (``scripts/benchmark_networks.py``).
        sparse_mode: ``"relu2"`` (ReLU(S)^2, the authors') or ``"topk"``.
        sparse_norm: ``"none"`` (the authors' unnormalised ReLU(S)^2) or ``"sum"`` (each query's ReLU(S)^2 weights
            divided by their sum, so the branch output stays within the range of the values: float16-safe under
            AMP, where the unnormalised branch of the CT network overflows; see
            :class:`~cranialseg.networks.blocks.SparseAttentionLayer`). No parameters either way. ``None``: the
            preset's.
        topk_ratios: kept fraction(s) of keys per query for ``"topk"``.
        skip_gates: additive attention gates on the skips.
        deep_supervision: also produce the lower decoder levels' logits (see :meth:`forward_with_heads`).
        num_image_classes: size of the image-level head, 0 for none.

    Raises:
        ValueError: for inconsistent settings; ``forward`` raises for an input whose spatial size is not a
            multiple of the total stride (naming the axis and the nearest valid sizes).

    Example:
        >>> net = DAResUNet(2, 1, 3)  # dual-attention default, 16-32-64-128-256
        >>> net(torch.rand(2, 1, 128, 96)).shape
        torch.Size([2, 3, 128, 96])
        >>> ct = DAResUNet(3, 3, 6, channels=(16, 32, 64, 128), strides=[[2, 2, 1], [2, 2, 2], [2, 2, 2]],
        ...                sal_levels=(2, 3), num_image_classes=5)
        >>> heads = ct.forward_with_heads(torch.rand(1, 3, 64, 64, 16))
        >>> heads["seg"].shape, heads["image"].shape
        (torch.Size([1, 6, 64, 64, 16]), torch.Size([1, 5]))
        >>> fast = DAResUNet(3, 3, 6, channels=(16, 32, 64, 128), strides=[[2, 2, 1], [2, 2, 2], [2, 2, 2]],
        ...                  sal_levels=(2, 3), num_image_classes=4, preset="efficient")
        >>> fast.total_stride, fast(torch.rand(1, 3, 64, 64, 16)).shape
        ([8, 8, 4], torch.Size([1, 6, 64, 64, 16]))
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        *,
        channels: Sequence[int] = (16, 32, 64, 128, 256),
        strides: Sequence[Union[Sequence[int], int]] = (2, 2, 2, 2),
        input_stride: Optional[Union[Sequence[int], int]] = None,
        stride_layout: Optional[str] = None,
        decoder_block: Optional[str] = None,
        full_res_channels: Optional[int] = None,
        preset: str = "faithful",
        kernel_size: Union[Sequence[int], int] = 3,
        num_res_units: int = 1,
        act: Union[tuple, str] = ("leakyrelu", {"negative_slope": 0.01}),
        norm: Union[tuple, str] = ("instance", {"affine": True}),
        dropout: float = 0.0,
        variant: str = "dual_attention",
        attention: Optional[str] = None,
        spatial_attention: Optional[bool] = None,
        attention_placement: str = "skip",
        reduction: int = 8,
        spatial_kernel_size: Union[Sequence[int], int] = 7,
        self_attention: Optional[str] = None,
        sal_levels: Optional[Sequence[int]] = None,
        window_size: Union[Sequence[int], int] = 8,
        num_heads: Union[Sequence[int], int] = 8,
        sparse_mode: str = "relu2",
        sparse_norm: Optional[str] = None,
        topk_ratios: Sequence[float] = (0.5,),
        skip_gates: Optional[bool] = None,
        deep_supervision: bool = False,
        num_image_classes: int = 0,
    ) -> None:
        super().__init__()
        if spatial_dims not in (1, 2, 3):
            raise ValueError(f"spatial_dims must be 1, 2 or 3, got {spatial_dims!r}.")
        if len(channels) < 2:
            raise ValueError(f"channels needs at least two levels, got {tuple(channels)!r}.")
        if len(strides) != len(channels) - 1:
            raise ValueError(
                f"strides needs len(channels) - 1 = {len(channels) - 1} entries (one per down-sampling), got "
                f"{len(strides)}: channels={tuple(channels)!r}, strides={list(strides)!r}."
            )
        if num_res_units < 1:
            raise ValueError(f"num_res_units must be at least 1, got {num_res_units!r}.")
        if num_image_classes < 0:
            raise ValueError(f"num_image_classes must be >= 0, got {num_image_classes!r}.")
        family = look_up_option(variant, VARIANTS)  # the variant dict; a typo gets "did you mean"
        attention = look_up_option(attention if attention is not None else family["attention"], CHANNEL_ATTENTIONS)
        spatial_attention = bool(family["spatial_attention"] if spatial_attention is None else spatial_attention)
        self_attention = look_up_option(
            self_attention if self_attention is not None else family["self_attention"], _SELF_ATTENTIONS
        )
        skip_gates = bool(family["skip_gates"] if skip_gates is None else skip_gates)
        placement = look_up_option(attention_placement, _PLACEMENTS)
        look_up_option(sparse_mode, SPARSE_MODES)
        efficient = look_up_option(preset, tuple(PRESETS)) == "efficient"
        layout = look_up_option(stride_layout if stride_layout is not None else ("unet" if efficient else "levels"),
                                _STRIDE_LAYOUTS)  # fmt: skip
        decoder_kind = look_up_option(
            decoder_block if decoder_block is not None else ("conv" if efficient else "residual"), _DECODER_BLOCKS
        )
        if layout == "unet":
            if input_stride is not None:
                raise ValueError(
                    f"input_stride={input_stride!r} cannot be combined with stride_layout='unet', where strides[0] "
                    "is the first level's stride; leave input_stride unset or use stride_layout='levels'."
                )
            # MONAI UNet's reading: strides[i] down-samples into level i, the deepest level keeps the resolution
            # of the one above (UNet's bottom unit); the total stride is unchanged
            input_stride = strides[0]
            strides = list(strides[1:]) + [1]
        if input_stride is None:
            input_stride = 1
        if full_res_channels is None:
            full_res_channels = max(1, int(channels[0]) // 2) if efficient else 0
        if full_res_channels < 0:
            raise ValueError(f"full_res_channels must be >= 0 (0: no full-resolution path), got {full_res_channels!r}.")
        sparse_norm = look_up_option(sparse_norm if sparse_norm is not None else ("sum" if efficient else "none"),
                                     SPARSE_NORMS)  # fmt: skip
        kernel = ensure_tuple_dims(kernel_size, spatial_dims, "kernel_size")
        check_odd_kernel(kernel, "kernel_size")
        stride_list = [ensure_tuple_dims(s, spatial_dims, f"strides[{i}]") for i, s in enumerate(strides)]
        first = ensure_tuple_dims(input_stride, spatial_dims, "input_stride")
        levels = len(channels)
        if sal_levels is None:  # every level in 1D/2D; in 3D from 1/4 resolution down (see the docstring)
            sal_levels = range(levels) if spatial_dims < 3 else range(min(2, levels - 1), levels)
        sal_set = {int(v) for v in sal_levels}
        heads = [int(num_heads)] * levels if isinstance(num_heads, int) else [int(h) for h in num_heads]
        if len(heads) != levels or min(heads) < 1:
            raise ValueError(
                f"num_heads must be a positive int or one positive int per level ({levels} levels), got {num_heads!r}."
            )
        if any(not 0 <= v < levels for v in sal_set):
            raise ValueError(f"sal_levels must index encoder levels 0..{levels - 1}, got {sal_levels!r}.")

        self.spatial_dims = spatial_dims
        self.out_channels = out_channels
        self.num_image_classes = num_image_classes
        self.deep_supervision = deep_supervision
        total = list(first)
        for s in stride_list:
            total = [t * v for t, v in zip(total, s)]
        self.total_stride: List[int] = total

        def attn(ch: int) -> nn.Module:
            return channel_spatial_attention(
                spatial_dims, ch, attention=attention, spatial_attention=spatial_attention,
                reduction=reduction, spatial_kernel_size=spatial_kernel_size,
            )  # fmt: skip

        def block(cin: int, cout: int, stride: Union[Sequence[int], int] = 1) -> ResidualBlock:
            inner = attn(cout) if placement == "residual" else None
            return ResidualBlock(
                spatial_dims, cin, cout, strides=stride, kernel_size=kernel, act=act, norm=norm,
                dropout=dropout if dropout > 0 else None, attention=inner,
            )  # fmt: skip

        encoder, refine = [], []
        for i, ch in enumerate(channels):
            cin = in_channels if i == 0 else channels[i - 1]
            stage = [block(cin, ch, first if i == 0 else stride_list[i - 1])]
            stage += [block(ch, ch) for _ in range(num_res_units - 1)]
            encoder.append(nn.Sequential(*stage))
            parts: List[nn.Module] = []
            if placement == "skip":
                parts.append(attn(ch))
            if self_attention != "none" and i in sal_set:
                parts.append(
                    SparseAttentionLayer(
                        spatial_dims,
                        ch,
                        num_heads=min(heads[i], ch),
                        window_size=window_size,
                        sparse_mode=sparse_mode,
                        sparse_norm=sparse_norm,
                        topk_ratios=topk_ratios,
                        kind=self_attention,
                    )  # fmt: skip
                )
            parts = [p for p in parts if not isinstance(p, nn.Identity)]
            refine.append(nn.Sequential(*parts) if parts else nn.Identity())
        self.encoder = nn.ModuleList(encoder)
        self.refine = nn.ModuleList(refine)

        # full_res_channels > 0: the input image, rearranged onto the first level's grid (space-to-depth, lossless),
        # joins the top decoder level's concatenation, so the head sees full-resolution intensities
        self.image_block: List[int] = list(first)
        self.fuse_image = full_res_channels > 0
        patch = 1
        for v in first:
            patch *= v
        image_channels = in_channels * patch if self.fuse_image else 0
        decoder = []
        for i in range(levels - 2, -1, -1):  # deepest first
            up = Convolution(
                spatial_dims, channels[i + 1], channels[i], strides=stride_list[i], kernel_size=stride_list[i],
                padding=0, output_padding=0, act=act, norm=norm, is_transposed=True,
            )  # fmt: skip
            gate: nn.Module = (
                AttentionBlock(spatial_dims, f_int=max(1, channels[i] // 2), f_g=channels[i], f_l=channels[i])
                if skip_gates
                else _NoGate()
            )
            cin_dec = 2 * channels[i] + (image_channels if i == 0 else 0)
            fuse: nn.Module = (
                block(cin_dec, channels[i])
                if decoder_kind == "residual"
                else Convolution(spatial_dims, cin_dec, channels[i], kernel_size=kernel, act=act, norm=norm,
                                 dropout=dropout if dropout > 0 else None)
            )  # fmt: skip
            decoder.append(_DecoderLevel(up, gate, fuse))
        self.decoder = nn.ModuleList(decoder)
        # input_stride > 1: a transposed convolution (kernel = stride) back to the input size before the head, to
        # full_res_channels when the image is fused (no module, no parameters at full resolution otherwise)
        self.restore: nn.Module = nn.Identity()
        strided = any(s != 1 for s in first)
        head_in = full_res_channels if full_res_channels > 0 else channels[0]
        if strided or full_res_channels > 0:
            self.restore = Convolution(
                spatial_dims, channels[0], head_in, strides=first, kernel_size=first if strided else 1, padding=0,
                output_padding=0, act=act, norm=norm, is_transposed=strided,
            )  # fmt: skip
        self.head = Conv[Conv.CONV, spatial_dims](head_in, out_channels, kernel_size=1)
        # deep supervision: 1x1 heads on every decoder level but the last (lower resolutions)
        ds = [Conv[Conv.CONV, spatial_dims](channels[i], out_channels, kernel_size=1) for i in range(levels - 2, 0, -1)]
        self.ds_heads = nn.ModuleList(ds if deep_supervision else [])
        self.interp_mode = ("linear", "bilinear", "trilinear")[spatial_dims - 1]
        self.image_head: nn.Module = (
            nn.Linear(2 * channels[-1], num_image_classes) if num_image_classes > 0 else nn.Identity()
        )

    def check_input_size(self, x: torch.Tensor) -> None:
        """Raise ``ValueError`` if a spatial size is not a multiple of the total stride on its axis."""
        for i in range(self.spatial_dims):
            size, step = x.shape[2 + i], self.total_stride[i]
            if size % step != 0:
                lower = max(step, size // step * step)
                raise ValueError(
                    "input spatial size " + str(list(x.shape[2:])) + " is not divisible by the total stride "
                    + str(self.total_stride) + " on spatial axis " + str(i) + " (size " + str(size)
                    + "); nearest valid sizes: " + str(lower) + " or " + str(lower + step)
                    + ". Pad or crop the input, or use a sliding-window ROI that is a multiple of the stride."
                )  # fmt: skip

    def _features(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, List[torch.Tensor]]:
        """Run encoder and decoder: (full-resolution decoder features, bottleneck before refinement, decoder
        outputs)."""
        if torch.jit.is_scripting() or not _graph_capture():
            self.check_input_size(x)
        skips: List[torch.Tensor] = []
        h = x
        encoded = x
        for stage, refine in zip(self.encoder, self.refine):
            encoded = stage(h)
            h = refine(encoded)
            skips.append(h)
        # the image head reads the deepest encoder output before its skip refinement: an attention that learns to
        # switch the deepest skip off (seen with CBAM on the head CT phantoms) must not blind the head
        bottleneck = encoded
        outs: List[torch.Tensor] = []
        n = len(skips)
        for j, level in enumerate(self.decoder):
            image: Optional[torch.Tensor] = None
            if self.fuse_image and j == n - 2:
                image = space_to_depth(x, self.image_block)
            h = level(h, skips[n - 2 - j], image)
            outs.append(h)
        return h, bottleneck, outs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Segmentation logits ``(B, out_channels, *spatial)``, whatever the settings."""
        h, _, _ = self._features(x)
        return self.head(self.restore(h))

    @torch.jit.export
    def forward_with_heads(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        """All heads: ``{"seg": (B, C, *S)}`` plus ``"image": (B, K)`` when ``num_image_classes > 0`` and
        ``"deep_supervision": (B, 1 + L, C, *S)`` (index 0 = ``seg``) when ``deep_supervision``."""
        h, bottleneck, outs = self._features(x)
        seg = self.head(self.restore(h))
        result: Dict[str, torch.Tensor] = {"seg": seg}
        if self.num_image_classes > 0:
            dims = list(range(2, bottleneck.ndim))
            pooled = torch.cat([torch.mean(bottleneck, dim=dims), torch.amax(bottleneck, dim=dims)], dim=1)
            result["image"] = self.image_head(pooled)
        if self.deep_supervision:
            size: List[int] = list(seg.shape[2:])
            stack = [seg]
            for k, head in enumerate(self.ds_heads):
                stack.append(F.interpolate(head(outs[k]), size=size, mode=self.interp_mode, align_corners=False))
            # deepest first in ``outs``; order the stack from fine to coarse after the main output
            result["deep_supervision"] = torch.stack([stack[0]] + stack[1:][::-1], dim=1)
        return result


DAResUnet = DualAttentionResUNet = DAResUNet
