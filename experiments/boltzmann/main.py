"""Train Boltzmann generators (flows, no data) with f-divergences, TA-BG and FAB.

Usage:
  python -m experiments.boltzmann.main --config default --workdir runs/boltzmann_gmm40
  (configs: default, gmm40_methods, gmm40_fab, many_well, many_well_tabg, many_well_snis,
  many_well_fab, funnel, the sampling suite's suite, the pines Cox process's lgcp, Inference
  Gym's gym)

For each method (a registry divergence by ``fdiv_jax.monte_carlo``, the TA-BG ladder
``tabg`` / ``tabg:base``, FAB ``fab`` / ``fab:nobuffer``) ``seeds`` flows train side by
side (vmapped); ``smc`` is the tempered-SMC baseline (``baseline.py``). After every
stage: log Z error, reverse / forward ESS, ELBO / EUBO, mode coverage or sign patterns,
energy distance to exact or reference samples, an orbax checkpoint committed with
``results.json`` (:mod:`experiments.common.jobs`). Writes ``table.md``, ``curves.png``
and, for 2-D targets, ``samples.png``.
"""

import dataclasses
import functools
import os

import jax
import numpy as np

from experiments.boltzmann import baseline, records, report
from experiments.boltzmann import train as T
from experiments.common import cli, jobs
from experiments.common import results as R
from fdiv_jax import metrics as M
from fdiv_jax import parallel


def run(config, workdir: str, *, fresh=False, verbose=True, keep_going=False) -> dict:
  """``keep_going``: a method whose training turns non-finite is recorded as failed (its
  last good stage kept) and the run goes on with the next; the suite runs so."""
  if config.suite:  # one run per target, then the table over all of them
    one = lambda t: dataclasses.replace(config, target=t, suite=())  # noqa: E731
    outs = {
      t: run(one(t), os.path.join(workdir, t), fresh=fresh, keep_going=True) for t in config.suite
    }
    return report.write_suite(outs, workdir, verbose=verbose)
  path, out = jobs.open_results(workdir, config, fresh=fresh, methods={})
  target = T.make_target(config.target)
  flow = T.make_flow(config, target.dim, target.circular)
  exact = T.evaluation_samples(target, config.eval_samples)
  out["reference_log_z"] = None if target.log_z is None else (target.log_z, target.log_z_se)
  if target.name.startswith("many_well"):
    out["exact_sign_patterns"] = M.sign_patterns(np.asarray(exact[:2000]))
  trainer = T.make_trainer(config, target, flow, exact)
  keys = jax.random.split(jax.random.PRNGKey(config.seed), config.seeds)
  evaluate_seeds = jax.jit(jax.vmap(trainer.evaluate))  # compiled once, not op by op
  for method in config.methods:
    job = out["methods"].setdefault(method, {"history": [], "done": False, "target_evals": 0})
    if job["done"]:
      continue
    if method == "smc":
      baseline.run_smc(job, config, target, exact, keys, workdir, lambda: R.write_json(path, out))
      continue
    stages = T.stages_for(method, config, trainer)
    init = jax.jit(jax.vmap(lambda k: trainer.init(k, method)))(keys)

    def stage(i, state, last_good, method=method, stages=stages, job=job):
      (state, metrics), wall = jobs.timed(lambda: stages[i].run(parallel.replicate(state), keys))
      metrics = jax.device_get(metrics)
      job["wall_s"] += wall
      what = f"{method} loss in stage {i} ({stages[i].label}); {last_good}"
      R.check_finite(metrics["loss"], what=what)
      job["target_evals"] += stages[i].target_evals
      evals, samples = records.evaluate(evaluate_seeds, state.params, config, target)
      record = records.stage_record(job, stages[i], metrics, evals)
      records.flag_collapse(record, method=method, index=i, config=config)
      if i == len(stages) - 1 and config.sinkhorn_epsilon and exact is not None:
        eps = config.sinkhorn_epsilon
        record["sinkhorn"] = np.asarray(T.sinkhorn_seeds(samples, exact[:2000], eps)).tolist()
      np.save(os.path.join(workdir, f"samples_{method.replace(':', '_')}.npy"), samples)
      return state, record

    def start(state, job=job):
      job["target_evals"] = 0
      return []

    run_job = functools.partial(
      jobs.run_stages,
      job,
      init_state=init,
      num_stages=len(stages),
      stage=stage,
      start=start,
      ckpt_dir=os.path.join(workdir, "ckpt", method.replace(":", "_")),
      commit=lambda: R.write_json(path, out),
      desc=f"{config.target} {method}",
      verbose=verbose,
      postfix=lambda r: " ".join(
        f"{k} {np.mean(r[k]):.3g}"
        for k in ("modes_covered", "reverse_ess", "log_z_error")
        if k in r
      ),
    )
    try:
      run_job()
    except R.NonFiniteError as e:
      if not keep_going:
        raise
      job["failed"] = str(e)
      R.write_json(path, out)
  report.write_reports(out, workdir, target, verbose=verbose)
  return out


main = cli.command(run, __package__, __doc__)


if __name__ == "__main__":
  main()
