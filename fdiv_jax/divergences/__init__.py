r"""The f-divergence registry.

Convention used throughout fdiv_jax:

.. math::
  D_f(P \,\|\, Q) = \mathbb{E}_{x \sim Q}\big[f(u(x))\big], \qquad
  u = \frac{p}{q}, \quad f \text{ convex}, \quad f(1) = 0,

so ``"kl"`` is :math:`\mathrm{KL}(P\|Q)` (:math:`f = u \log u`) and
``"reverse_kl"`` is :math:`\mathrm{KL}(Q\|P)` (:math:`f = -\log u`). The ``"gan"``
entry keeps the conventional :math:`f(1) = -\log 4` of Goodfellow et al.

Every entry is a :class:`Divergence` record whose functions take **log** ratios
(``log_u``) or critic outputs and are evaluated in a numerically stable form.
The contract (float32, tested in ``tests/test_divergences.py``):

* ``f``, ``activation`` and ``conjugate_of_activation`` return no ``NaN``, in
  values or in gradients with respect to their input, for any finite input
  (out to +-3e38), with a concrete or a traced order; ``inf`` only where the
  true value overflows. Where a generator grows like :math:`e^{l} g(l)` it is
  evaluated as :math:`\exp(l + \log g(l))` with its derivative formed in the
  primal (:func:`_exp_of`), so e.g. ``alpha(3).f(30)`` (:math:`e^{90}/6`) and
  ``js.f(89)`` are finite and ``gan.f(89)`` is -90.
* For :math:`|\log u| \le 80` values and gradients match float64 textbook
  forms; ``log u = -inf`` (a sample outside ``P``'s support, a masked class)
  gives :math:`f(0^+)` with a zero gradient where that is finite.
* ``NaN`` in gives ``NaN`` out. Gradients with respect to a family parameter
  (``alpha``) are ``NaN``-free where the value is finite; ``conjugate`` (the raw
  Fenchel conjugate; training uses ``conjugate_of_activation``) keeps the
  :math:`|t| \le 80` contract.

Fields of a record (all pure, elementwise, jit/vmap/grad friendly):

* ``f(log_u)``: the generator :math:`f(u)`.
* ``conjugate(t)``: the Fenchel conjugate :math:`f^*(t) = \sup_u tu - f(u)`
  (``+inf`` outside its domain).
* ``activation(v)``: the f-GAN output map :math:`g_f` of a real critic output
  onto the domain of :math:`f^*` (Nowozin et al., 2016, Table 6).
* ``conjugate_of_activation(v)``: the fused, stable :math:`f^*(g_f(v))`.
* ``f_prime_at_one``: :math:`f'(1)`, the f-GAN decision threshold.
* ``f_prime(log_u)``: the derivative :math:`f'(u)` (f-DPO's implicit reward), with
  ``f_prime_invertible`` saying whether it determines ``u``.
* ``weight(log_r)``: the f-distill weight :math:`h(r) = r^2 f''(r)`
  (Xu et al., 2025).

Parametric families (``alpha``) store their parameter as an array in
``params``; the record is a pytree whose only leaves are those parameters, so
it can be built inside ``jit`` / ``vmap`` from traced values and passed through
transformations without recompiling when the parameter changes.

References:
  Nowozin, Cseke, Tomioka. f-GAN: Training Generative Neural Samplers using
  Variational Divergence Minimization. NeurIPS 2016.
  Amari. Alpha-divergence is unique, belonging to both f-divergence and
  Bregman divergence classes. IEEE Trans. Inf. Theory 2009.
  Xu et al. One-step Diffusion Models with f-Divergence Distribution Matching.
  2025.
"""

from fdiv_jax.divergences._generator import from_generator
from fdiv_jax.divergences._record import Divergence
from fdiv_jax.divergences._registry import available, get, resolve

__all__ = [
  "Divergence",
  "available",
  "from_generator",
  "get",
  "resolve",
]
