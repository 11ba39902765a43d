"""Several GANs trained as one: the weights of K generators and K critics stacked along a first axis.

The networks are small MLPs, so a training step is bound by the number of operations, not by arithmetic
(benchmarks/results/gpu_h100.md, speed.md): K members trained one after another cost K times the
operations; stacked, one batched matrix product (``baddbmm``) serves every member and a step costs about
as many operations as one member's. Every member keeps its own batch, noise and parameters, and its loss
is its own mean, so the gradients (and Adam's per-element updates) are exactly those of K separate runs.

The step is lean as well: the critic sees real and fake rows in one pass; spectral normalisation runs its
power iteration once per step (``spectral_weights``) instead of at every call of the critic; G's step
takes no gradients into D's parameters; each network's parameters and gradients live in one flat buffer
each, so Adam and the EMA update one tensor per network.

``StackedGAN.from_modules`` stacks freshly initialised ``Generator`` / ``Discriminator`` modules (so a
member starts exactly where a single network of the same seed starts) and ``export`` writes member k
back into such modules, which sampling, scoring and the model folder use unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gantools.models import Discriminator, Generator

Params = dict[str, torch.Tensor]
LEAK = 0.2  # the critic's LeakyReLU slope (as in models.Discriminator)
SN_EPS = 1e-12


def _stack(states: list[dict[str, torch.Tensor]]) -> Params:
    return {name: torch.stack([s[name] for s in states]).detach().clone() for name in states[0]}


def _flat_leaves(params: Params) -> tuple[torch.Tensor, torch.Tensor, Params]:
    """One buffer holding every tensor of ``params``, one for their gradients, and each parameter as a leaf
    that shares the first buffer's storage, its ``.grad`` a view of the second (autograd accumulates into a
    gradient that is already there, in place): the optimiser and the EMA then update one tensor per network,
    not one per parameter (the CPU step is bound by the number of operations)."""
    data = torch.cat([p.detach().reshape(-1) for p in params.values()])
    grad = torch.zeros_like(data)
    grads = _views(grad, params)
    leaves = {name: view.detach().requires_grad_(True) for name, view in _views(data, params).items()}
    for name, leaf in leaves.items():
        leaf.grad = grads[name]
    return data, grad, leaves


def _views(data: torch.Tensor, like: Params) -> Params:
    """``data`` cut into tensors shaped as ``like``'s (views, in the same order)."""
    out, start = {}, 0
    for name, p in like.items():
        out[name] = data[start : start + p.numel()].view(p.shape)
        start += p.numel()
    return out


def _linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """x (K, n, in) · weight (K, out, in)ᵀ + bias (K, out): every member's layer in one batched product."""
    return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))


def _layer_norm(h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    return torch.addcmul(bias.unsqueeze(1), F.layer_norm(h, h.shape[-1:]), weight.unsqueeze(1))


def _lookup(table: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Rows ``y`` (K, n) of each member's table (K, C, ...): (K, n, ...); one class: a broadcast view.

    A product with one-hot rows, not indexing: indexing's backward adds the gradient rows with parallel atomic
    adds on a CPU with several threads (and on a GPU), so two trainings with one seed differed in the last bits.
    """
    if table.shape[1] == 1:
        return table[:, :1]
    onehot = F.one_hot(y, table.shape[1]).to(table.dtype)  # (K, n, C)
    return torch.bmm(onehot, table.flatten(2)).view(*y.shape, *table.shape[2:])


class StackedGAN:
    """K generators (and their EMA copies) and K critics with stacked weights, trained in one step."""

    def __init__(
        self, g: Params, d: Params, n_layers_g: int, n_layers_d: int, gaussian_base: bool, latent_dim: int
    ) -> None:
        # each network's parameters in one flat buffer (``g_flat``, ``d_flat``) with one for their gradients
        # (``g_grad``, ``d_grad``); ``g`` / ``d_raw`` name the leaves that share them
        self.g_flat, self.g_grad, self.g = _flat_leaves(g)
        self.g_ema_flat = self.g_flat.clone()
        self.g_ema = _views(self.g_ema_flat, self.g)
        weights = {k: v for k, v in d.items() if not k.endswith(("._u", "._v"))}
        self.d_flat, self.d_grad, self.d_raw = _flat_leaves(weights)
        # spectral norm's power-iteration vectors (u, v), one pair per normalised weight and member, by the
        # weight's parametrization prefix ("body.0.parametrizations.weight")
        self.sn_vectors = {k[: -len(".0._u")]: (d[k], d[k[:-2] + "_v"]) for k in d if k.endswith(".0._u")}
        self.n_layers_g, self.n_layers_d = n_layers_g, n_layers_d
        self.gaussian_base = gaussian_base
        self.latent_dim = latent_dim
        self.members = len(next(iter(g.values())))

    @classmethod
    def from_modules(cls, generators: list[Generator], critics: list[Discriminator]) -> StackedGAN:
        g0, d0 = generators[0], critics[0]
        return cls(
            _stack([g.state_dict() for g in generators]),
            _stack([d.state_dict() for d in critics]),
            len(g0.blocks),
            sum(isinstance(m, torch.nn.Linear) for m in d0.body),
            g0.gaussian_base,
            g0.latent_dim,
        )

    # ------------------------------------------------------------------ generator
    def generate(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """G_k(z_k, y_k) for every member: z (K, n, latent), y (K, n) -> raw outputs (K, n, features)."""
        p = self.g
        h = _linear(z, p["inp.weight"], p["inp.bias"]) + _lookup(p["embed.weight"], y)
        for i in range(self.n_layers_g):
            block = f"blocks.{i}."
            normed = _layer_norm(h, p[block + "norm.weight"], p[block + "norm.bias"])
            h = h + F.silu(_linear(normed, p[block + "linear.weight"], p[block + "linear.bias"]))
        h = _linear(_layer_norm(h, p["out.0.weight"], p["out.0.bias"]), p["out.1.weight"], p["out.1.bias"])
        if self.gaussian_base:
            scale = _lookup(p["base_scale"], y)  # (K, n or 1, latent, features)
            spread = torch.einsum("knl,knlf->knf", z, scale.expand(-1, z.shape[1], -1, -1))
            h = h + _lookup(p["base_mean"], y) + spread
        return h

    # ------------------------------------------------------------------ critic
    def spectral_weights(self, power_iteration: bool) -> Params:
        """The critic's weights with every spectrally normalised one divided by its largest singular value
        (estimated as torch's ``spectral_norm`` does: u·Wv with u, v from the power iteration, which
        ``power_iteration`` advances by one step for every member). Without the power step (G's step) the
        weights come back detached: no gradients flow into the critic."""
        out = dict(self.d_raw) if power_iteration else {k: v.detach() for k, v in self.d_raw.items()}
        for name, (u, v) in self.sn_vectors.items():
            weight = out[name + ".original"]
            matrix = weight.flatten(2) if weight.dim() > 3 else weight  # (K, out, in)
            if power_iteration:  # torch's order: u from v, then v from u
                with torch.no_grad():
                    u.copy_(F.normalize(torch.bmm(matrix, v.unsqueeze(2)).squeeze(2), dim=1, eps=SN_EPS))
                    v.copy_(
                        F.normalize(torch.bmm(matrix.transpose(1, 2), u.unsqueeze(2)).squeeze(2), dim=1, eps=SN_EPS)
                    )
            sigma = (u * torch.bmm(matrix, v.unsqueeze(2)).squeeze(2)).sum(dim=1)
            out[name.removesuffix(".parametrizations.weight")] = weight / sigma.view(-1, *[1] * (weight.dim() - 1))
        return out

    def critic(
        self, w: Params, x: torch.Tensor, y: torch.Tensor, batch_stats: bool = False, halves: int = 1
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """D_k(x_k, y_k) (K, n) and the features f(x) (K, n, hidden), from ``spectral_weights``' weights.

        ``batch_stats``: minibatch standard deviation, computed within each of ``halves`` equal parts of the
        rows (real and fake rows in one pass are two batches to the critic)."""
        h = x
        for i in range(self.n_layers_d):
            h = F.leaky_relu(_linear(h, w[f"body.{2 * i}"], w[f"body.{2 * i}.bias"]), LEAK)
        out = _linear(h, w["head"], w["head.bias"]).squeeze(2) + (_lookup(w["embed"], y) * h).sum(dim=2)
        if batch_stats:
            k, n, width = h.shape
            parts = h.view(k, halves, n // halves, width)
            spread = parts.std(dim=2, unbiased=False).mean(dim=2)  # (K, halves)
            head = _linear(spread.unsqueeze(2), w["spread_head"], w["spread_head.bias"])  # (K, halves, 1)
            out = out + head.expand(k, halves, n // halves).reshape(k, n)
        return out, h

    def classify(self, w: Params, features: torch.Tensor) -> torch.Tensor:
        return _linear(features, w["classifier.weight"], w["classifier.bias"])

    # ------------------------------------------------------------------ members as modules
    def export(self, k: int, generator: Generator, generator_ema: Generator, critic: Discriminator) -> None:
        """Write member ``k``'s weights (G, its EMA, D with its power-iteration state) into modules."""
        with torch.no_grad():
            generator.load_state_dict({n: t[k] for n, t in self.g.items()})
            generator_ema.load_state_dict({n: t[k] for n, t in self.g_ema.items()})
            state = {n: t[k] for n, t in self.d_raw.items()}
            for name, (u, v) in self.sn_vectors.items():
                state[name + ".0._u"], state[name + ".0._v"] = u[k], v[k]
            critic.load_state_dict(state)
