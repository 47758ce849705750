"""Evaluate a finished Boltzmann run's flows on fresh exact samples (other keys, more of them).

Usage:
  python -m experiments.boltzmann.reevaluate --config funnel --workdir runs/boltzmann_funnel \
      --method fab --keys 20:30 --samples 10000

The forward metrics (forward ESS, EUBO) are estimates from exact target samples, and for a
heavy-tailed target they depend on which samples: one sample deep in a tail where the flow has
too little mass sets the forward ESS. This restores the last checkpoint of ``--method`` in
``--workdir`` (``--config`` and ``--set`` must be the ones that made the run) and repeats the
run's evaluation with ``--samples`` exact samples drawn with each key of ``--keys``
(``start:stop``), every seed; prints a table and the exact samples of largest log w = log p -
log q (the first coordinate of each: Neal's funnel's x_0), and writes
``reevaluate_<method>.json``.
"""

import argparse
import os

import jax
import numpy as np

from experiments.boltzmann import train as T
from experiments.common import checkpoint, cli
from experiments.common import results as R
from fdiv_jax import metrics as M

METRICS = ("forward_ess", "eubo", "log_z_error", "reverse_ess")


def reevaluate(
  config, workdir: str, method: str, keys: range, samples: int, worst: int = 3
) -> dict:
  saved = (R.read_json(os.path.join(workdir, "results.json")) or {}).get("config")
  now, defaults = R.to_jsonable(config), R.to_jsonable(type(config)())
  # Fields added to the config since the run, at their defaults, do not count.
  added = {k for k in now if saved is not None and k not in saved and now[k] == defaults[k]}
  if saved is None or saved != {k: v for k, v in now.items() if k not in added}:
    raise ValueError(f"{workdir} was not made by this --config / --set (or has no results.json)")
  target = T.make_target(config.target)
  flow = T.make_flow(config, target.dim, target.circular)
  seeds = jax.random.split(jax.random.PRNGKey(config.seed), config.seeds)
  stages = checkpoint.Stages(os.path.join(workdir, "ckpt", method.replace(":", "_")))
  trainer = T.make_trainer(config, target, flow, None)
  saved = stages.saved()
  if not saved:
    raise ValueError(f"no checkpoint of method {method!r} under {workdir}")
  ckpt = stages.path(saved[-1])
  state = stages.restore(saved[-1], jax.vmap(lambda k: trainer.init(k, method))(seeds))
  # The flow-sample metrics (reverse ESS, log Z) from the run's own evaluation; the
  # forward ones from log p and log q at the exact samples, each computed once.
  reverse = jax.jit(jax.vmap(trainer.evaluate))

  @jax.jit  # the exact samples are an argument: one compile for every key
  def forward(params, y):
    lp = target.log_prob(y)
    lq = jax.vmap(flow.log_prob, (0, None))(params, y)
    return lp - lq, jax.vmap(M.forward_ess, (None, 0))(lp, lq), jax.vmap(M.eubo, (None, 0))(lp, lq)

  out = {"method": method, "checkpoint": ckpt, "samples": samples, "keys": {}, "worst": {}}
  for key in keys:
    exact = target.sample(jax.random.PRNGKey(key), samples)
    lw, fwd, eubo = jax.device_get(forward(state.params, exact))  # lw: [seeds, samples]
    top = np.argsort(-lw, axis=1)[:, :worst]
    out["worst"][key] = [
      {"log_w": lw[s, t].tolist(), "x_0": np.asarray(exact)[t, 0].tolist()}
      for s, t in enumerate(top)
    ]
    evals = reverse(state.params, jax.random.split(jax.random.PRNGKey(1000 + key), config.seeds))
    evals = dict(evals, forward_ess=fwd, eubo=eubo)
    out["keys"][key] = {m: np.asarray(evals[m]).tolist() for m in METRICS}
  return out


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--config", default="default")
  parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--method", required=True)
  parser.add_argument("--keys", default="20:30", help="start:stop of the exact samples' keys")
  parser.add_argument("--samples", type=int, default=10_000)
  parser.add_argument(
    "--worst", type=int, default=3, help="list this many exact samples of largest log w per seed"
  )
  args = parser.parse_args(argv)
  config = cli.override(cli.load_config("experiments.boltzmann", args.config), args.set)
  start, _, stop = args.keys.partition(":")
  keys = range(int(start), int(stop))
  out = reevaluate(config, args.workdir, args.method, keys, args.samples, args.worst)
  rows = [
    (key, *(" / ".join(f"{v:.4g}" for v in r[m]) for m in METRICS))
    for key, r in out["keys"].items()
  ]
  print(R.format_table((f"key ({args.samples} exact samples)", *METRICS), rows))
  fwd = np.array([r["forward_ess"] for r in out["keys"].values()])
  print(
    f"forward ESS over {fwd.size} (key, seed) pairs: min {fwd.min():.4g}, median "
    f"{np.median(fwd):.4g}, >= 0.1 in {int((fwd >= 0.1).sum())}"
  )
  for key, per_seed in out["worst"].items():
    for seed, w in enumerate(per_seed):
      pairs = ", ".join(f"{lw:.4g} at x_0 = {x0:.2f}" for lw, x0 in zip(w["log_w"], w["x_0"]))
      print(f"key {key}, seed {seed}: largest log w {pairs}")
  R.write_json(os.path.join(args.workdir, f"reevaluate_{args.method.replace(':', '_')}.json"), out)


if __name__ == "__main__":
  main()
