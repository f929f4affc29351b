"""Side by side with PyTorch (the `bench` extra): minioptim's MultiheadAttention and Transformer
encoder / decoder layers load a torch state dict and give torch's outputs, attention weights and
every gradient, in float64, for both norm placements, batch_first both ways, and with attention
masks, key padding masks and causal masks.

    python benchmarks/check_transformer_against_torch.py

Kept out of the test suite on purpose: the tests never need PyTorch.
"""
import sys

import numpy as np

import autodiff as ad
from autodiff import nn

try:
    import torch
except ImportError:
    sys.exit("check_transformer_against_torch.py compares with PyTorch, which is not installed: "
             "pip install -e '.[bench]'")

RTOL, ATOL = 1e-9, 1e-11


def load(mine, theirs):
    """Copy torch's parameters into ours by name (the names must match exactly)."""
    sd = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    mine.load_state_dict(sd)


def grads_agree(mine, theirs, what):
    ours = dict(mine.named_parameters())
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(ad.backend.to_numpy(ours[name].grad), p.grad.numpy(),
                                   rtol=RTOL, atol=ATOL, err_msg=f"{what}: d/d{name}")
    return len(ours)


def t64(a, grad=True):
    return ad.Tensor(a, dtype="float64", requires_grad=grad)


def check_mha(rng, batch_first, masks):
    E, h, L, S, N = 8, 2, 4, 5, 3
    mine = nn.MultiheadAttention(E, h, batch_first=batch_first).double()
    theirs = torch.nn.MultiheadAttention(E, h, batch_first=batch_first).double()
    load(mine, theirs)
    shape = (lambda n: (N, n, E)) if batch_first else (lambda n: (n, N, E))
    q, k, v = rng.normal(size=shape(L)), rng.normal(size=shape(S)), rng.normal(size=shape(S))
    kw_m, kw_t = {}, {}
    if masks:
        attn = rng.random((L, S)) < 0.3
        attn[:, 0] = False                                   # every query sees key 0
        pad = np.zeros((N, S), dtype=bool)
        pad[0, -2:] = True
        kw_m = dict(attn_mask=attn, key_padding_mask=pad)
        kw_t = dict(attn_mask=torch.tensor(attn), key_padding_mask=torch.tensor(pad))
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    mq, mk, mv = t64(q), t64(k), t64(v)
    out, w = mine(mq, mk, mv, **kw_m)
    tout, tw = theirs(tq, tk, tv, **kw_t)
    g = rng.normal(size=out.shape)
    (out * t64(g, False)).sum().backward()
    (tout * torch.tensor(g)).sum().backward()
    what = f"MultiheadAttention(batch_first={batch_first}, masks={masks})"
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=RTOL, atol=ATOL,
                               err_msg=what)
    np.testing.assert_allclose(w.numpy(), tw.detach().numpy(), rtol=RTOL, atol=ATOL,
                               err_msg=what + " weights")
    for a, b, n in ((mq, tq, "query"), (mk, tk, "key"), (mv, tv, "value")):
        np.testing.assert_allclose(ad.backend.to_numpy(a.grad), b.grad.numpy(), rtol=RTOL,
                                   atol=ATOL, err_msg=f"{what}: d/d{n}")
    grads_agree(mine, theirs, what)
    return what


def check_layer(rng, kind, norm_first, batch_first, activation):
    d, h, ff, L, S, N = 8, 2, 16, 5, 6, 3
    args = dict(dim_feedforward=ff, dropout=0.0, norm_first=norm_first, batch_first=batch_first)
    if kind == "encoder":
        mine = nn.TransformerEncoderLayer(d, h, activation=activation, **args).double()
        theirs = torch.nn.TransformerEncoderLayer(d, h, activation=activation, **args).double()
    else:
        mine = nn.TransformerDecoderLayer(d, h, activation=activation, **args).double()
        theirs = torch.nn.TransformerDecoderLayer(d, h, activation=activation, **args).double()
    load(mine, theirs)
    shape = (lambda n: (N, n, d)) if batch_first else (lambda n: (n, N, d))
    x, mem = rng.normal(size=shape(L)), rng.normal(size=shape(S))
    causal = torch.nn.Transformer.generate_square_subsequent_mask(L, dtype=torch.float64)
    pad = np.zeros((N, L), dtype=bool)
    pad[1, -1] = True
    tx, tmem = torch.tensor(x, requires_grad=True), torch.tensor(mem, requires_grad=True)
    mx, mmem = t64(x), t64(mem)
    if kind == "encoder":
        out = mine(mx, src_mask=causal.numpy(), src_key_padding_mask=pad)
        tout = theirs(tx, src_mask=causal, src_key_padding_mask=torch.tensor(pad))
    else:
        out = mine(mx, mmem, tgt_mask=causal.numpy(), tgt_key_padding_mask=pad)
        tout = theirs(tx, tmem, tgt_mask=causal, tgt_key_padding_mask=torch.tensor(pad))
    g = rng.normal(size=out.shape)
    (out * t64(g, False)).sum().backward()
    (tout * torch.tensor(g)).sum().backward()
    what = (f"Transformer{kind.capitalize()}Layer(norm_first={norm_first}, "
            f"batch_first={batch_first}, activation={activation})")
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=RTOL, atol=ATOL,
                               err_msg=what)
    np.testing.assert_allclose(ad.backend.to_numpy(mx.grad), tx.grad.numpy(), rtol=RTOL,
                               atol=ATOL, err_msg=what + ": d/dinput")
    if kind == "decoder":
        np.testing.assert_allclose(ad.backend.to_numpy(mmem.grad), tmem.grad.numpy(), rtol=RTOL,
                                   atol=ATOL, err_msg=what + ": d/dmemory")
    n = grads_agree(mine, theirs, what)
    return f"{what}: output, input gradients and {n} parameter gradients"


def main() -> None:
    ad.set_backend("numpy")
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    checked = [check_mha(rng, bf, m) for bf in (False, True) for m in (False, True)]
    for kind in ("encoder", "decoder"):
        for norm_first in (False, True):
            for batch_first in (False, True):
                for act in ("relu", "gelu"):
                    checked.append(check_layer(rng, kind, norm_first, batch_first, act))
    for line in checked:
        print("agrees with torch:", line)
    print(f"{len(checked)} configurations agree with PyTorch (float64, rtol {RTOL}, atol {ATOL})")


if __name__ == "__main__":
    main()
