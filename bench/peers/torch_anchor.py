#!/usr/bin/env python3
"""PyTorch peer of the time-to-accuracy case (`--case protonet-anchor-time-to-accuracy`).

The schedule of MetaLab's `omniglot-protonet-anchor` experiment: Conv-4 ProtoNet, 5-way 1-shot
15-query episodes from the 964 background characters x 4 rotations, Adam 1e-3 halved every
2,000 episodes; then 5-way 1-shot 15-query test episodes from the evaluation characters
(rotation 0), batch norm on each episode's own statistics, as MetaLab does. Same pixels:
lib/bench/time_to_accuracy.ts writes MetaLab's decoded 28x28 Omniglot (uint8, characters x 20
drawers x 28 x 28, background first) to `--data DIR/omniglot_28.u8` with `meta.json`.

usage: torch_anchor.py --data DIR --episodes N --eval-episodes M [--seed S]
prints one JSON line: {"ok": true, "trainS": ..., "evalS": ..., "accuracy": ..., "ci95": ...}
"""

import argparse
import json
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_peer import conv4, conv4_params, peak_rss_kib, protonet_loss  # noqa: E402

WAYS, SHOTS, QUERIES, DRAWERS = 5, 1, 15, 20


def episode(images, classes, gen):
    """A class-major 5-way 1-shot 15-query episode: [80, 1, 28, 28] and query labels."""
    pick = torch.randperm(len(classes), generator=gen)[:WAYS]
    support, query = [], []
    for c in pick.tolist():
        char, rot = classes[c]
        drawers = torch.randperm(DRAWERS, generator=gen)[: SHOTS + QUERIES]
        x = images[char, drawers]
        if rot:
            x = torch.rot90(x, rot, (1, 2))
        support.append(x[:SHOTS])
        query.append(x[SHOTS:])
    # Support row i has class i % WAYS (shot-major), query likewise: as MetaLab's episodes.
    s = torch.stack(support, 1).reshape(-1, 28, 28)
    q = torch.stack(query, 1).reshape(-1, 28, 28)
    x = torch.cat([s, q]).unsqueeze(1)
    yq = torch.arange(WAYS * QUERIES) % WAYS
    return x, yq


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--episodes", type=int, default=5000)
    ap.add_argument("--eval-episodes", type=int, default=600)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    threads = int(os.environ.get("METALAB_PEER_THREADS", "0") or 0)
    if threads > 0:
        torch.set_num_threads(threads)
    with open(os.path.join(args.data, "meta.json")) as f:
        meta = json.load(f)
    size, n_bg, n_ev = meta["size"], meta["background"], meta["evaluation"]
    raw = open(os.path.join(args.data, f"omniglot_{size}.u8"), "rb").read()
    images = torch.frombuffer(bytearray(raw), dtype=torch.uint8).float().div_(255)
    images = images.reshape(n_bg + n_ev, DRAWERS, size, size)
    train_classes = [(c, r) for c in range(n_bg) for r in range(4)]
    test_classes = [(n_bg + c, 0) for c in range(n_ev)]

    gen = torch.Generator().manual_seed(args.seed)
    params = conv4_params(gen, 0)
    opt = torch.optim.Adam(params, lr=1e-3)
    t0 = time.perf_counter()
    for step in range(args.episodes):
        for group in opt.param_groups:
            group["lr"] = 1e-3 * 0.5 ** (step // 2000)
        x, yq = episode(images, train_classes, gen)
        opt.zero_grad(set_to_none=True)
        loss = protonet_loss(conv4(params, x), WAYS * SHOTS, WAYS, yq)
        loss.backward()
        opt.step()
    train_s = time.perf_counter() - t0

    t1 = time.perf_counter()
    accs = []
    test_gen = torch.Generator().manual_seed(args.seed + 2)
    with torch.no_grad():
        for _ in range(args.eval_episodes):
            x, yq = episode(images, test_classes, test_gen)
            emb = conv4(params, x)
            support, query = emb[: WAYS * SHOTS], emb[WAYS * SHOTS :]
            protos = support.reshape(SHOTS, WAYS, -1).mean(0)
            pred = torch.cdist(query, protos).argmin(1)
            accs.append((pred == yq).float().mean().item())
    eval_s = time.perf_counter() - t1
    mean = sum(accs) / len(accs)
    sd = math.sqrt(sum((a - mean) ** 2 for a in accs) / max(1, len(accs) - 1))
    print(
        json.dumps(
            {
                "ok": True,
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "episodes": args.episodes,
                "trainS": train_s,
                "evalS": eval_s,
                "accuracy": mean,
                "ci95": 1.96 * sd / math.sqrt(len(accs)),
                "peakRssKiB": peak_rss_kib(),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
