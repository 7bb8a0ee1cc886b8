"""The phase (sub-pixel) transposed convolution in the reference autoencoder's decoder against
PyTorch's own ConvTranspose2d, same weights, same batch (64 genomaps), 2 threads: one training
step (forward, backward, Adam) of the whole autoencoder, and the last decoder layer (32 -> 1
channels, 15x15, stride 2) forward + backward. The end-to-end effect against the reference's
TensorFlow genoVis is in test_reference_tasks.py."""
import time

import pytest

SUITE = "test_decoder"


def _best_ms(fn, reps=5, inner=10):
    for _ in range(3):
        fn()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - t0) / inner * 1e3)
    return best


@pytest.mark.parametrize("side", [28, 32, 45])
def test_decoder_step(record, quick, side):
    torch = pytest.importorskip("torch")
    from genomap_fast.cnn.cluster import _modules
    from genomap_fast.cnn.layers import PhaseConvTranspose2d

    torch.set_num_threads(2)
    _, ConvAutoencoder = _modules()
    x = torch.randn(16 if quick else 64, 1, side, side)
    reps = 1 if quick else 5

    def model(phase):
        torch.manual_seed(0)
        m = ConvAutoencoder(side, side, 32, "reference")
        if not phase:  # PyTorch's own kernel, same weights
            for i, layer in enumerate(m.decoder):
                if isinstance(layer, PhaseConvTranspose2d):
                    plain = torch.nn.ConvTranspose2d(
                        layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride,
                        layer.padding, layer.output_padding)
                    plain.load_state_dict(layer.state_dict())
                    m.decoder[i] = plain
        return m

    steps = {}
    for phase in (False, True):
        m = model(phase)
        opt = torch.optim.Adam(m.parameters())

        def step(m=m, opt=opt):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(m.decode(m.encode(x)), x)
            loss.backward()
            opt.step()

        steps[phase] = _best_ms(step, reps)
    last = model(True).decoder[-1]
    plain = model(False).decoder[-1]
    z = torch.randn(x.shape[0], 32, -(-side // 2), -(-side // 2), requires_grad=True)

    def layer_ms(layer):
        def run():
            layer(z).sum().backward()
        return _best_ms(run, reps)

    record(SUITE, f"reference autoencoder {side}x{side}, batch {x.shape[0]}", "genomap_fast",
           steps[True] / 1e3, **{"step ms, PyTorch ConvTranspose2d": round(steps[False], 2),
                                 "step ms, phase": round(steps[True], 2),
                                 "last layer ms, PyTorch": round(layer_ms(plain), 2),
                                 "last layer ms, phase": round(layer_ms(last), 2)})
