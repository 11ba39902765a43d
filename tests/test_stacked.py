"""Several GANs trained as one stack (gantools.training.stacked): each member computes what its own
Generator / Discriminator module computes, and trains as it would alone."""

from __future__ import annotations

import torch

from gantools.models import Discriminator, Generator
from gantools.training.stacked import StackedGAN


def _members(k: int, classes: int = 3, gaussian: bool = False) -> tuple[list[Generator], list[Discriminator]]:
    gs, ds = [], []
    for seed in range(k):
        torch.manual_seed(seed)
        gs.append(Generator(5, classes, 6, 16, 2, gaussian_base=gaussian))
        ds.append(Discriminator(6, classes, 16, 3))
    if gaussian:
        for g in gs:
            with torch.no_grad():
                g.base_mean.normal_()
                g.base_scale.normal_()
    return gs, ds


def test_each_member_computes_what_its_own_modules_compute():
    for classes, gaussian in ((3, False), (1, False), (3, True)):
        gs, ds = _members(3, classes, gaussian)
        stacked = StackedGAN.from_modules(gs, ds)
        z = torch.randn(3, 40, 5)
        y = torch.randint(classes, (3, 40))
        x = torch.randn(3, 40, 6)
        with torch.no_grad():
            raw = stacked.generate(z, y)
            weights = stacked.spectral_weights(power_iteration=False)
            scores, features = stacked.critic(weights, x, y, batch_stats=True)
            logits = stacked.classify(weights, features)
        for k, (g, d) in enumerate(zip(gs, ds)):
            g.eval(), d.eval()  # eval: spectral norm from the stored u, v, as the stack without a power step
            with torch.no_grad():
                torch.testing.assert_close(raw[k], g(z[k], y[k]), rtol=1e-5, atol=1e-5)
                expected, h = d(x[k], y[k], batch_stats=True)
                torch.testing.assert_close(scores[k], expected, rtol=1e-5, atol=1e-5)
                torch.testing.assert_close(features[k], h, rtol=1e-5, atol=1e-5)
                torch.testing.assert_close(logits[k], d.classifier(h), rtol=1e-5, atol=1e-5)


def test_a_member_s_gradients_are_its_own_and_match_a_lone_network():
    gs, ds = _members(2)
    stacked = StackedGAN.from_modules(gs, ds)
    z, y = torch.randn(2, 32, 5), torch.randint(3, (2, 32))
    weights = stacked.spectral_weights(power_iteration=False)
    scores, _ = stacked.critic(weights, stacked.generate(z, y), y)
    scores[0].mean().backward()  # member 0's loss only
    assert all(p.grad[1].abs().max() == 0 for p in stacked.g.values() if p.grad is not None)
    g, d = gs[0], ds[0].eval()
    d.requires_grad_(False)
    d(g(z[0], y[0]), y[0])[0].mean().backward()
    torch.testing.assert_close(stacked.g["inp.weight"].grad[0], g.inp.weight.grad, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(
        stacked.g["blocks.1.linear.weight"].grad[0], g.blocks[1].linear.weight.grad, rtol=1e-4, atol=1e-6
    )


def test_the_power_iteration_converges_to_the_largest_singular_value_and_exports():
    gs, ds = _members(2)
    stacked = StackedGAN.from_modules(gs, ds)
    for _ in range(60):
        weights = stacked.spectral_weights(power_iteration=True)
    for k in range(2):
        normalised = weights["body.2"][k].detach()
        assert abs(float(torch.linalg.matrix_norm(normalised, ord=2)) - 1.0) < 1e-3
    # exported members carry the same weights and power-iteration state: their modules score alike
    with torch.no_grad():
        stacked.d_raw["head.bias"].add_(0.5)
    g, g_ema, d = Generator(5, 3, 6, 16, 2), Generator(5, 3, 6, 16, 2), Discriminator(6, 3, 16, 3)
    stacked.export(1, g, g_ema, d)
    x, y = torch.randn(1, 20, 6), torch.randint(3, (1, 20))
    with torch.no_grad():
        weights = stacked.spectral_weights(power_iteration=False)
        expected = stacked.critic(weights, torch.cat([x, x]), torch.cat([y, y]))[0][1]
        torch.testing.assert_close(d.eval()(x[0], y[0])[0], expected, rtol=1e-5, atol=1e-5)


def test_adam_updates_as_torch_optim_adam_does_and_skips_tensors_without_gradients():
    from gantools.training.adam import Adam

    torch.manual_seed(0)
    ours = [torch.randn(4, 3, requires_grad=True), torch.randn(5, requires_grad=True)]
    theirs = [p.detach().clone().requires_grad_(True) for p in ours]
    mine, reference = Adam(ours, 1e-2, (0.5, 0.9)), torch.optim.Adam(theirs, lr=1e-2, betas=(0.5, 0.9))
    for step in range(6):
        for params, opt in ((ours, mine), (theirs, reference)):
            opt.zero_grad()
            loss = (params[0] ** 2).sum() * (step + 1)
            if step % 2 == 0:  # the second tensor takes part every other step only
                loss = loss + (params[1] ** 3).sum()
            loss.backward()
            opt.step()
        for a, b in zip(ours, theirs):
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_one_hot_blocks_are_activated_per_row_for_every_member():
    """Categories of a stack's fake rows (members × rows × slots): each block a distribution over its own
    slots, numeric slots untouched (the slots are the last axis, not the rows)."""
    from gantools.models import activate_output
    from gantools.training.trainer import decode

    raw = torch.randn(3, 300, 7)
    for out in (activate_output(raw, [(2, 5)], tau=0.2), activate_output(raw[0], [(2, 5)], tau=0.2)):
        torch.testing.assert_close(out[..., 2:5].sum(-1), torch.ones(out.shape[:-1]))
        torch.testing.assert_close(out[..., :2], raw[..., :2] if out.dim() == 3 else raw[0, :, :2])
        torch.testing.assert_close(out[..., 5:], raw[..., 5:] if out.dim() == 3 else raw[0, :, 5:])
    g = Generator(5, 2, 7, 16, 2)
    probs = decode(g, torch.randn(50, 5), torch.zeros(50, dtype=torch.long), [(2, 5)])
    torch.testing.assert_close(probs[:, 2:5].sum(1), torch.ones(50))


def test_flat_buffers_train_the_parameters_as_separate_tensors_would():
    """G's parameters are leaves sharing one buffer, their gradients views of another: Adam on the two flat
    buffers moves every parameter as torch.optim.Adam on the separate tensors does, and the EMA of the flat
    buffer is the EMA of each tensor."""
    from gantools.training.adam import Adam

    gs, ds = _members(2)
    stacked = StackedGAN.from_modules(gs, ds)
    separate = {n: p.detach().clone().requires_grad_(True) for n, p in stacked.g.items()}
    reference = torch.optim.Adam(separate.values(), lr=1e-2, betas=(0.5, 0.9))
    ours = Adam([stacked.g_flat], 1e-2, (0.5, 0.9), grads=[stacked.g_grad])
    weights = stacked.spectral_weights(power_iteration=False)
    torch.manual_seed(1)
    for _ in range(4):
        z, y = torch.randn(2, 32, 5), torch.randint(3, (2, 32))
        ours.zero_grad()
        stacked.critic(weights, stacked.generate(z, y), y)[0].mean().backward()
        ours.step()
        reference.zero_grad()
        original, stacked.g = stacked.g, separate  # the same forward pass over the separate tensors
        stacked.critic(weights, stacked.generate(z, y), y)[0].mean().backward()
        stacked.g = original
        reference.step()
        assert float(stacked.g_grad.abs().sum()) > 0  # autograd accumulated into the flat gradient buffer
        for name, p in stacked.g.items():
            torch.testing.assert_close(p, separate[name], rtol=1e-5, atol=1e-6)
    torch._foreach_lerp_([stacked.g_ema_flat], [stacked.g_flat], 0.5)
    for name, p in stacked.g_ema.items():  # the EMA started at the initial weights
        initial = torch.stack([g.state_dict()[name] for g in gs])
        torch.testing.assert_close(p, 0.5 * (initial + stacked.g[name].detach()), rtol=1e-5, atol=1e-6)
