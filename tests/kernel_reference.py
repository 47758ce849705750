"""Shared point clouds and a dense float64 reference of the log kernels (for the kernel and
Cauchy-Schwarz tests)."""

import jax
import numpy as np

KEY = jax.random.PRNGKey(0)
X = jax.random.normal(KEY, (157, 3))
Y = jax.random.normal(jax.random.fold_in(KEY, 1), (131, 3)) * 1.3 + 0.4


def dense_log_k(a, b, kernel, bw):
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
  if kernel == "gaussian":
    return -d2 / (2 * bw**2)
  if kernel == "laplace":
    return -np.sqrt(d2) / bw
  return -0.5 * np.log1p(d2 / bw**2)
