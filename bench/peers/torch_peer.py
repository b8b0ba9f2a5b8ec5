#!/usr/bin/env python3
"""PyTorch peer of `deno task bench --peers`: the same steps as lib/bench/compute_bench.ts.

Written for MetaLab, run with Debian's python3-torch (1.13) when it is installed. The bench
(lib/bench/peers.ts) starts this script once per case and talks to it over stdin/stdout, one
JSON object per line (the protocol is described in lib/bench/peers.ts):

  {"op": "hello"}                       -> {"ok": true, "torch": ..., "threads": ..., "cases": {...}}
  {"op": "run", "case": C, "variant": V, "steps": N, "warmup": W, "seed": S}
                                        -> {"ok": true, "timesMs": [...], "peakRssKiB": ...}
  {"op": "quit"}                        -> (exits)

`torch_peer.py --check` instead prints how far each batched variant's meta-gradient is from the
task loop's (relative max error), to show that the variants compute the same step.

Every case is built on its first "run" (then warmed up `warmup` times) and kept, so that the
bench can alternate rounds of ours and theirs (A B A B) on the same warm objects.

Shapes and schedule are those of lib/bench/compute_bench.ts: Conv-4 (64 filters, 3x3 'same'
convs without bias, batch norm on the batch's statistics with eps 1e-5, ReLU, 2x2 max-pool) on
28x28x1 inputs; MAML with one (or five) inner SGD steps of lr 0.4; Adam 1e-3. Inputs are seeded
random tensors (the arithmetic does not depend on the pixel values). Each case has the variants
a PyTorch user would write: a task loop (as MetaLab does), and where it applies the tasks
batched with functorch.vmap (1.13's torch.func) or batched matrix products.
"""

import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

try:  # torch 1.13 ships functorch as a separate module (torch.func from 2.0)
    from functorch import grad as ft_grad
    from functorch import vmap as ft_vmap
except ImportError:  # pragma: no cover - depends on the install
    ft_grad = ft_vmap = None

WAYS = 5
QUERIES = 15
FILTERS = 64
INNER_LR = 0.4


def peak_rss_kib():
    """Peak resident memory of this process in KiB (VmHWM; ru_maxrss where /proc is absent)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def uniform(gen, shape, fan_in):
    """PyTorch's default init, U(+-1/sqrt(fan_in)), as MetaLab's conv4 uses."""
    bound = 1.0 / math.sqrt(fan_in)
    return (torch.rand(shape, generator=gen) * 2 - 1) * bound


def conv4_params(gen, outputs):
    """Conv-4 parameters: per block conv [64, cin, 3, 3], bn gamma, beta; head [outputs, 64]."""
    params = []
    cin = 1
    for _ in range(4):
        params.append(uniform(gen, (FILTERS, cin, 3, 3), 9 * cin))
        params.append(torch.ones(FILTERS))
        params.append(torch.zeros(FILTERS))
        cin = FILTERS
    if outputs:
        params.append(uniform(gen, (outputs, FILTERS), FILTERS))
        params.append(uniform(gen, (outputs,), FILTERS))
    return [p.requires_grad_() for p in params]


def conv4(params, x):
    """Conv-4 forward (NCHW): 28 -> 14 -> 7 -> 3 -> 1, then the head when present."""
    for b in range(4):
        w, g, beta = params[3 * b : 3 * b + 3]
        x = F.conv2d(x, w, padding=1)
        # Batch statistics, no running averages: transductive, as MetaLab's batchNorm.
        x = F.batch_norm(x, None, None, g, beta, training=True, eps=1e-5)
        x = F.max_pool2d(F.relu(x), 2)
    x = x.flatten(1)
    if len(params) > 12:
        x = F.linear(x, params[12], params[13])
    return x


def episode(gen, ways, shots, queries):
    """Seeded images [n, 1, 28, 28] and labels: support class-major (row i has class i % ways)."""
    x = torch.randn((ways * (shots + queries), 1, 28, 28), generator=gen)
    ys = torch.arange(ways * shots) % ways
    yq = torch.arange(ways * queries) % ways
    return x, ys, yq


def protonet_loss(emb, support_count, ways, yq):
    """Squared Euclidean distance to the class prototypes, softmax cross-entropy."""
    support, query = emb[:support_count], emb[support_count:]
    prototypes = support.reshape(support_count // ways, ways, -1).mean(0)
    distances = (
        query.pow(2).sum(1, keepdim=True)
        - 2 * query @ prototypes.t()
        + prototypes.pow(2).sum(1).unsqueeze(0)
    )
    return F.cross_entropy(-distances, yq)


class ProtoNetStep:
    """conv4-protonet-step (ways 5, 80 images) and conv4-protonet-20way-step (120 images)."""

    variants = ("eager", "channels-last")

    def __init__(self, seed, variant, ways=5, queries=15):
        gen = torch.Generator().manual_seed(seed)
        self.params = conv4_params(gen, 0)
        self.x, _, self.yq = episode(gen, ways, 1, queries)
        self.ways = ways
        if variant == "channels-last":
            self.x = self.x.contiguous(memory_format=torch.channels_last)
        self.opt = torch.optim.Adam(self.params, lr=1e-3)

    def step(self):
        self.opt.zero_grad(set_to_none=True)
        loss = protonet_loss(conv4(self.params, self.x), self.ways, self.ways, self.yq)
        loss.backward()
        self.opt.step()
        return loss.item()


class MamlConv4:
    """maml-conv4-*: one MAML meta-step over `tasks` Conv-4 5-way 1-shot tasks.

    `loop`: task by task, each task's meta-gradient accumulated (as MetaLab does; memory of one
    task). `vmap`: all tasks at once, functorch.vmap over functorch.grad (the way a PyTorch user
    writes batched MAML today; convolutions with per-task weights become grouped convolutions).
    """

    variants = ("loop", "vmap")

    def __init__(self, seed, variant, tasks, second_order, inner_steps=1):
        gen = torch.Generator().manual_seed(seed)
        self.params = conv4_params(gen, WAYS)
        eps = [episode(gen, WAYS, 1, QUERIES) for _ in range(tasks)]
        self.tasks = [(x[:WAYS], ys, x[WAYS:], yq) for x, ys, yq in eps]
        self.variant = variant
        self.second_order = second_order
        self.inner_steps = inner_steps
        self.opt = torch.optim.Adam(self.params, lr=1e-3)
        if variant == "vmap":
            if ft_vmap is None:
                raise RuntimeError("functorch is not available: no vmap variant")
            self.batch = [torch.stack([t[i] for t in self.tasks]) for i in range(4)]

    @staticmethod
    def loss(p, x, y):
        return F.cross_entropy(conv4(p, x), y)

    def adapt(self, p, xs, ys, create_graph):
        for _ in range(self.inner_steps):
            g = torch.autograd.grad(self.loss(p, xs, ys), p, create_graph=create_graph)
            p = [w - INNER_LR * gi for w, gi in zip(p, g)]
            if not create_graph:
                p = [w.detach().requires_grad_() for w in p]
        return p

    def step_loop(self):
        total = None
        for xs, ys, xq, yq in self.tasks:
            if self.second_order:
                phi = self.adapt(self.params, xs, ys, True)
                g = torch.autograd.grad(self.loss(phi, xq, yq), self.params)
            else:
                phi = self.adapt(self.params, xs, ys, False)
                g = torch.autograd.grad(self.loss(phi, xq, yq), phi)
            total = list(g) if total is None else [a + b for a, b in zip(total, g)]
        return total

    def step_vmap(self):
        xs, ys, xq, yq = self.batch
        params = tuple(p.detach() for p in self.params)

        def loss(p, x, y):
            return F.cross_entropy(conv4(list(p), x), y)

        if self.second_order:

            def task_query_loss(p, xs, ys, xq, yq):
                for _ in range(self.inner_steps):
                    g = ft_grad(loss)(p, xs, ys)
                    p = tuple(w - INNER_LR * gi for w, gi in zip(p, g))
                return loss(p, xq, yq)

            per_task = ft_vmap(ft_grad(task_query_loss), in_dims=(None, 0, 0, 0, 0))(
                params, xs, ys, xq, yq
            )
            return [g.sum(0) for g in per_task]
        # First order: the inner gradients are constants; phi is per task [T, ...].
        phi, dims = params, None
        for _ in range(self.inner_steps):
            g = ft_vmap(ft_grad(loss), in_dims=(dims, 0, 0))(phi, xs, ys)
            phi, dims = tuple(w - INNER_LR * gi for w, gi in zip(phi, g)), 0
        per_task = ft_vmap(ft_grad(loss), in_dims=(0, 0, 0))(phi, xq, yq)
        return [g.sum(0) for g in per_task]

    def step(self):
        total = self.step_vmap() if self.variant == "vmap" else self.step_loop()
        n = len(self.tasks)
        for p, g in zip(self.params, total):
            p.grad = g / n
        self.opt.step()
        return float(self.params[0].detach()[0, 0, 0, 0])


class MamlSinusoid:
    """maml-sinusoid-25tasks-batched: MLP 1-40-40-1, 25 tasks of K = 10 + 10, second order.

    `loop`: a Python loop over the tasks, their query losses summed, one backward (the usual
    PyTorch MAML code). `bmm`: the tasks as one batched computation with the parameters tiled
    over tasks (as MetaLab does). `vmap`: functorch.vmap over functorch.grad.
    """

    variants = ("loop", "bmm", "vmap")

    def __init__(self, seed, variant, tasks=25, k=10):
        gen = torch.Generator().manual_seed(seed)
        sizes = [1, 40, 40, 1]
        self.params = []
        for a, b in zip(sizes, sizes[1:]):
            self.params.append(uniform(gen, (a, b), a).requires_grad_())
            self.params.append(uniform(gen, (b,), a).requires_grad_())
        amp = torch.rand((tasks, 1, 1), generator=gen) * 4.9 + 0.1
        phase = torch.rand((tasks, 1, 1), generator=gen) * math.pi
        x = torch.rand((tasks, 2 * k, 1), generator=gen) * 10 - 5
        y = amp * torch.sin(x - phase)
        self.xs, self.ys, self.xq, self.yq = x[:, :k], y[:, :k], x[:, k:], y[:, k:]
        self.tasks = tasks
        self.variant = variant
        self.inner_lr = 0.01
        self.opt = torch.optim.Adam(self.params, lr=1e-3)

    @staticmethod
    def mlp(p, x):
        # x [..., n, 1] @ w [..., 1, 40]: works for one task and for tiled [T, ...] parameters.
        h = torch.relu(x @ p[0] + p[1].unsqueeze(-2))
        h = torch.relu(h @ p[2] + p[3].unsqueeze(-2))
        return h @ p[4] + p[5].unsqueeze(-2)

    def step(self):
        self.opt.zero_grad(set_to_none=True)
        lr = self.inner_lr
        if self.variant == "loop":
            total = 0
            for i in range(self.tasks):
                ls = F.mse_loss(self.mlp(self.params, self.xs[i]), self.ys[i])
                g = torch.autograd.grad(ls, self.params, create_graph=True)
                phi = [w - lr * gi for w, gi in zip(self.params, g)]
                total = total + F.mse_loss(self.mlp(phi, self.xq[i]), self.yq[i])
            loss = total / self.tasks
            loss.backward()
        elif self.variant == "bmm":
            tiled = [p.expand(self.tasks, *p.shape) for p in self.params]
            ls = F.mse_loss(self.mlp(tiled, self.xs), self.ys) * self.tasks
            g = torch.autograd.grad(ls, tiled, create_graph=True)
            phi = [w - lr * gi for w, gi in zip(tiled, g)]
            loss = F.mse_loss(self.mlp(phi, self.xq), self.yq)
            loss.backward()
        else:
            params = tuple(p.detach() for p in self.params)

            def task_loss(p, xs, ys, xq, yq):
                g = ft_grad(lambda q: F.mse_loss(self.mlp(q, xs), ys))(p)
                phi = tuple(w - lr * gi for w, gi in zip(p, g))
                return F.mse_loss(self.mlp(phi, xq), yq)

            per_task = ft_vmap(ft_grad(task_loss), in_dims=(None, 0, 0, 0, 0))(
                params, self.xs, self.ys, self.xq, self.yq
            )
            for p, g in zip(self.params, per_task):
                p.grad = g.mean(0)
            loss = None
        self.opt.step()
        return 0.0 if loss is None else loss.item()


# Case name -> (variants, constructor(seed, variant)); names as in lib/bench/compute_bench.ts.
CASES = {
    "conv4-protonet-step": (ProtoNetStep.variants, lambda s, v: ProtoNetStep(s, v)),
    "conv4-protonet-20way-step": (
        ProtoNetStep.variants,
        lambda s, v: ProtoNetStep(s, v, ways=20, queries=5),
    ),
    "maml-conv4-32tasks-second-order": (
        MamlConv4.variants,
        lambda s, v: MamlConv4(s, v, 32, True),
    ),
    "maml-conv4-32tasks-first-order": (
        MamlConv4.variants,
        lambda s, v: MamlConv4(s, v, 32, False),
    ),
    "maml-conv4-4tasks-5steps-second-order": (
        MamlConv4.variants,
        lambda s, v: MamlConv4(s, v, 4, True, inner_steps=5),
    ),
    "maml-sinusoid-25tasks-batched": (MamlSinusoid.variants, lambda s, v: MamlSinusoid(s, v)),
}


def handle(request, built):
    op = request.get("op")
    if op == "hello":
        return {
            "ok": True,
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "functorch": ft_vmap is not None,
            "cases": {name: list(v) for name, (v, _) in CASES.items()},
        }
    if op == "run":
        name, variant = request.get("case"), request.get("variant")
        if name not in CASES:
            raise ValueError(f'unknown case "{name}": choose one of {", ".join(CASES)}')
        variants, make = CASES[name]
        if variant not in variants:
            raise ValueError(f'case "{name}" has no variant "{variant}" ({", ".join(variants)})')
        key = (name, variant)
        if key not in built:
            built[key] = make(int(request.get("seed", 0)), variant)
            for _ in range(int(request.get("warmup", 1))):
                built[key].step()
        times = []
        for _ in range(int(request.get("steps", 1))):
            t0 = time.perf_counter()
            built[key].step()
            times.append((time.perf_counter() - t0) * 1000)
        return {"ok": True, "timesMs": times, "peakRssKiB": peak_rss_kib()}
    raise ValueError(f'unknown op "{op}": expected hello, run or quit')


def check_variants():
    """Every batched variant gives the task loop's meta-gradient (relative error per case)."""
    out = {}
    for second_order in (True, False):
        for steps in (1, 2):
            loop = MamlConv4(3, "loop", 2, second_order, inner_steps=steps).step_loop()
            vmap = MamlConv4(3, "vmap", 2, second_order, inner_steps=steps).step_vmap()
            key = f"conv4-{'second' if second_order else 'first'}-order-{steps}-steps-vmap"
            out[key] = max(
                ((a - b).abs().max() / a.abs().max().clamp_min(1e-12)).item()
                for a, b in zip(loop, vmap)
            )
    grads = {}
    for variant in MamlSinusoid.variants:
        m = MamlSinusoid(5, variant)
        m.step()
        grads[variant] = [p.grad for p in m.params]
    for variant in ("bmm", "vmap"):
        out[f"sinusoid-{variant}"] = max(
            ((a - b).abs().max() / a.abs().max().clamp_min(1e-12)).item()
            for a, b in zip(grads["loop"], grads[variant])
        )
    return out


def main():
    if "--check" in sys.argv:
        print(json.dumps({"ok": True, "relativeErrors": check_variants()}))
        return
    threads = int(os.environ.get("METALAB_PEER_THREADS", "0") or 0)
    if threads > 0:
        torch.set_num_threads(threads)
    built = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            if request.get("op") == "quit":
                break
            reply = handle(request, built)
        except Exception as e:  # the bench reports it; the peer keeps serving
            reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
