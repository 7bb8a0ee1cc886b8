"""The phase (sub-pixel) transposed convolution against PyTorch's own conv_transpose2d."""
import pytest

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("cin,cout,k,stride,padding,out_pad,h,w", [
    (32, 1, 15, 2, 7, 1, 14, 14),    # the reference decoder's last layer at 28x28
    (32, 1, 15, 2, 7, 1, 16, 11),    # non-square
    (64, 32, 5, 2, 2, 1, 7, 7),
    (128, 64, 3, 2, 0, 0, 3, 3),     # the 'valid' first decoder layer
    (128, 64, 3, 2, 1, 1, 4, 4),
    (4, 3, 4, 2, 1, 0, 5, 6),        # even kernel
    (3, 2, 5, 3, 2, 2, 4, 3),        # stride 3
    (2, 2, 15, 2, 7, 1, 1, 3),       # an input smaller than the kernel
    (5, 1, 3, 1, 1, 0, 6, 6),        # stride 1
])
@pytest.mark.parametrize("bias", [True, False])
def test_phase_conv_transpose_matches_pytorch(cin, cout, k, stride, padding, out_pad, h, w,
                                              bias):
    from genomap_fast.cnn.layers import conv_transpose2d_phase

    torch.manual_seed(0)
    weight = torch.randn(cin, cout, k, k, dtype=torch.float64)
    b = torch.randn(cout, dtype=torch.float64) if bias else None
    leaves = [[t.clone().requires_grad_(True) if t is not None else None
               for t in (torch.randn(3, cin, h, w, dtype=torch.float64), weight, b)]]
    leaves.append([t.detach().clone().requires_grad_(True) if t is not None else None
                   for t in leaves[0]])
    y_ref = torch.nn.functional.conv_transpose2d(*leaves[0], stride=stride, padding=padding,
                                                 output_padding=out_pad)
    y = conv_transpose2d_phase(*leaves[1], stride=stride, padding=padding,
                               output_padding=out_pad)
    assert y.shape == y_ref.shape
    torch.testing.assert_close(y, y_ref, rtol=1e-10, atol=1e-10)
    g = torch.randn_like(y_ref)
    y_ref.backward(g)
    y.backward(g)
    for ours, ref in zip(leaves[1], leaves[0]):
        if ref is not None:
            torch.testing.assert_close(ours.grad, ref.grad, rtol=1e-10, atol=1e-10)


def test_phase_layer_routes_few_output_channels_and_keeps_pytorch_layout():
    """The module is an nn.ConvTranspose2d (same parameters and state dict); it takes the phase
    path for the decoder's 32 -> 1 layer only, with the same outputs either way."""
    from genomap_fast.cnn.layers import PhaseConvTranspose2d

    torch.manual_seed(1)
    last = PhaseConvTranspose2d(32, 1, 15, stride=2, padding=7, output_padding=1)
    middle = PhaseConvTranspose2d(64, 32, 5, stride=2, padding=2, output_padding=1)
    x_last, x_mid = torch.randn(2, 32, 14, 14), torch.randn(2, 64, 7, 7)
    assert last.uses_phase(x_last) and not middle.uses_phase(x_mid)
    for layer, x in ((last, x_last), (middle, x_mid)):
        plain = torch.nn.ConvTranspose2d(layer.in_channels, layer.out_channels,
                                         layer.kernel_size, layer.stride, layer.padding,
                                         layer.output_padding)
        plain.load_state_dict(layer.state_dict())
        torch.testing.assert_close(layer(x), plain(x), rtol=1e-5, atol=1e-5)
    y = last(x_last)
    y.sum().backward()
    assert y.shape == (2, 1, 28, 28) and last.weight.grad.shape == (32, 1, 15, 15)


def test_phase_conv_transpose_rejects_bad_arguments():
    from genomap_fast.cnn.layers import conv_transpose2d_phase

    w = torch.randn(4, 1, 3, 3)
    with pytest.raises(ValueError, match="expected x"):
        conv_transpose2d_phase(torch.randn(2, 3, 5, 5), w, stride=2)
    with pytest.raises(ValueError, match="output_padding"):
        conv_transpose2d_phase(torch.randn(2, 4, 5, 5), w, stride=2, output_padding=2)


def test_phase_layer_trains_under_cpu_autocast():
    """Under bfloat16 autocast the gradient comes back in bfloat16 while the saved input and
    weights are float32: the backward pass still runs and returns float32 gradients."""
    from genomap_fast.cnn.layers import PhaseConvTranspose2d

    torch.manual_seed(2)
    layer = PhaseConvTranspose2d(8, 1, 15, stride=2, padding=7, output_padding=1)
    z = torch.randn(2, 8, 14, 14, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = layer(z)
    y.float().square().mean().backward()
    assert z.grad.dtype == torch.float32 and layer.weight.grad.dtype == torch.float32
    assert torch.isfinite(layer.weight.grad).all()
