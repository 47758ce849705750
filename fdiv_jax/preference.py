r"""Preference optimisation with f-divergences: f-DPO, f-DPG and mass-covering regularisers.

Each loss takes sequence log-probabilities (summed token log-probs), the inputs
DPO implementations take, and an entry of the registry.

**f-DPO** (Wang et al., 2024). Under the constraint
:math:`\beta D_f(\pi\,\|\,\pi_{ref}) = \beta\,\mathbb E_{\pi_{ref}}[f(\pi/\pi_{ref})]`
the optimal policy satisfies :math:`r(x, y) = \beta f'(u) + c(x)` with
:math:`u = \pi(y|x)/\pi_{ref}(y|x)`, so Bradley-Terry preferences give

.. math::
  \ell = -\log\sigma\big(\beta f'(u_w) - \beta f'(u_l)\big)

for the chosen (``w``) and rejected (``l``) responses. Here ``P = policy`` and
``Q = reference`` in the registry's :math:`D_f(P\|Q) = \mathbb E_Q[f(p/q)]`:

* ``"kl"`` (:math:`f = u\log u`, :math:`f' = \log u + 1`) constrains
  :math:`\mathrm{KL}(\pi\|\pi_{ref})`, which the RLHF literature (and the f-DPO paper)
  calls the *reverse* KL; with it the loss is exactly DPO (Rafailov et al., 2023).
* ``"reverse_kl"`` (:math:`f' = -1/u`) constrains :math:`\mathrm{KL}(\pi_{ref}\|\pi)`,
  the papers' *forward* KL (mass-covering).
* ``"js"`` (:math:`f' = \log\frac{2u}{1+u}`) is the papers' Jensen-Shannon.
* ``alpha(a)`` (:math:`f' = (u^{a-1} - 1)/(a - 1)`) is the paper's α-divergence with
  :math:`\alpha_{paper} = 1 - a`: ``a -> 1`` is DPO, ``a -> 0`` the forward KL.

Entries whose :math:`f'` is not strictly increasing (total variation) do not
identify the policy from a reward and raise.

**f-DPG** (Go et al., 2023). Fit :math:`\pi_\theta` to a target known up to a
constant, :math:`p \propto \pi_{ref}\,e^{r/\beta}` (or a filtered :math:`\pi_{ref}`),
by minimising :math:`D_f(p\,\|\,\pi_\theta) = \mathbb E_{\pi_\theta}[f(p/\pi_\theta)]` from
samples of the policy: the score-function gradient
:math:`\mathbb E_{\pi_\theta}[(f(u) - u f'(u))\nabla\log\pi_\theta]` with the normaliser of
``p`` estimated in-batch (:func:`fdiv_jax.f_divergence`). Here ``P = target`` and
``Q = policy``, so the names run the other way: ``"reverse_kl"`` is
:math:`\mathrm{KL}(\pi_\theta\|p)` (RL with a KL penalty, mode-seeking) and ``"kl"`` is
:math:`\mathrm{KL}(p\|\pi_\theta)` (DPG, mass-covering).

**Mass-covering regulariser** (DPH-RL, 2025): keep a policy close to its initial
policy :math:`\pi_0` by :math:`D_f(\pi_0\,\|\,\pi_\theta)`, estimated from samples of
:math:`\pi_0` alone (a fixed dataset drawn once): with ``"kl"`` it is the forward
:math:`\mathrm{KL}(\pi_0\|\pi_\theta)`, whose gradient :math:`-\mathbb E_{\pi_0}[\nabla\log
\pi_\theta]` pulls up every response the initial policy gave.

References:
  Rafailov et al. Direct Preference Optimization. NeurIPS 2023.
  Wang, Jiang, Yang, Liu, Chen. Beyond Reverse KL: Generalizing Direct Preference
  Optimization with Diverse Divergence Constraints. ICLR 2024.
  Go et al. Aligning Language Models with Preferences through f-divergence
  Minimization. ICML 2023.
  The Choice of Divergence: A Neglected Key to Mitigating Diversity Collapse in
  Reinforcement Learning with Verifiable Reward (DPH-RL). 2025.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from fdiv_jax import _checks, monte_carlo
from fdiv_jax.divergences import Divergence, resolve

__all__ = [
  "f_dpg_loss",
  "f_dpo_loss",
  "implicit_reward",
  "mass_covering_regularizer",
]


def _invertible(divergence: str | Divergence) -> Divergence:
  div = resolve(divergence)
  if not div.f_prime_invertible:
    raise ValueError(
      f"divergence {div.name!r} cannot constrain f-DPO: its f' is not strictly increasing "
      f"({div.no_inverse_reason}), so a reward does not determine the policy"
    )
  return div


def implicit_reward(
  policy_logps: ArrayLike,
  reference_logps: ArrayLike,
  *,
  divergence: str | Divergence,
  beta: ArrayLike,
) -> jax.Array:
  r"""f-DPO's implicit reward :math:`\hat r = \beta f'(\pi/\pi_{ref})` (up to a prompt
  constant), from sequence log-probabilities of the same responses.

  Example:
    >>> import jax.numpy as jnp
    >>> float(implicit_reward(jnp.log(0.5), jnp.log(0.25), divergence="kl", beta=0.1))
    0.169...

  Args:
    policy_logps: :math:`\log\pi(y|x)`, any shape.
    reference_logps: :math:`\log\pi_{ref}(y|x)`, the same shape.
    divergence: Registry name or record, with :math:`f'` strictly increasing.
    beta: Constraint strength, > 0.

  Returns:
    :math:`\beta f'(u)`, the shape of the inputs.
  """
  return _reward(policy_logps, reference_logps, divergence, beta)


def _reward(policy, reference, divergence, beta, names=("policy_logps", "reference_logps")):
  """``beta f'(policy - reference)``, its arguments checked under the caller's names."""
  div = _invertible(divergence)
  beta = _checks.positive("beta", beta)
  policy = _checks.floating(names[0], policy)
  reference = _checks.floating(names[1], reference)
  _checks.same_shape(names[0], policy, names[1], reference)
  return beta * div.f_prime(policy - reference)


def f_dpo_loss(
  policy_chosen_logps: ArrayLike,
  policy_rejected_logps: ArrayLike,
  reference_chosen_logps: ArrayLike,
  reference_rejected_logps: ArrayLike,
  *,
  divergence: str | Divergence,
  beta: ArrayLike,
) -> jax.Array:
  r"""Per-pair f-DPO loss :math:`-\log\sigma(\beta f'(u_w) - \beta f'(u_l))` (no reduction).

  With ``divergence="kl"`` this is DPO: :math:`f'(u) = \log u + 1`, the 1s cancel.
  See the module docstring for which direction each entry constrains. The margin is
  formed from log-ratios in the registry's stable :math:`f'` and the loss is
  ``softplus(-margin)``, finite (with finite gradients) for log-ratios of ±80 for
  ``kl``, ``reverse_kl``, ``js`` and ``alpha`` with ``a`` in [0, 2].

  Example:
    >>> import jax.numpy as jnp
    >>> z = jnp.zeros(2)
    >>> f_dpo_loss(z, z, z, z, divergence="js", beta=0.1)
    Array([0.6931472, 0.6931472], dtype=float32)

  Args:
    policy_chosen_logps: :math:`\log\pi(y_w|x)`, ``[B]`` (any shape).
    policy_rejected_logps: :math:`\log\pi(y_l|x)`, the same shape.
    reference_chosen_logps: :math:`\log\pi_{ref}(y_w|x)`, the same shape.
    reference_rejected_logps: :math:`\log\pi_{ref}(y_l|x)`, the same shape.
    divergence: Registry name or record whose :math:`f'` is strictly increasing.
    beta: Constraint strength, > 0 (may be traced).

  Returns:
    The losses, the shape of the inputs.

  Raises:
    ValueError: shapes differ, a concrete ``beta <= 0``, or a divergence whose
      :math:`f'` is not invertible (total variation).
  """
  chosen = _reward(
    policy_chosen_logps,
    reference_chosen_logps,
    divergence,
    beta,
    ("policy_chosen_logps", "reference_chosen_logps"),
  )
  rejected = _reward(
    policy_rejected_logps,
    reference_rejected_logps,
    divergence,
    beta,
    ("policy_rejected_logps", "reference_rejected_logps"),
  )
  _checks.same_shape("policy_chosen_logps", chosen, "policy_rejected_logps", rejected)
  return jax.nn.softplus(-(chosen - rejected))


def f_dpg_loss(
  policy_logps: ArrayLike,
  target_logps: ArrayLike,
  *,
  divergence: str | Divergence,
  baseline: bool = True,
) -> jax.Array:
  r"""f-DPG surrogate for :math:`D_f(p\,\|\,\pi_\theta) = \mathbb E_{\pi_\theta}[f(p/\pi_\theta)]`
  from a batch of the policy's own samples, ``p`` known up to a constant (reduces the
  last axis).

  The value is the self-normalised estimate of the divergence; the gradient is the
  score-function estimate :math:`\frac1N\sum_i (s_i - b_i)\nabla\log\pi_\theta(y_i)`,
  :math:`s = f(u) - u f'(u)`, with a leave-one-out baseline and
  :math:`\log u_i = \log\tilde p(y_i) - \log\pi_\theta(y_i) - \log\hat Z` (Go et al.,
  2023: the in-batch normaliser). This is :func:`fdiv_jax.f_divergence` with
  ``gradient="score_function", self_normalize=True``.

  Args:
    policy_logps: :math:`\log\pi_\theta(y_i)` ``[..., N]`` at samples drawn from the
      policy under ``stop_gradient``; differentiable in the parameters.
    target_logps: :math:`\log\tilde p(y_i)`, e.g.
      :math:`\log\pi_{ref}(y_i) + r(y_i)/\beta`, the same shape.
    divergence: Registry name or record (``"kl"``: DPG's forward KL;
      ``"reverse_kl"``: RL with a KL penalty; ``"js"``).
    baseline: The leave-one-out baseline (needs ``N >= 2``).

  Returns:
    The surrogate, shape ``[...]``.
  """
  return monte_carlo.f_divergence(
    target_logps,
    policy_logps,
    divergence=divergence,
    self_normalize=True,
    gradient="score_function",
    baseline=baseline,
  )


def mass_covering_regularizer(
  policy_logps: ArrayLike,
  initial_logps: ArrayLike,
  *,
  divergence: str | Divergence = "kl",
) -> jax.Array:
  r"""DPH-RL's regulariser :math:`D_f(\pi_0\,\|\,\pi_\theta)` from samples of the initial
  policy :math:`\pi_0` alone (reduces the last axis).

  By :math:`\mathbb E_{\pi_\theta}[f(\pi_0/\pi_\theta)] =
  \mathbb E_{\pi_0}[f^\diamond(\pi_\theta/\pi_0)]` with the Csiszar dual
  :math:`f^\diamond(t) = t f(1/t)` (:meth:`Divergence.reversed`), the estimate is
  :math:`\frac1N\sum_i f^\diamond(\pi_\theta(y_i)/\pi_0(y_i))`, :math:`y_i \sim \pi_0`,
  differentiable through ``policy_logps`` (the samples do not depend on the policy).
  ``"kl"``: :math:`\mathrm{KL}(\pi_0\|\pi_\theta) = \mathbb E_{\pi_0}[\log\pi_0 -
  \log\pi_\theta]`; ``"js"``: Jensen-Shannon; ``"reverse_kl"``:
  :math:`\mathrm{KL}(\pi_\theta\|\pi_0)` by importance weights (mode-seeking, for
  comparison).

  Example:
    >>> import jax.numpy as jnp
    >>> float(mass_covering_regularizer(jnp.log(jnp.array([0.5, 0.25])),
    ...                                 jnp.log(jnp.array([0.5, 0.5]))))
    0.346...

  Args:
    policy_logps: :math:`\log\pi_\theta(y_i)` ``[..., N]`` at samples of :math:`\pi_0`.
    initial_logps: :math:`\log\pi_0(y_i)`, the same shape.
    divergence: Registry name or record.

  Returns:
    The estimate, shape ``[...]``.
  """
  dual = resolve(divergence).reversed()
  log_t = monte_carlo.log_ratio(policy_logps, initial_logps)
  return jnp.mean(dual.f(log_t), axis=-1)
