"""Adam over a list of tensors in a handful of multi-tensor (``torch._foreach_*``) calls per step.

The same update as ``torch.optim.Adam`` (no weight decay, no amsgrad; its multi-tensor implementation), with
none of the optimiser machinery around it: the networks are small, so a step is bound by the number of
operations, and ``torch.optim``'s first use imports ``torch._dynamo`` (seconds of start-up in every
``gantools train``). Tensors without a gradient are skipped, as ``torch.optim`` skips them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch


class Adam:
    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float,
        betas: tuple[float, float],
        eps: float = 1e-8,
        grads: Iterable[torch.Tensor] | None = None,
    ) -> None:
        """``grads``: the parameters' gradient buffers when they are not their ``.grad`` (flat buffers that
        autograd fills through views: ``stacked._flat_leaves``); ``zero_grad`` then zeroes them in place."""
        self.params = list(params)
        self.grads = None if grads is None else list(grads)
        self.lr, (self.beta1, self.beta2), self.eps = lr, betas, eps
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.steps = [0] * len(self.params)

    def zero_grad(self) -> None:
        if self.grads is not None:
            torch._foreach_zero_(self.grads)
            return
        for p in self.params:
            p.grad = None

    def _grad(self, i: int) -> torch.Tensor | None:
        return self.params[i].grad if self.grads is None else self.grads[i]

    @torch.no_grad()
    def step(self, lr: float | None = None) -> None:
        """One update of every tensor that has a gradient (``lr``: this step's rate; default the fixed one)."""
        live = [i for i in range(len(self.params)) if self._grad(i) is not None]
        if not live:
            return
        for i in live:
            self.steps[i] += 1
        groups: dict[int, list[int]] = {}  # tensors at the same step count share bias corrections
        for i in live:
            groups.setdefault(self.steps[i], []).append(i)
        lr = self.lr if lr is None else lr
        for t, index in groups.items():
            params = [self.params[i] for i in index]
            grads = [self._grad(i) for i in index]
            exp_avg = [self.exp_avg[i] for i in index]
            exp_avg_sq = [self.exp_avg_sq[i] for i in index]
            torch._foreach_lerp_(exp_avg, grads, 1.0 - self.beta1)
            torch._foreach_mul_(exp_avg_sq, self.beta2)
            torch._foreach_addcmul_(exp_avg_sq, grads, grads, 1.0 - self.beta2)
            denom = torch._foreach_sqrt(exp_avg_sq)
            torch._foreach_div_(denom, math.sqrt(1.0 - self.beta2**t))
            torch._foreach_add_(denom, self.eps)
            torch._foreach_addcdiv_(params, exp_avg, denom, -lr / (1.0 - self.beta1**t))
