#!/usr/bin/python3
"""Independent float64 NumPy forward pass of the GPT-style model (test oracle).

Usage: reference_forward.py DIR
Reads DIR/config.txt ("V T L C H D F act B S": vocab, context, blocks, d_model,
heads, d_head, d_ff, activation relu|gelu, batch, sequence length),
DIR/params.bin (float32, flat layout of core/model/config.h) and
DIR/tokens.bin (int32: B*S inputs then B*S targets). Writes DIR/out.bin:
float64 mean cross-entropy loss followed by the (B, S, V) logits.
"""
import sys

import numpy as np


def layer_norm(x, g, b, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * g + b


def main(d):
    fields = open(f"{d}/config.txt").read().split()
    V, T, L, C, H, D, F = map(int, fields[:7])
    act = fields[7]
    B, S = int(fields[8]), int(fields[9])
    p = np.fromfile(f"{d}/params.bin", dtype="<f4").astype(np.float64)
    tok = np.fromfile(f"{d}/tokens.bin", dtype="<i4")
    inputs, targets = tok[: B * S].reshape(B, S), tok[B * S :].reshape(B, S)

    pos = 0

    def take(*shape):
        nonlocal pos
        n = int(np.prod(shape))
        out = p[pos : pos + n].reshape(shape)
        pos += n
        return out

    wte, wpe = take(V, C), take(T, C)
    x = wte[inputs] + wpe[:S]  # (B, S, C)
    mask = np.triu(np.ones((S, S), dtype=bool), k=1)
    for _ in range(L):
        ln1_g, ln1_b = take(C), take(C)
        wq, wk, wv, wo = take(C, H * D), take(C, H * D), take(C, H * D), take(H * D, C)
        ln2_g, ln2_b = take(C), take(C)
        w1, b1, w2, b2 = take(C, F), take(F), take(F, C), take(C)
        n1 = layer_norm(x, ln1_g, ln1_b)
        heads = []
        for h in range(H):
            cols = slice(h * D, (h + 1) * D)
            q, k, v = n1 @ wq[:, cols], n1 @ wk[:, cols], n1 @ wv[:, cols]  # (B, S, D)
            s = q @ k.transpose(0, 2, 1) / np.sqrt(D)  # (B, S, S)
            s[:, mask] = -np.inf
            s = np.exp(s - s.max(axis=-1, keepdims=True))
            w = s / s.sum(axis=-1, keepdims=True)
            heads.append(w @ v)
        x = x + np.concatenate(heads, axis=-1) @ wo
        hidden = layer_norm(x, ln2_g, ln2_b) @ w1 + b1
        if act == "gelu":
            hidden = 0.5 * hidden * (1 + np.tanh(np.sqrt(2 / np.pi) * (hidden + 0.044715 * hidden**3)))
        else:
            hidden = np.maximum(hidden, 0)
        x = x + hidden @ w2 + b2
    lnf_g, lnf_b = take(C), take(C)
    wu, bu = take(C, V), take(V)
    assert pos == p.size, (pos, p.size)
    logits = layer_norm(x, lnf_g, lnf_b) @ wu + bu  # (B, S, V)
    m = logits.max(axis=-1, keepdims=True)
    logz = np.log(np.exp(logits - m).sum(axis=-1)) + m[..., 0]
    picked = np.take_along_axis(logits, targets[..., None], axis=-1)[..., 0]
    loss = np.mean(logz - picked)
    np.concatenate([[loss], logits.ravel()]).astype("<f8").tofile(f"{d}/out.bin")


if __name__ == "__main__":
    main(sys.argv[1])
