"""Side by side with PyTorch (the `bench` extra): minioptim's fused LSTM gives torch.nn.LSTM's
values and gradients, in float64, with the same weights (same names, shapes and gate order).

    python benchmarks/check_lstm_against_torch.py

Kept out of the test suite on purpose: the tests never need PyTorch.
"""
import sys

import numpy as np

import autodiff as ad
from autodiff.nn import LSTM

try:
    import torch
except ImportError:
    sys.exit("check_lstm_against_torch.py compares with PyTorch, which is not installed: "
             "pip install -e '.[bench]'")


def main() -> None:
    ad.set_backend("numpy")
    rng = np.random.default_rng(5)
    T, B, I, H, L = 5, 3, 4, 6, 2
    m = LSTM(I, H, L, dtype="float64")
    tm = torch.nn.LSTM(I, H, L).double()
    with torch.no_grad():
        for name, p in m.named_parameters():
            getattr(tm, name).copy_(torch.from_numpy(p.numpy()))
    x, h0, c0 = (rng.normal(size=s) for s in [(T, B, I), (L, B, H), (L, B, H)])
    g_out = rng.normal(size=(T, B, H))

    def t64(a, grad=True):
        return ad.Tensor(a, dtype="float64", requires_grad=grad)

    out, (h_n, c_n) = m(t64(x), (t64(h0), t64(c0)))
    (out * t64(g_out, False)).sum().backward()
    tout, (th, tc) = tm(torch.tensor(x), (torch.tensor(h0), torch.tensor(c0)))
    (tout * torch.tensor(g_out)).sum().backward()
    for mine, theirs in ((out, tout), (h_n, th), (c_n, tc)):
        np.testing.assert_allclose(mine.numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    for name, p in m.named_parameters():
        np.testing.assert_allclose(ad.backend.to_numpy(p.grad), getattr(tm, name).grad.numpy(),
                                   rtol=1e-9, atol=1e-12, err_msg=name)
    print("fused LSTM = torch.nn.LSTM: outputs, final states and all weight gradients agree "
          "(float64, rtol 1e-9)")


if __name__ == "__main__":
    main()
