r"""Normalising flows for Boltzmann generators: distrax couplings, Flax conditioners.

A flow is a stack of ``L`` masked coupling layers (Dinh et al., 2017) on
:math:`\mathbb R^d` over a Gaussian base :math:`N(0, s^2 I)`:

.. math::
  x = T_L \circ \dots \circ T_1(z), \qquad
  \log q(x) = \log N(z; 0, s^2 I) - \sum_l \log\Big|\det\frac{\partial T_l}{\partial x_{l-1}}\Big|.

Each layer keeps the masked coordinates and transforms the others with a
distrax bijector whose parameters a Flax MLP (the conditioner) computes from
the kept ones: an affine map with a bounded log-scale
:math:`a = a_{\max}\tanh(\tilde a / a_{\max})` (RealNVP), or a
rational-quadratic spline (Durkan et al., 2019). The conditioners' last
layers are zero-initialised, so every flow starts as the identity (``q`` is
the base). Layer parameters are stacked on a leading axis and the layers run
under ``lax.scan``, so compile time stays flat in depth. Masks come in
complementary pairs: ``"parity"`` alternates even / odd coordinates;
``"binary"`` cycles through the bits of the coordinate index (layer ``2k``
keeps the coordinates whose bit ``k mod B`` is 0, ``B = ceil(log2 d)``, layer
``2k + 1`` the others), so within ``2B`` layers every coordinate is transformed
conditioned on every other one. Parity is binary's bit 0 (the two agree in 2-D);
it never conditions an even coordinate on another even one, which a target
such as Neal's funnel (every coordinate's scale set by ``x_0``) needs.

A :class:`Flow` is pure functions of explicit parameters (what training loops and
:func:`fdiv_jax.fab.fab` take); :class:`FlowDistribution` binds one to its parameters as a
distribution object (``sample``, ``log_prob``, samples first) that saves to and loads
from a directory (:class:`FlowConfig` + Flax-serialised parameters).

References:
  Dinh, Sohl-Dickstein, Bengio. Density estimation using Real NVP. ICLR 2017.
  Durkan, Bekasov, Murray, Papamakarios. Neural Spline Flows. NeurIPS 2019.
  Noe, Olsson, Koehler, Wu. Boltzmann generators. Science 2019.
"""

from fdiv_jax import _extras

_extras.require("flows", "fdiv_jax.flows")

from fdiv_jax.flows._coupling import Flow, FlowConfig, make, real_nvp, spline_flow  # noqa: E402
from fdiv_jax.flows._distribution import FlowDistribution  # noqa: E402

__all__ = ["Flow", "FlowConfig", "FlowDistribution", "make", "real_nvp", "spline_flow"]
