"""fdiv_jax.parallel: data parallelism over the sample axis.

The equivalence checks need 8 devices, which on a CPU exist only if XLA is
told so before JAX starts: they run ``multidevice_checks.py`` in a subprocess
with ``XLA_FLAGS=--xla_force_host_platform_device_count=8``.
"""

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fdiv_jax import parallel

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.mark.parametrize("check", [
    "library",
    # The experiments' steps on 8 devices (a minute each): make test-slow.
    pytest.param("boltzmann", marks=pytest.mark.slow),
    pytest.param("one_step", marks=pytest.mark.slow)])
def test_eight_devices_equal_one_device(check):
  env = dict(os.environ, JAX_PLATFORMS="cpu",
             XLA_FLAGS="--xla_force_host_platform_device_count=8",
             PYTHONPATH=os.path.dirname(HERE))
  proc = subprocess.run([sys.executable, os.path.join(HERE, "multidevice_checks.py"), check],
                        env=env, capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
  assert f"{check}: OK on 8 devices" in proc.stdout


def test_without_mesh_everything_is_the_identity():
  x = jnp.arange(12.0).reshape(6, 2)
  assert parallel.data_axis_size() == 1
  assert parallel.shard_batch(x) is x
  assert parallel.replicate(x) is x
  np.testing.assert_array_equal(parallel.map_rows(lambda r, c: r + c, x, 1.0), x + 1.0)


def test_one_device_mesh_runs_the_same_program():
  mesh = parallel.data_mesh()
  assert mesh.axis_names == (parallel.DATA_AXIS,)
  f = jax.jit(lambda k: jnp.mean(parallel.shard_batch(jax.random.normal(k, (64, 2)))**2))
  ref = f(jax.random.PRNGKey(0))
  with jax.set_mesh(parallel.data_mesh(jax.devices()[:1])):
    assert parallel.data_axis_size() == 1
    np.testing.assert_allclose(f(jax.random.PRNGKey(0)), ref, rtol=1e-6)


def test_data_mesh_rejects_no_devices():
  with pytest.raises(ValueError, match="at least one device"):
    parallel.data_mesh([])
