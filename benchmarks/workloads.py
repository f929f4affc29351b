"""The two training steps the course benchmarks, in minioptim and (when installed) in PyTorch.

Each workload is built the same way in both frameworks: float32, the same sizes, a full step =
forward, loss, backward, optimizer step (SGD with momentum 0.9, as in the talk's experiments).

    resnet20  ResNet-20 (with batch norm), batch 128 of 3x32x32 images, 10 classes
    lstm      2-layer LSTM language model, vocab 10,000, embedding 200, hidden 200,
              bptt 35, batch 20, truncated BPTT (the state carried and detached)
    transformer  encoder-decoder Transformer (translation), d_model 128, 4 heads, 2 + 2
              pre-norm layers, feed-forward 512, dropout 0.1, sequences of 32 tokens, batch 32,
              vocabularies of 1,000 (PyTorch: embeddings + nn.Transformer + a Linear, the same
              sizes)
"""
from __future__ import annotations

import numpy as np

SIZES = {
    "resnet20": dict(batch=128, channels=3, height=32, width=32, classes=10),
    "lstm": dict(vocab=10_000, embedding=200, hidden=200, layers=2, bptt=35, batch=20),
    "transformer": dict(vocab=1000, d_model=128, heads=4, layers=2, feedforward=512, seq=32,
                        batch=32, dropout=0.1),
}


def data(workload: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    s = SIZES[workload]
    if workload == "resnet20":
        x = rng.standard_normal((s["batch"], s["channels"], s["height"], s["width"]))
        y = rng.integers(0, s["classes"], s["batch"])
        return x.astype(np.float32), y.astype(np.int64)
    if workload == "transformer":          # (source, target): the target shifted by one
        src = rng.integers(0, s["vocab"], (s["seq"], s["batch"]))
        tgt = rng.integers(0, s["vocab"], (s["seq"] + 1, s["batch"]))
        return src.astype(np.int64), tgt.astype(np.int64)
    tokens = rng.integers(0, s["vocab"], (s["bptt"] + 1, s["batch"]))
    return tokens[:-1].astype(np.int64), tokens[1:].astype(np.int64)


def minioptim_step(workload: str):
    """A function that runs one training step in minioptim."""
    import autodiff as ad
    import minioptim as mo
    from autodiff.nn import functional as F
    from minioptim.models import LSTMLanguageModel, resnet

    ad.manual_seed(0)
    x_host, y_host = data(workload)
    x, y = ad.Tensor(x_host), ad.Tensor(y_host)
    if workload == "resnet20":
        model = resnet(20)
        opt = mo.SGD(model.parameters(), lr=0.1, momentum=0.9, dampening=0)

        def step():
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss.item()
        return step
    s = SIZES[workload]
    if workload == "transformer":
        from minioptim.models import Seq2SeqTransformer
        model = Seq2SeqTransformer(s["vocab"], s["vocab"], s["d_model"], s["heads"], s["layers"],
                                   s["layers"], s["feedforward"], s["dropout"])
        opt = mo.SGD(model.parameters(), lr=0.1, momentum=0.9, dampening=0)
        tgt_in, tgt_out = ad.Tensor(y_host[:-1]), ad.Tensor(y_host[1:].reshape(-1))

        def step():
            opt.zero_grad()
            logits = model(x, tgt_in)
            loss = F.cross_entropy(logits.reshape(-1, s["vocab"]), tgt_out)
            loss.backward()
            opt.step()
            return loss.item()
        return step
    model = LSTMLanguageModel(s["vocab"], s["embedding"], s["hidden"], s["layers"])
    opt = mo.SGD(model.parameters(), lr=1.0, momentum=0.9, dampening=0)
    state = [model.init_state(s["batch"])]

    def step():
        opt.zero_grad()
        logits, new_state = model(x, model.detach_state(state[0]))
        loss = F.cross_entropy(logits.reshape(-1, s["vocab"]), y.reshape(-1))
        loss.backward()
        opt.step()
        state[0] = new_state
        return loss.item()
    return step


def torch_step(workload: str):
    """The same step in PyTorch (CPU)."""
    import torch
    import torch.nn as tnn
    import torch.nn.functional as tF

    torch.manual_seed(0)
    x_host, y_host = data(workload)
    x, y = torch.from_numpy(x_host), torch.from_numpy(y_host)
    if workload == "resnet20":
        model = _torch_resnet20(tnn, tF)
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

        def step():
            opt.zero_grad()
            loss = tF.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss.item()
        return step
    s = SIZES[workload]
    if workload == "transformer":
        return _torch_transformer_step(torch, tnn, tF, s, x, y)

    class LM(tnn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = tnn.Embedding(s["vocab"], s["embedding"])
            self.rnn = tnn.LSTM(s["embedding"], s["hidden"], s["layers"])
            self.decoder = tnn.Linear(s["hidden"], s["vocab"])

        def forward(self, tokens, state):
            out, state = self.rnn(self.encoder(tokens), state)
            return self.decoder(out), state

    model = LM()
    opt = torch.optim.SGD(model.parameters(), lr=1.0, momentum=0.9)
    zeros = torch.zeros(s["layers"], s["batch"], s["hidden"])
    state = [(zeros, zeros.clone())]

    def step():
        opt.zero_grad()
        logits, new_state = model(x, tuple(t.detach() for t in state[0]))
        loss = tF.cross_entropy(logits.reshape(-1, s["vocab"]), y.reshape(-1))
        loss.backward()
        opt.step()
        state[0] = new_state
        return loss.item()
    return step


def _torch_resnet20(tnn, tF):
    """He et al.'s CIFAR ResNet-20 (option-A shortcuts), as minioptim.models.resnet builds it."""

    class Block(tnn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = tnn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(cout)
            self.conv2 = tnn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(cout)
            self.pad = cout - cin
            self.stride = stride

        def forward(self, x):
            out = tF.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            short = x[:, :, ::2, ::2] if self.stride == 2 else x
            if self.pad:
                short = tF.pad(short, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
            return tF.relu(out + short)

    class Net(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = tnn.Conv2d(3, 16, 3, 1, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(16)
            blocks, cin = [], 16
            for cout, stride in ((16, 1), (32, 2), (64, 2)):
                for b in range(3):
                    blocks.append(Block(cin, cout, stride if b == 0 else 1))
                    cin = cout
            self.blocks = tnn.Sequential(*blocks)
            self.linear = tnn.Linear(64, 10)

        def forward(self, x):
            out = self.blocks(tF.relu(self.bn1(self.conv1(x))))
            return self.linear(out.mean(dim=(2, 3)))

    return Net()


def _torch_transformer_step(torch, tnn, tF, s, src, tgt):
    """minioptim.models.Seq2SeqTransformer in PyTorch: embeddings * sqrt(d) + sinusoidal
    positions, nn.Transformer (pre-norm, with its final norms), a Linear generator."""
    import math

    d, v = s["d_model"], s["vocab"]
    pos = torch.arange(512, dtype=torch.float64)[:, None]
    freq = torch.exp(torch.arange(0, d, 2, dtype=torch.float64) * (-math.log(10000.0) / d))
    pe = torch.zeros(512, d, dtype=torch.float64)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * freq), torch.cos(pos * freq)
    pe = pe.float()

    class Seq2Seq(tnn.Module):
        def __init__(self):
            super().__init__()
            self.src_embed, self.tgt_embed = tnn.Embedding(v, d), tnn.Embedding(v, d)
            self.drop = tnn.Dropout(s["dropout"])
            self.transformer = tnn.Transformer(d, s["heads"], s["layers"], s["layers"],
                                               s["feedforward"], s["dropout"], norm_first=True)
            self.generator = tnn.Linear(d, v)

        def embed(self, emb, tokens):
            return self.drop(emb(tokens) * math.sqrt(d) + pe[:tokens.shape[0], None])

        def forward(self, src, tgt_in):
            mask = tnn.Transformer.generate_square_subsequent_mask(tgt_in.shape[0])
            out = self.transformer(self.embed(self.src_embed, src),
                                   self.embed(self.tgt_embed, tgt_in), tgt_mask=mask)
            return self.generator(out)

    model = Seq2Seq()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    tgt_in, tgt_out = tgt[:-1], tgt[1:].reshape(-1)

    def step():
        opt.zero_grad()
        loss = tF.cross_entropy(model(src, tgt_in).reshape(-1, v), tgt_out)
        loss.backward()
        opt.step()
        return loss.item()
    return step
