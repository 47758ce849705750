"""Multi-device equivalence checks, run in subprocesses by ``test_parallel.py``.

Usage, one process with 8 CPU devices::

  XLA_FLAGS=--xla_force_host_platform_device_count=8 \
    python tests/multidevice_checks.py {library,boltzmann,one_step}

or one of several processes of a multi-host job on localhost (each with its
own CPU devices; JAX's gloo CPU collectives carry the cross-process
reductions), started once per process id::

  XLA_FLAGS=--xla_force_host_platform_device_count=2 \
    python tests/multidevice_checks.py CHECK PROCESS_ID NUM_PROCESSES PORT

Each check computes the same thing without a mesh (this process's first
device) and under ``jax.set_mesh(fdiv_jax.parallel.data_mesh())`` (every
device of every process, batch split, parameters replicated), asserts the
results agree to float tolerance and that the compiled program really was
partitioned (it reduces across devices). Exits non-zero with the assertion
message otherwise.
"""

from __future__ import annotations

import functools
import sys

import jax
import jax.numpy as jnp
import numpy as np

import fdiv_jax as fd
from experiments.common import distributed
from fdiv_jax import parallel

RTOL, ATOL = 2e-5, 2e-6


def _close(a, b, what, rtol=RTOL, atol=ATOL):
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_allclose(
      distributed.to_host(x), distributed.to_host(y), rtol=rtol, atol=atol, err_msg=what
    )


def _partitioned(fn, *args) -> bool:
  """The compiled program of ``fn(*args)`` communicates across devices."""
  text = jax.jit(fn).lower(*args).compile().as_text()
  return any(
    op in text for op in ("all-reduce", "all-gather", "reduce-scatter", "collective-permute")
  )


def _self_normalized(log_p, log_q, *, divergence):
  return fd.f_divergence(log_p, log_q, divergence=divergence, self_normalize=True)


def check_library():
  mesh = parallel.data_mesh()
  assert mesh.size == jax.device_count() > 1, f"expected several devices, got {mesh.size}"
  key = jax.random.PRNGKey(0)
  k1, k2, k3, k4 = jax.random.split(key, 4)
  log_p = 3.0 * jax.random.normal(k1, (4096,))
  log_q = jax.random.normal(k2, (4096,))
  x = jax.random.normal(k3, (1000, 3))  # 1000 = 8 * 125
  y = 0.5 + jax.random.normal(k4, (1003, 3))  # 1003 rows: padded on 2, 4 or 8 devices
  losses = {
    name: functools.partial(_self_normalized, divergence=fd.get(spec))
    for name, spec in (("kl", "kl"), ("alpha", "alpha:0.5"))
  }
  kernel = {
    "cs": lambda a, b: fd.cauchy_schwarz_divergence(a, b, bandwidth=0.7, block_size=128),
    "row_sums": lambda a, b: fd.kernels.log_kernel_sum(a, b, bandwidth=0.7, block_size=128),
    "cs_mi": lambda a, b: fd.cauchy_schwarz_mutual_information(
      a, a[:, :1] ** 2, bandwidth_x=0.7, bandwidth_z=0.5, block_size=128
    ),
    "cond_cs": lambda a, b: fd.conditional_cauchy_schwarz_divergence(
      a, a[:, :1], a[:, 1:2], bandwidth_x=0.7, bandwidth_y=0.5, block_size=128
    ),
  }
  grad_cs = jax.grad(kernel["cs"])
  ref = {name: jax.jit(f)(log_p, log_q) for name, f in losses.items()}
  ref.update({name: jax.jit(f)(x, y) for name, f in kernel.items()})
  ref["grad_cs"] = jax.jit(grad_cs)(x, y)
  with jax.set_mesh(mesh):
    lp, lq, xs = parallel.shard_batch((log_p, log_q, x))
    assert lp.sharding.spec[0] == parallel.DATA_AXIS, lp.sharding
    out = {name: jax.jit(f)(lp, lq) for name, f in losses.items()}
    out.update({name: jax.jit(f)(xs, y) for name, f in kernel.items()})
    out["grad_cs"] = jax.jit(grad_cs)(xs, y)
    for name, f in losses.items():
      assert _partitioned(f, lp, lq), f"{name} Monte-Carlo loss was not partitioned"
    assert _partitioned(kernel["cs"], xs, y), "blocked CS divergence was not partitioned"
    rows = jax.jit(kernel["row_sums"])(xs, y)
    assert rows.sharding.spec[0] == parallel.DATA_AXIS, rows.sharding
    try:
      parallel.shard_batch(jnp.ones((10, 2)))
    except ValueError as e:
      assert "divisible" in str(e) and "(10, 2)" in str(e), e
    else:
      raise AssertionError(f"shard_batch accepted 10 rows on {mesh.size} devices")
  for name in ref:
    _close(out[name], ref[name], name, rtol=1e-4 if name == "grad_cs" else RTOL, atol=1e-5)


def check_boltzmann():
  import dataclasses

  from experiments.boltzmann import train as T
  from experiments.boltzmann.configs import test as test_config

  # RealNVP: the same training code as the spline default, a fraction of the compile time.
  config = dataclasses.replace(test_config.get_config(), seeds=1, flow="real_nvp")
  target = T.make_target(config.target)
  flow = T.make_flow(config, target.dim)
  trainer = T.make_trainer(config, target, flow, None)
  keys = jax.random.split(jax.random.PRNGKey(0), 1)
  state = jax.vmap(trainer.init)(keys)
  stages = {
    "reverse_kl": trainer.f_stage(fd.get("reverse_kl"), 5.0, 1),
    "alpha_2": trainer.f_stage(fd.get("alpha", alpha=2.0), 1.0, 1),
    "tabg_level": trainer.tabg_level(3.0, "level"),
  }
  # FAB: one AIS pass (HMC, step sizes adapted) and one weighted-likelihood update.
  stages["fab_nobuffer"] = trainer.fab_stage("nobuffer", 1, "fab")
  states = {k: state for k in stages}
  states["fab_nobuffer"] = jax.vmap(lambda k: trainer.init(k, "fab:nobuffer"))(keys)
  ref = {k: s.run(states[k], keys) for k, s in stages.items()}
  with jax.set_mesh(parallel.data_mesh()):
    out = {k: s.run(parallel.replicate(states[k]), keys) for k, s in stages.items()}
    rstate = parallel.replicate(state)
    assert _partitioned(lambda st: stages["reverse_kl"].run(st, keys), rstate), (
      "Boltzmann f-divergence step was not partitioned"
    )
  for k in stages:
    _close(
      out[k][0].params, ref[k][0].params, f"{k}: parameters after one step", rtol=1e-4, atol=1e-5
    )
    _close(out[k][1]["loss"], ref[k][1]["loss"], f"{k}: loss", rtol=1e-4, atol=1e-5)


def check_one_step():
  from experiments.one_step_diffusion import train as T
  from experiments.one_step_diffusion.configs import test as test_config

  config = test_config.get_config()
  student = T.make_student(config)
  teacher = T.mixture_teacher(T.ring_teacher(config))
  div = fd.get("js")
  state = student.init(jax.random.PRNGKey(0))
  step = jax.jit(lambda s, k: student.train_step(s, k, teacher, div))
  ref = step(state, jax.random.PRNGKey(1))
  with jax.set_mesh(parallel.data_mesh()):
    rstate = parallel.replicate(state)
    out = step(rstate, jax.random.PRNGKey(1))
    assert _partitioned(
      lambda s: student.train_step(s, jax.random.PRNGKey(1), teacher, div), rstate
    ), "one-step diffusion train step was not partitioned"
  _close(out[0], ref[0], "one-step state after one train step", rtol=1e-4, atol=1e-5)
  _close(out[1], ref[1], "one-step metrics", rtol=1e-4, atol=1e-5)


CHECKS = {"library": check_library, "boltzmann": check_boltzmann, "one_step": check_one_step}

if __name__ == "__main__":
  check, *job = sys.argv[1:]
  if job:
    process_id, num_processes, port = map(int, job)
    distributed.initialize_distributed(
      coordinator_address=f"localhost:{port}", num_processes=num_processes, process_id=process_id
    )
  CHECKS[check]()
  print(f"{check}: OK on {jax.device_count()} devices in {jax.process_count()} processes")
