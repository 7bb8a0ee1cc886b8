"""A faster transposed convolution for the autoencoders' decoders on CPU.

PyTorch's CPU ``ConvTranspose2d`` forward runs oneDNN's backward-data kernel, which is slow
when the layer has few output channels: the reference autoencoder's last layer (32 -> 1
channels, 15x15 kernel, stride 2) costs a third of a training step. A stride-s transposed
convolution is s*s ordinary convolutions of its input, one per output phase (pixel-shuffle /
sub-pixel form), run here as one ``conv2d`` with ``out_channels * s * s`` outputs. The backward
pass uses the adjoint identities of the original layer (an ordinary strided convolution of
the output gradient, and a convolution weight gradient), which are fast, instead of
differentiating the phase convolution. Same parameters, outputs and gradients as
``nn.ConvTranspose2d`` to float rounding.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _phase_plan(size: int, kernel: int, stride: int, padding: int, out: int):
    """One spatial dimension: (taps per phase, pad before, pad after, phase outputs, offset).

    Output y[Y] with Y + padding = stride * q + r (phase r) is the full convolution of the input
    with the taps kernel[r + stride * m], evaluated at q; only the q that reach [0, out) are
    computed, and ``offset`` is where y starts in the interleaved phase outputs."""
    taps = -(-kernel // stride)
    q_min = min(-(-(padding - r) // stride) for r in range(stride))
    q_max = max((out - 1 + padding - r) // stride for r in range(stride))
    length = q_max - q_min + 1
    before = taps - 1 - q_min
    after = length + taps - 1 - size - before
    return taps, before, after, length, padding - stride * q_min


def _phase_weight(weight: torch.Tensor, stride: int, taps_h: int, taps_w: int) -> torch.Tensor:
    """(in, out, kh, kw) transposed-convolution weights -> (out * s * s, in, taps_h, taps_w)
    flipped phase kernels of an ordinary convolution, channel order (out, phase_y, phase_x)."""
    cin, cout, kh, kw = weight.shape
    w = F.pad(weight, (0, stride * taps_w - kw, 0, stride * taps_h - kh))
    w = w.view(cin, cout, taps_h, stride, taps_w, stride).permute(1, 3, 5, 0, 2, 4)
    return w.flip(-1, -2).reshape(cout * stride * stride, cin, taps_h, taps_w)


class _PhaseConvTranspose(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, weight, bias, stride, padding, out_hw):
        n, _, h, w = z.shape
        cout = weight.shape[1]
        th, bh, ah, lh, oh = _phase_plan(h, weight.shape[2], stride, padding, out_hw[0])
        tw, bw, aw, lw, ow = _phase_plan(w, weight.shape[3], stride, padding, out_hw[1])
        y = F.conv2d(F.pad(z, (bw, aw, bh, ah)), _phase_weight(weight, stride, th, tw))
        y = y.view(n, cout, stride, stride, lh, lw).permute(0, 1, 4, 2, 5, 3)
        y = y.reshape(n, cout, lh * stride, lw * stride)[:, :, oh:oh + out_hw[0], ow:ow + out_hw[1]]
        y = y + bias.view(1, -1, 1, 1) if bias is not None else y.contiguous()
        ctx.save_for_backward(z, weight)
        ctx.stride, ctx.padding, ctx.has_bias = stride, padding, bias is not None
        return y

    @staticmethod
    def backward(ctx, grad):
        z, weight = ctx.saved_tensors
        s, p = ctx.stride, ctx.padding
        # one dtype for the three (the gradient comes back in the forward's output dtype,
        # bfloat16 under autocast, while the saved tensors keep theirs)
        dtype = torch.promote_types(z.dtype, weight.dtype)
        grad = grad.to(dtype).contiguous()
        gz = gw = gb = None
        if ctx.needs_input_grad[0]:  # the transposed convolution's adjoint
            gz = F.conv2d(grad, weight.to(dtype), stride=s, padding=p).to(z.dtype)
        if ctx.needs_input_grad[1]:
            gw = torch.nn.grad.conv2d_weight(grad, weight.shape, z.to(dtype), stride=s,
                                             padding=p).to(weight.dtype)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            gb = grad.sum((0, 2, 3))
        return gz, gw, gb, None, None, None


def conv_transpose2d_phase(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                           stride: int = 1, padding: int = 0,
                           output_padding: int = 0) -> torch.Tensor:
    """``F.conv_transpose2d`` (int stride, padding and output_padding; no groups or dilation)
    as one phase convolution. x (n, in, h, w), weight (in, out, kh, kw) -> (n, out, H, W) with
    H = (h - 1) * stride - 2 * padding + kh + output_padding."""
    if x.dim() != 4 or weight.dim() != 4 or x.shape[1] != weight.shape[0]:
        raise ValueError(f"expected x (n, {weight.shape[0]}, h, w), got {tuple(x.shape)}")
    if not (0 <= padding < min(weight.shape[2:]) and 0 <= output_padding < stride):
        raise ValueError("need 0 <= padding < kernel size and 0 <= output_padding < stride")
    kh, kw = weight.shape[2:]
    out_hw = ((x.shape[2] - 1) * stride - 2 * padding + kh + output_padding,
              (x.shape[3] - 1) * stride - 2 * padding + kw + output_padding)
    return _PhaseConvTranspose.apply(x, weight, bias, stride, padding, out_hw)


class PhaseConvTranspose2d(nn.ConvTranspose2d):
    """``nn.ConvTranspose2d`` (equal stride and padding on both axes, no dilation or groups)
    computed as one phase convolution on CPU when it has few output channels
    (``out_channels * stride**2 <= in_channels``: the reference decoder's 32 -> 1 layer, 12.1 ->
    9.3 ms forward + backward at 28x28, 34.7 -> 23.2 ms at 45x45, batch 64, 2 cores); PyTorch's
    own kernel otherwise (faster there: 64 -> 32 channels 4.7 vs 6.3 ms) and on other devices."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, output_padding: int = 0):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride,
                         padding=padding, output_padding=output_padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.uses_phase(x):
            return super().forward(x)
        return conv_transpose2d_phase(x, self.weight, self.bias, self.stride[0], self.padding[0],
                                      self.output_padding[0])

    def uses_phase(self, x: torch.Tensor) -> bool:
        """Whether ``forward(x)`` takes the phase convolution."""
        return (x.device.type == "cpu" and x.dim() == 4
                and self.out_channels * self.stride[0] ** 2 <= self.in_channels)
