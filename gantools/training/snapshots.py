"""Early stopping for the GAN: keep the generator snapshot that held-out rows support best.

A GAN's losses say little about sample quality, and on few rows the critic soon memorises them and drags
G along. The held-out rows give an honest signal instead: every ``every`` steps, G's EMA draws ``samples``
rows per class (the same latent draws each time, so checks differ only by G) and each held-out row gets a
log-likelihood from a Gaussian Parzen window over those rows (bandwidth: the one that suits the class's
held-out rows best, as in ``gantools.density``): of the row itself, or of its class given the row (see
``row_log_likelihoods``; the trainer asks for that on small data with several classes, where what helps a
classifier is what counts and the class Gaussians G starts from already fit each class).

After ``patience`` checks without a gain training stops. The snapshot of G (and of D, whose features the
scorer uses) that is kept follows the one-standard-error rule (Breiman et al. 1984): the earliest snapshot
whose mean is within one standard error (of the per-row paired differences) of the best. Few held-out rows
give a large standard error, so on small data G stays close to where it started (with ``gaussian_base``:
the class Gaussians) unless adversarial training measurably improves on it; on large data the rule picks
the best.
"""

from __future__ import annotations

import torch

from gantools.density import choose_bandwidth, log_parzen
from gantools.models import Generator, activate_output

MAX_ROWS_PER_CLASS = 2000


class SnapshotSelector:
    def __init__(
        self,
        X_val: torch.Tensor,
        y_val: torch.Tensor,
        cat_slices: list[tuple[int, int]],
        latent_dim: int,
        gumbel_tau: float,
        seed: int,
        every: int,
        patience: int,
        samples: int = 512,
        posterior: bool = True,
    ) -> None:
        gen = torch.Generator(device=X_val.device).manual_seed(seed + 7)
        self.groups: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []  # (rows, classes, z)
        for c in torch.unique(y_val).tolist():
            rows = X_val[y_val == c][:MAX_ROWS_PER_CLASS]
            z = torch.randn(samples, latent_dim, device=X_val.device, generator=gen)
            self.groups.append((rows, torch.full((samples,), c, device=X_val.device, dtype=y_val.dtype), z))
        self.cat_slices, self.tau, self.seed, self.posterior = cat_slices, gumbel_tau, seed, posterior
        self.every, self.patience = max(1, every), patience
        self.best = float("-inf")
        self.best_step = 0
        self.selected_step: int | None = None
        self.selected_value = float("-inf")
        self.checks_since_best = 0
        self.trace: list[tuple[int, float]] = []
        self._per_row: list[torch.Tensor] = []
        self._states: list[tuple[dict, dict]] = []

    def row_log_likelihoods(self, g: Generator) -> torch.Tensor:
        """Per held-out row: log p_G(x | y), or with ``posterior`` and several classes log p_G(y | x).

        p_G(x | c) is a Parzen window over G's samples of class c (bandwidth: the one under which class c's
        held-out rows are most likely); p_G(y | x) follows with the held-out class shares as priors. That is
        the held-out log-loss of the classifier G's class densities make, which is what synthetic rows must
        get right to help a classifier (a G can fit each class's marginals better and blur the classes).
        """
        torch.manual_seed(self.seed + 11)  # the same Gumbel draws at every check
        with torch.no_grad():
            refs, sigmas = [], []
            for rows, classes, z in self.groups:
                r = activate_output(g(z, classes), self.cat_slices, self.tau, hard=True)
                sigmas.append(choose_bandwidth(rows, r))
                refs.append(r)
            if len(self.groups) == 1 or not self.posterior:
                return torch.cat([log_parzen(grp[0], r, s)[0] for grp, r, s in zip(self.groups, refs, sigmas)]).cpu()
            rows = torch.cat([grp[0] for grp in self.groups])
            own = torch.cat([torch.full((len(grp[0]),), i, dtype=torch.long) for i, grp in enumerate(self.groups)])
            counts = torch.bincount(own).double()
            log_prior = (counts / counts.sum()).log().to(rows.device)
            joint = torch.stack([log_parzen(rows, r, s)[0] for r, s in zip(refs, sigmas)], dim=1) + log_prior
            own = own.to(rows.device)
            return (joint.gather(1, own.unsqueeze(1)).squeeze(1) - torch.logsumexp(joint, dim=1)).cpu()

    def log_likelihood(self, g: Generator) -> float:
        """The mean of ``row_log_likelihoods``."""
        return self.row_log_likelihoods(g).mean().item()

    def check(self, step: int, g: Generator, d: torch.nn.Module) -> bool:
        """Score G at ``step`` and keep the snapshot. True when training should stop."""
        rng_state = torch.get_rng_state()
        per_row = self.row_log_likelihoods(g)
        torch.set_rng_state(rng_state)  # checking must not change the training's random stream
        value = per_row.mean().item()
        self.trace.append((step, value))
        self._per_row.append(per_row)
        self._states.append((_cpu_copy(g.state_dict()), _cpu_copy(d.state_dict())))
        if value > self.best:
            self.best, self.best_step, self.checks_since_best = value, step, 0
            return False
        self.checks_since_best += 1
        return self.checks_since_best >= self.patience

    def select(self) -> int | None:
        """Index of the kept check: the earliest within one standard error of the best."""
        if not self._per_row:
            return None
        best = max(range(len(self._per_row)), key=lambda i: self._per_row[i].mean().item())
        for i in range(best + 1):
            diff = self._per_row[best] - self._per_row[i]
            se = diff.std().item() / len(diff) ** 0.5 if len(diff) > 1 else float("inf")
            if diff.mean().item() <= se:
                return i
        return best

    def restore(self, g: Generator, d: torch.nn.Module) -> None:
        """Load the selected snapshot into ``g`` and ``d``."""
        index = self.select()
        if index is None:
            return
        g.load_state_dict(self._states[index][0])
        d.load_state_dict(self._states[index][1])
        self.selected_step, self.selected_value = self.trace[index]

    def state(self) -> tuple[dict[str, torch.Tensor], dict]:
        """(tensors, JSON) of the checks so far: for a checkpoint (``load_state`` reads them back)."""
        tensors = {}
        for i, (per_row, (g, d)) in enumerate(zip(self._per_row, self._states)):
            tensors[f"{i}.per_row"] = per_row
            tensors.update({f"{i}.g.{k}": v for k, v in g.items()})
            tensors.update({f"{i}.d.{k}": v for k, v in d.items()})
        meta = {"best": self.best, "best_step": self.best_step, "checks_since_best": self.checks_since_best,
                "trace": [list(t) for t in self.trace]}  # fmt: skip
        return tensors, meta

    def load_state(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        selector = meta["selector"]
        self.best, self.best_step = float(selector["best"]), int(selector["best_step"])
        self.checks_since_best = int(selector["checks_since_best"])
        self.trace = [(int(step), float(value)) for step, value in selector["trace"]]
        self._per_row, self._states = [], []
        for i in range(len(self.trace)):
            self._per_row.append(tensors[f"{i}.per_row"])
            g = {k[len(f"{i}.g.") :]: v for k, v in tensors.items() if k.startswith(f"{i}.g.")}
            d = {k[len(f"{i}.d.") :]: v for k, v in tensors.items() if k.startswith(f"{i}.d.")}
            self._states.append((g, d))


def _cpu_copy(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in state.items()}
