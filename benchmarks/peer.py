"""A reference framework's train step in a process of its own, stepping on command.

    python -m benchmarks.peer torch|jax FILE.npz THREADS

FILE.npz holds the network (``spec``: JSON, see ``benchmarks.peers``), the
optimizer (``optimizer``: JSON), fnn's initial parameters (``p0``, ``p1``, ...
in fnn's order and layouts) and the batch (``x``, ``t``). The process builds
the same network with those weights, takes one step (a warm-up, and for JAX
the compilation) and prints ``ready LOSS`` with that step's loss; then for
each line ``step`` on its input it takes one step and prints the seconds it
took and the step's loss; ``quit`` prints its peak resident memory in MiB and ends. When the
framework is missing it prints ``unavailable REASON`` and ends.
"""

from __future__ import annotations

import json
import resource
import sys
import time

import numpy as np


def layer_arrays(spec, arrays):
    """(layer spec, its parameter arrays in fnn's order) for every layer."""
    counts = {"conv": lambda s: 2 if s[4] else 1, "bn": lambda s: 2, "dense": lambda s: 2}
    i, out = 0, []
    for layer in spec:
        n = counts.get(layer[0], lambda s: 0)(layer)
        out.append((layer, arrays[i:i + n]))
        i += n
    return out


def torch_step(spec, optimizer, arrays, x, t, threads):
    import torch

    torch.set_num_threads(threads)
    modules, spatial = [], x.ndim == 4
    for layer, ps in layer_arrays(spec, arrays):
        kind = layer[0]
        if kind == "conv":
            _, filters, k, pad, bias = layer
            m = torch.nn.Conv2d(ps[0].shape[1], filters, k, padding=pad, bias=bias)
            m.weight.data = torch.from_numpy(ps[0].copy())
            if bias:
                m.bias.data = torch.from_numpy(ps[1].copy())
        elif kind == "dense":
            m = torch.nn.Linear(*ps[0].shape)
            m.weight.data = torch.from_numpy(ps[0].T.copy())
            m.bias.data = torch.from_numpy(ps[1].copy())
        elif kind == "bn":
            # fnn's running = 0.9·running + 0.1·batch is torch's momentum 0.1
            m = (torch.nn.BatchNorm2d if spatial else torch.nn.BatchNorm1d)(
                len(ps[0]), eps=1e-5, momentum=0.1)
            m.weight.data, m.bias.data = torch.from_numpy(ps[0].copy()), torch.from_numpy(ps[1].copy())
        elif kind == "relu":
            m = torch.nn.ReLU()
        elif kind == "leaky":
            m = torch.nn.LeakyReLU(layer[1])
        elif kind == "maxpool":
            m = torch.nn.MaxPool2d(layer[1])
        elif kind == "flatten":
            m, spatial = torch.nn.Flatten(), False
        else:
            raise ValueError(f"unknown layer {layer}")
        modules.append(m)
    net = torch.nn.Sequential(*modules).train()
    if optimizer[0] == "adam":
        _, lr, b1, b2, eps = optimizer
        opt = torch.optim.Adam(net.parameters(), lr, betas=(b1, b2), eps=eps)
    else:
        # fnn's v ← μ·v − lr·g, p ← p + v is torch's v ← μ·v + g, p ← p − lr·v
        _, lr, mu = optimizer
        opt = torch.optim.SGD(net.parameters(), lr, momentum=mu)
    xs, ts = torch.from_numpy(x), torch.from_numpy(t.astype(np.int64))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(net(xs), ts)
        loss.backward()
        opt.step()
        return float(loss.detach())

    return step


def jax_step(spec, optimizer, arrays, x, t, threads):
    import jax
    import jax.numpy as jnp

    layers = layer_arrays(spec, arrays)
    params = [[jnp.asarray(p) for p in ps] for _, ps in layers]
    bn_state = [[jnp.zeros(len(ps[0])), jnp.ones(len(ps[0]))] if layer[0] == "bn" else []
                for layer, ps in layers]

    def forward(params, bn_state, x):
        new_state = []
        for (layer, _), ps, st in zip(layers, params, bn_state, strict=True):
            kind = layer[0]
            if kind == "conv":
                pad = layer[3]
                x = jax.lax.conv_general_dilated(x, ps[0], (1, 1), [(pad, pad), (pad, pad)],
                                                 dimension_numbers=("NCHW", "OIHW", "NCHW"))
                if layer[4]:
                    x = x + ps[1][None, :, None, None]
            elif kind == "dense":
                x = x @ ps[0] + ps[1]
            elif kind == "bn":
                axes = (0, 2, 3) if x.ndim == 4 else (0,)
                shape = (1, -1, 1, 1) if x.ndim == 4 else (1, -1)
                mean, var = x.mean(axes), x.var(axes)
                x = (x - mean.reshape(shape)) / jnp.sqrt(var.reshape(shape) + 1e-5)
                x = x * ps[0].reshape(shape) + ps[1].reshape(shape)
                st = [0.9 * st[0] + 0.1 * mean, 0.9 * st[1] + 0.1 * var]
            elif kind == "relu":
                x = jnp.maximum(x, 0)
            elif kind == "leaky":
                x = jnp.where(x > 0, x, layer[1] * x)
            elif kind == "maxpool":
                k = layer[1]
                x = jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 1, k, k), (1, 1, k, k),
                                          "VALID")
            elif kind == "flatten":
                x = x.reshape(len(x), -1)
            new_state.append(st)
        return x, new_state

    def loss_fn(params, bn_state, x, t):
        logits, new_state = forward(params, bn_state, x)
        logp = jax.nn.log_softmax(logits)
        return -jnp.take_along_axis(logp, t[:, None], axis=1).mean(), new_state

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
    if optimizer[0] == "adam":
        _, lr, b1, b2, eps = optimizer
        opt_state = (jax.tree.map(jnp.zeros_like, params), jax.tree.map(jnp.zeros_like, params),
                     jnp.zeros((), jnp.int32))

        def update(params, grads, opt_state):
            m, v, count = opt_state
            count = count + 1
            m = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, m, grads)
            v = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, v, grads)
            c1, c2 = 1 - b1 ** count, 1 - b2 ** count
            params = jax.tree.map(lambda p, m, v: p - lr * (m / c1) / (jnp.sqrt(v / c2) + eps),
                                  params, m, v)
            return params, (m, v, count)
    else:
        _, lr, mu = optimizer
        opt_state = jax.tree.map(jnp.zeros_like, params)

        def update(params, grads, velocity):
            velocity = jax.tree.map(lambda v, g: mu * v - lr * g, velocity, grads)
            return jax.tree.map(lambda p, v: p + v, params, velocity), velocity

    @jax.jit
    def train_step(params, bn_state, opt_state, x, t):
        (loss, new_state), grads = grad_fn(params, bn_state, x, t)
        params, opt_state = update(params, grads, opt_state)
        return params, new_state, opt_state, loss

    xs, ts = jnp.asarray(x), jnp.asarray(t.astype(np.int32))
    box = [params, bn_state, opt_state]

    def step():
        *new, loss = train_step(*box, xs, ts)
        jax.block_until_ready(new)
        box[:] = new
        return float(loss)

    return step


FRAMEWORKS = {"torch": torch_step, "jax": jax_step}


def main() -> None:
    framework, path, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    try:
        make = FRAMEWORKS[framework]
        with np.load(path, allow_pickle=False) as data:
            spec, optimizer = json.loads(str(data["spec"])), json.loads(str(data["optimizer"]))
            arrays = [data[f"p{i}"] for i in range(len(data.files) - 4)]
            x, t = data["x"], data["t"]
        step = make(spec, optimizer, arrays, x, t, threads)
    except ImportError as exc:
        print(f"unavailable {exc}", flush=True)
        return
    print(f"ready {step()!r}", flush=True)
    for line in sys.stdin:
        if line.strip() == "step":
            start = time.perf_counter()
            loss = step()
            print(time.perf_counter() - start, loss, flush=True)
        else:
            break
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, flush=True)


if __name__ == "__main__":
    main()
