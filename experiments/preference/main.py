"""f-divergence preference optimisation on a policy whose every probability is exact.

Usage:
  python -m experiments.preference.main --config default --workdir runs/preference

Pretrains (or restores, from an orbax checkpoint under ``--workdir/reference``) a small
autoregressive policy on a multi-modal distribution over the 6**6 sequences of 8 prompts,
then trains from it: f-DPO on Bradley-Terry pairs for every divergence and beta, f-DPG
towards pi_ref exp(r / beta) per divergence, and REINFORCE with a verifiable reward under
no / reverse-KL / forward-KL / JS regularisation. Rewards, entropies, divergences and
Pass@k are sums over all sequences, not estimates. Writes ``results.json``, ``table.md``,
``frontier.png`` and ``pass_at_k.png``; finished jobs are saved as they complete, so a
killed run resumes; ``--fresh`` starts over.
"""

import functools

import numpy as np

from experiments.common import cli, jobs
from experiments.preference import problem, report, runs


def run(config, workdir: str, *, fresh: bool = False, verbose: bool = True) -> dict:
  path, out = jobs.open_results(workdir, config, fresh=fresh, dpo={}, dpg={}, rl={})
  s, out["reference"] = runs.setup(config, workdir)
  out["frontier"] = runs.frontier(s, np.geomspace(0.05, 10.0, 40))
  target = problem.kl_tilted(s.log_ref, s.problem.reward, config.dpg_beta)
  out["dpg_target"] = runs.T.evaluate(target, s.log_ref, s.problem, ks=config.pass_ks)
  sections = (
    ("dpo", config.dpo_divergences, runs.dpo, "f-DPO"),
    ("dpg", config.dpg_divergences, runs.dpg, "f-DPG"),
    ("rl", config.rl_regularizers, runs.rl, "RLVR"),
  )
  for section, names, job, desc in sections:
    jobs.for_each_job(
      out,
      section,
      names,
      functools.partial(job, config=config, s=s),
      path=path,
      desc=desc,
      verbose=verbose,
    )
  report.write_reports(out, workdir, verbose=verbose)
  return out


main = cli.command(run, __package__, __doc__)


if __name__ == "__main__":
  main()
