r"""Bayesian logistic-regression posteriors of the sampling benchmark.

With a design matrix :math:`X \in \mathbb R^{n\times d}` (a column of ones first),
labels :math:`y_i \in \{0, 1\}`, weights :math:`w \in \mathbb R^d`, logit sign
:math:`s \in \{+1, -1\}` and prior :math:`w \sim N(0, \sigma^2 I)`:

.. math::
  \log\gamma(w) = \sum_i \big[y_i \log\sigma(s\,x_i\cdot w)
    + (1 - y_i)\log\sigma(-s\,x_i\cdot w)\big]
    + \sum_j \log N(w_j; 0, \sigma^2),

normalised prior, so :math:`\log Z` is the log marginal likelihood. The sign
:math:`s` maps the posterior onto its mirror image :math:`w \mapsto -w` (the prior is
symmetric): log Z, ELBO and ESS do not depend on it, reference samples do.

Data: UCI Statlog German Credit (numeric), Wisconsin Diagnostic Breast Cancer,
Ionosphere and Sonar, shipped in ``fdiv_jax/data/sampling_benchmark``.

References:
  Blessing, Jia, Esslinger, Vargas & Neumann. Beyond ELBOs: a large-scale evaluation of
  variational methods for sampling. ICML 2024 (DenisBless/variational_sampling_methods).
  Arbel, Matthews & Doucet. Annealed flow transport Monte Carlo. ICML 2021.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from fdiv_jax.targets._target import Target, load_csv, load_npy, reference_log_z

__all__ = ["breast_cancer", "german_credit", "ionosphere", "logistic_regression", "sonar"]


def logistic_regression(
  name: str,
  design: np.ndarray,
  labels: np.ndarray,
  *,
  prior_scale: float | None,
  sign: int,
) -> Target:
  r"""The logistic-regression posterior over ``w [d]``.

  .. math::
    \log\gamma(w) = \sum_{i=1}^n \big[y_i \log\sigma(s\,x_i\cdot w)
      + (1 - y_i)\log\sigma(-s\,x_i\cdot w)\big] + \sum_{j=1}^d \log N(w_j; 0, \sigma^2),

  with the rows :math:`x_i` of ``design``; the prior is normalised, so :math:`\log Z` is the
  log marginal likelihood.

  Args:
    name: The target's name (its reference log Z is looked up under it).
    design: ``[n, d]`` design matrix, intercept column included.
    labels: ``[n]`` labels in ``{0, 1}``.
    prior_scale: :math:`\sigma` of the N(0, σ²) prior on every weight, or None for
      the likelihood alone (improper on linearly separable data).
    sign: :math:`s`: +1 for :math:`P(y = 1) = \sigma(x\cdot w)`, -1 for
      :math:`\sigma(-x\cdot w)`.

  Returns:
    A :class:`Target` named ``name`` whose ``log_prob`` maps ``w [..., d] -> [...]`` in the
    dtype of ``w``, with the stored reference ``log_z`` and its standard error (looked up
    under ``name``, or ``f"{name}_no_prior"`` when ``prior_scale`` is None; None if not
    stored) and no sampler.

  References:
    Blessing, Jia, Esslinger, Vargas & Neumann. Beyond ELBOs: a large-scale evaluation of
    variational methods for sampling. ICML 2024.
    Arbel, Matthews & Doucet. Annealed flow transport Monte Carlo. ICML 2021.
  """
  design = np.asarray(design, np.float64)
  labels = np.asarray(labels, np.float64)
  if design.ndim != 2 or labels.shape != design.shape[:1]:
    raise ValueError(f"design must be [n, d] and labels [n], got {design.shape} and {labels.shape}")
  if not np.all((labels == 0) | (labels == 1)):
    raise ValueError("labels must be 0 or 1")
  if sign not in (1, -1):
    raise ValueError(f"sign must be +1 or -1, got {sign!r}")
  if prior_scale is not None and not prior_scale > 0:
    raise ValueError(f"prior_scale must be > 0 or None, got {prior_scale!r}")
  d = design.shape[1]
  # y log σ(z) + (1 - y) log σ(-z) = -softplus(-(2y - 1) z)
  signed = (sign * (2.0 * labels - 1.0))[:, None] * design  # [n, d]

  def log_prob(w):
    w = jnp.asarray(w)
    if w.shape[-1:] != (d,):
      raise ValueError(f"{name}: w must have shape [..., {d}], got {w.shape}")
    z = w @ jnp.asarray(signed, w.dtype).T  # [..., n]
    out = -jnp.sum(jax.nn.softplus(-z), axis=-1)
    if prior_scale is not None:
      out = out + (
        -0.5 * jnp.sum(w**2, axis=-1) / prior_scale**2
        - d * (math.log(prior_scale) + 0.5 * math.log(2 * math.pi))
      )
    return out

  key = name if prior_scale is not None else f"{name}_no_prior"
  log_z, log_z_se = reference_log_z(key)
  return Target(name, d, log_prob, log_z, None, log_z_se=log_z_se)


def _scaled(features: np.ndarray, *, center: bool) -> np.ndarray:
  """Features divided by their standard deviation (numpy's, ddof 0; a constant column
  keeps scale 1), centred first when ``center``; a column of ones prepended."""
  std = features.std(axis=0)
  std = np.where(std > 0, std, 1.0)
  x = (features - features.mean(axis=0)) / std if center else features / std
  return np.concatenate([np.ones((x.shape[0], 1)), x], axis=1)


def _with_reference(target: Target, file: str, sign: int, reference_sign: int) -> Target:
  def samples():
    return reference_sign * sign * load_npy(file).astype(np.float64)

  return target._replace(reference_samples=samples)


def german_credit(*, prior_scale: float | None = 10.0, sign: int = -1) -> Target:
  r"""German Credit (1000 loans, 24 numeric features; d = 25).

  Features divided by their standard deviation (not centred), an intercept
  prepended, label = class − 1 (1 = bad credit). Defaults: the N(0, 10²) prior that
  the published ELBOs and the shipped reference samples hold for, and the benchmark's
  sign :math:`P(y = 1) = \sigma(-x\cdot w)`; ``prior_scale=None`` is the benchmark
  code's log density (likelihood alone). Reference samples (10 000, shipped with the
  benchmark) are mapped to ``sign``.

  Args:
    prior_scale: :math:`\sigma` of the N(0, σ²) prior on every weight (default 10), or None
      for the likelihood alone.
    sign: :math:`s`: -1 (the default) for :math:`P(y = 1) = \sigma(-x\cdot w)`, +1 for
      :math:`\sigma(x\cdot w)`.

  Returns:
    A :class:`Target` named ``"german_credit"`` (d = 25, see :func:`logistic_regression`)
    with ``reference_samples: () -> [10000, 25]``.

  References:
    Blessing, Jia, Esslinger, Vargas & Neumann. Beyond ELBOs: a large-scale evaluation of
    variational methods for sampling. ICML 2024.
  """
  table = load_csv("german_credit_numeric.csv")
  target = logistic_regression(
    "german_credit",
    _scaled(table[:, :-1], center=False),
    table[:, -1] - 1.0,
    prior_scale=prior_scale,
    sign=sign,
  )
  return _with_reference(target, "german_credit_reference_samples.npy", sign, -1)


def breast_cancer(*, prior_scale: float | None = 10.0, sign: int = -1) -> Target:
  r"""Wisconsin Diagnostic Breast Cancer (569 tumours, 30 features; d = 31).

  Features divided by their standard deviation, an intercept prepended, label as in
  the benchmark's file and scikit-learn (0 = malignant, 1 = benign). As
  :func:`german_credit`: the N(0, 10²) prior by default (without it the posterior is
  improper: the data are linearly separable) and the benchmark's sign -1; reference
  samples (10 080, shipped with the benchmark) mapped to ``sign``.

  Args:
    prior_scale: :math:`\sigma` of the N(0, σ²) prior on every weight (default 10), or None
      for the likelihood alone.
    sign: :math:`s`: -1 (the default) for :math:`P(y = 1) = \sigma(-x\cdot w)`, +1 for
      :math:`\sigma(x\cdot w)`.

  Returns:
    A :class:`Target` named ``"breast_cancer"`` (d = 31, see :func:`logistic_regression`)
    with ``reference_samples: () -> [10080, 31]``.

  References:
    Blessing, Jia, Esslinger, Vargas & Neumann. Beyond ELBOs: a large-scale evaluation of
    variational methods for sampling. ICML 2024.
  """
  table = load_csv("breast_cancer.csv")
  target = logistic_regression(
    "breast_cancer",
    _scaled(table[:, 1:], center=False),
    table[:, 0],
    prior_scale=prior_scale,
    sign=sign,
  )
  return _with_reference(target, "breast_cancer_reference_samples.npy", sign, -1)


def _uci_pm1(name: str, file: str, prior_scale: float | None, sign: int) -> Target:
  table = load_csv(file)
  return logistic_regression(
    name,
    _scaled(table[:, 1:], center=True),
    (table[:, 0] + 1.0) / 2.0,
    prior_scale=prior_scale,
    sign=sign,
  )


def ionosphere(*, prior_scale: float | None = 1.0, sign: int = 1) -> Target:
  r"""Ionosphere (351 radar returns, 34 features; d = 35).

  Features standardised (zero mean, unit standard deviation), an intercept prepended,
  label (y + 1) / 2, N(0, 1) prior, :math:`P(y = 1) = \sigma(x\cdot w)` (Arbel et al.,
  2021).

  Args:
    prior_scale: :math:`\sigma` of the N(0, σ²) prior on every weight (default 1), or None
      for the likelihood alone.
    sign: :math:`s`: +1 (the default) for :math:`P(y = 1) = \sigma(x\cdot w)`, -1 for
      :math:`\sigma(-x\cdot w)`.

  Returns:
    A :class:`Target` named ``"ionosphere"`` (d = 35, see :func:`logistic_regression`),
    without reference samples.

  References:
    Arbel, Matthews & Doucet. Annealed flow transport Monte Carlo. ICML 2021.
    Blessing, Jia, Esslinger, Vargas & Neumann. Beyond ELBOs: a large-scale evaluation of
    variational methods for sampling. ICML 2024.
  """
  return _uci_pm1("ionosphere", "ionosphere.csv", prior_scale, sign)


def sonar(*, prior_scale: float | None = 1.0, sign: int = 1) -> Target:
  r"""Sonar (208 sonar returns, 60 features; d = 61): as :func:`ionosphere`.

  Args:
    prior_scale: :math:`\sigma` of the N(0, σ²) prior on every weight (default 1), or None
      for the likelihood alone.
    sign: :math:`s`: +1 (the default) for :math:`P(y = 1) = \sigma(x\cdot w)`, -1 for
      :math:`\sigma(-x\cdot w)`.

  Returns:
    A :class:`Target` named ``"sonar"`` (d = 61, see :func:`logistic_regression`), without
    reference samples.

  References:
    Arbel, Matthews & Doucet. Annealed flow transport Monte Carlo. ICML 2021.
    Blessing, Jia, Esslinger, Vargas & Neumann. Beyond ELBOs: a large-scale evaluation of
    variational methods for sampling. ICML 2024.
  """
  return _uci_pm1("sonar", "sonar.csv", prior_scale, sign)
