"""The benchmark scripts' building blocks (the scripts themselves are timed runs, not tests).

Their comparisons are only fair if both sides compute the same thing: every
registry entry paired with a TFP Csiszar function gives TFP's value, and the
unrolled distrax.Chain of the compile-time benchmark is a working flow. The
presets of ``benchmarks.run`` (the GPU one runs only where there is a GPU)
parse, and the precision check's TF32 emulation rounds as TF32 does.
"""

import jax
import numpy as np
import pytest

from benchmarks import common, kernels, run, training
from benchmarks import divergences_vs_tfp as vs_tfp


@pytest.mark.parametrize("spec", list(vs_tfp.PAIRS))
def test_registry_entries_equal_their_tfp_counterparts(spec):
  k1, k2 = jax.random.split(jax.random.PRNGKey(0))
  log_p, log_q = 2.0 * jax.random.normal(k1, (4096,)), jax.random.normal(k2, (4096,))
  ours, theirs = vs_tfp.losses(spec)
  np.testing.assert_allclose(ours(log_p, log_q), theirs(log_p, log_q), rtol=1e-5, atol=1e-6)
  assert vs_tfp.largest_finite(ours, -1.0) == vs_tfp.GRID[-1]  # finite down to -1e30


def test_chain_flow_of_the_depth_benchmark_runs():
  init, sample_and_log_prob = training.chain_flow(4, 3, (8,))
  key = jax.random.PRNGKey(0)
  x, log_q = sample_and_log_prob(init(key), key, 5)
  assert x.shape == (5, 4) and log_q.shape == (5,)
  # Identity at init (zero last layers): log q is the standard normal base.
  np.testing.assert_allclose(log_q, jax.scipy.stats.norm.logpdf(x).sum(-1), rtol=1e-5)


@pytest.mark.parametrize("preset", list(run.PRESETS))
def test_every_preset_parses(preset):
  for name, argv in run.PRESETS[preset].items():
    run.MODULES[name].arg_parser().parse_args(argv)


def test_ratio_interval_brackets_the_ratio():
  rng = np.random.default_rng(0)
  ta = 1.0 + 0.05 * rng.standard_normal(400)
  lo, hi = common.ratio_interval(ta, 2.0 * ta * (1.0 + 0.01 * rng.standard_normal(400)))
  assert 1.98 < lo < 2.0 < hi < 2.02
  _, _, (lo, hi) = common.compare(lambda: 1, lambda: 1, min_time=0.0)
  assert lo <= hi


def test_tf32_emulation_keeps_ten_mantissa_bits():
  x = jax.numpy.array([1.0 + 2.0**-10, 1.0 + 2.0**-11 + 2.0**-12, 1.0 + 2.0**-12, 3.0])
  np.testing.assert_array_equal(
    kernels._round_to_tf32(x), [1.0 + 2.0**-10, 1.0 + 2.0**-10, 1.0, 3.0]
  )
