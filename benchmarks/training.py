"""Training-step throughput of the flagship experiments, and compile time vs depth.

* one-step diffusion (f-distill, ``experiments/one_step_diffusion`` default
  config: 5 critic updates + one generator update per step, batch 256);
* Boltzmann generator (GMM-40 default config: spline flow, reverse KL step at
  batch 512; one TA-BG level = resample 10 000 + 100 ML steps);
* compile time of one flow training step (value and gradient of a reverse-KL
  loss, RealNVP on R^32, width 64) vs the number of coupling layers: fdiv_jax's
  flows (layers under ``lax.scan``) against the same couplings written as a
  plain ``distrax.Chain`` (what the code would be without the scan), plus the
  step time of each.

Usage: python -m benchmarks.training [--depths 2 4 8 16 32 64]
"""

from __future__ import annotations

import argparse
import time

import distrax
import jax
import jax.numpy as jnp

import fdiv_jax as fd
from benchmarks import common
from fdiv_jax import flows


def one_step_diffusion(steps=50):
  from experiments.one_step_diffusion import train as T
  from experiments.one_step_diffusion.configs import default

  config = default.get_config()
  student = T.make_student(config)
  teacher = T.mixture_teacher(T.ring_teacher(config))
  div = fd.get("js")
  state = student.init(jax.random.PRNGKey(0))

  @jax.jit
  def chunk(state, key):
    return jax.lax.scan(lambda s, _: student.train_step(s, key, teacher, div), state, length=steps)

  t = common.timeit(lambda: chunk(state, jax.random.PRNGKey(1)), min_time=2.0, max_reps=5)
  return {
    "steps_per_s": steps / t,
    "batch": config.batch_size,
    "critic_updates": config.critic_updates,
  }


def boltzmann(steps=50):
  import dataclasses

  from experiments.boltzmann import train as T
  from experiments.boltzmann.configs import default

  config = dataclasses.replace(default.get_config(), seeds=1)
  target = T.make_target(config.target)
  flow = T.make_flow(config, target.dim)
  trainer = T.make_trainer(config, target, flow, None)
  keys = jax.random.split(jax.random.PRNGKey(0), 1)
  state = jax.vmap(trainer.init)(keys)
  rkl = trainer.f_stage(fd.get("reverse_kl"), 1.0, steps)
  level = trainer.tabg_level(2.0, "level")
  t_rkl = common.timeit(lambda: rkl.run(state, keys), min_time=2.0, max_reps=5)
  t_level = common.timeit(lambda: level.run(state, keys), min_time=2.0, max_reps=5)
  return {
    "reverse_kl_steps_per_s": steps / t_rkl,
    "batch": config.batch_size,
    "tabg_level_s": t_level,
    "buffer": config.buffer_size,
    "ml_steps": config.ml_steps,
  }


def chain_flow(dim, num_layers, hidden):
  """The same RealNVP couplings as a plain distrax.Chain (unrolled in the trace)."""
  cond = flows._coupling._Conditioner(tuple(hidden), dim, 2)
  masks = flows._coupling._masks(dim, num_layers, "parity")
  base = distrax.MultivariateNormalDiag(jnp.zeros(dim), jnp.ones(dim))

  def affine(p):
    return distrax.ScalarAffine(shift=p[..., 0], log_scale=3.0 * jnp.tanh(p[..., 1] / 3.0))

  def init(key):
    return [cond.init(k, jnp.zeros((1, dim))) for k in jax.random.split(key, num_layers)]

  def sample_and_log_prob(params, key, n):
    layers = [
      distrax.MaskedCoupling(
        mask=masks[l], bijector=affine, conditioner=lambda x, p=params[l]: cond.apply(p, x)
      )
      for l in range(num_layers)
    ]
    return distrax.Transformed(base, distrax.Chain(layers)).sample_and_log_prob(
      seed=key, sample_shape=(n,)
    )

  return init, sample_and_log_prob


def compile_vs_depth(depths, dim=32, hidden=(64, 64), batch=512):
  log_p = lambda x: -0.5 * jnp.sum(x**2, -1)
  rows = []
  for depth in depths:
    rec = {"layers": depth}
    scan_flow = flows.real_nvp(dim, num_layers=depth, hidden=hidden)
    chain_init, chain_sample = chain_flow(dim, depth, hidden)
    for name, init, sample in (
      ("scan", scan_flow.init, scan_flow.sample_and_log_prob),
      ("chain", chain_init, chain_sample),
    ):
      params = init(jax.random.PRNGKey(0))

      def loss(params, key, sample=sample):
        x, log_q = sample(params, key, batch)
        return jnp.mean(log_q - log_p(x))

      step = jax.value_and_grad(loss)
      stats, compiled = common.compile_stats(step, params, jax.random.PRNGKey(1))
      t0 = time.perf_counter()
      jax.jit(step).lower(params, jax.random.PRNGKey(1))  # trace only
      stats["trace_s"] = time.perf_counter() - t0
      stats["step_s"] = common.timeit(
        lambda: compiled(params, jax.random.PRNGKey(1)), min_time=0.5, max_reps=20
      )
      rec[name] = stats
    rows.append(rec)
    print(
      f"layers {depth}: compile scan {rec['scan']['compile_s']:.2f}s vs chain "
      f"{rec['chain']['compile_s']:.2f}s; step {1e3 * rec['scan']['step_s']:.1f} vs "
      f"{1e3 * rec['chain']['step_s']:.1f} ms",
      flush=True,
    )
  return rows


def arg_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--depths", type=int, nargs="+", default=[2, 4, 8, 16, 32, 64])
  return parser


def main(argv=None):
  args = arg_parser().parse_args(argv)
  out = {"one_step_diffusion": one_step_diffusion()}
  print("one-step diffusion:", out["one_step_diffusion"], flush=True)
  out["boltzmann"] = boltzmann()
  print("boltzmann:", out["boltzmann"], flush=True)
  out["compile_vs_depth"] = compile_vs_depth(args.depths)
  print("wrote", common.save("training", out))


if __name__ == "__main__":
  main()
