"""Tables and plots of a preference run: ``table.md``, ``frontier.png``, ``pass_at_k.png``."""

from __future__ import annotations

import os

import numpy as np

from experiments.common import results as R

# What each registry entry constrains in f-DPO (P = policy, Q = reference), in the
# papers' names (the f-DPO and RLHF literature call KL(pi || pi_ref) the reverse KL).
DPO_CONSTRAINT = {
  "kl": "KL(π‖ref): DPO (papers' reverse KL)",
  "reverse_kl": "KL(ref‖π) (papers' forward KL)",
  "js": "JS",
}
# What f-DPG minimises with each entry (P = target p, Q = policy).
DPG_OBJECTIVE = {
  "kl": "KL(p‖π): DPG (forward)",
  "reverse_kl": "KL(π‖p): KL-penalised RL (reverse)",
  "js": "JS",
}
RL_REGULARIZER = {
  "none": "none",
  "reverse_kl": "KL(π‖π0) on-policy (reverse)",
  "kl": "KL(π0‖π) from π0 samples (forward)",
  "js": "JS(π0, π) from π0 samples",
}


def _pm(job: dict, key: str) -> str:
  return f"{job[f'{key}_mean']:.3g} ± {job[f'{key}_std']:.2g}"


def _alpha_label(name: str) -> str:
  if name.startswith("alpha:"):
    a = float(name.split(":")[1])
    return f"alpha a={a:g} (paper's α={1 - a:g})"
  return name


def dpo_table(out: dict) -> str:
  seeds = out["config"]["seeds"]
  rows = []
  for name, job in out["dpo"].items():
    for beta, b in job["betas"].items():
      rows.append(
        (
          DPO_CONSTRAINT.get(name, _alpha_label(name)),
          beta,
          _pm(b, "reward"),
          _pm(b, "entropy"),
          _pm(b, "kl_to_ref"),
          _pm(b, "kl_from_ref"),
          _pm(b, "ece"),
          _pm(b, "accuracy"),
          _pm(b, "true_order_agreement"),
        )
      )
  ref = out["reference"]
  rows.append(
    ("reference", "-", f"{ref['reward']:.3g}", f"{ref['entropy']:.3g}", 0.0, 0.0, "-", "-", "-")
  )
  header = (
    f"f-DPO constraint ({seeds} seeds, mean ± std)",
    "β",
    "E[r]",
    "entropy (nats)",
    "KL(π‖ref)",
    "KL(ref‖π)",
    "held-out ECE",
    "held-out pref. accuracy",
    "orders pairs as r does",
  )
  return R.format_table(header, rows)


def dpg_table(out: dict) -> str:
  names = out["config"]["eval_divergences"]
  rows = [
    (
      DPG_OBJECTIVE.get(name, name),
      _pm(job, "reward"),
      _pm(job, "entropy"),
      *(_pm(job, f"D_{n}") for n in names),
    )
    for name, job in out["dpg"].items()
  ]
  target = out["dpg_target"]
  rows.append(
    ("target p", f"{target['reward']:.3g}", f"{target['entropy']:.3g}", *(["0"] * len(names)))
  )
  header = ("f-DPG objective", "E[r]", "entropy", *(f"{n}(p‖π)" for n in names))
  return R.format_table(header, rows)


def rl_table(out: dict) -> str:
  ks = out["config"]["pass_ks"]
  rows = []
  for name, job in out["rl"].items():
    for coef, c in job["coefs"].items():
      rows.append(
        (
          RL_REGULARIZER.get(name, name),
          coef,
          *(_pm(c, f"pass@{k}") for k in ks),
          _pm(c, "entropy"),
          _pm(c, "kl_from_ref"),
          _lost(c["per_seed"], out["reference"]["solve_rate"]),
          _hardest(c["per_seed"], out["reference"]["solve_rate"]),
        )
      )
  ref = out["reference"]
  rows.append(
    (
      "π0 (reference)",
      "-",
      *(f"{ref['pass_at_k'][str(k)]:.3g}" for k in ks),
      f"{ref['entropy']:.3g}",
      0.0,
      "-",
      f"{min(ref['solve_rate']):.2g}",
    )
  )
  header = (
    "RL regulariser",
    "weight",
    *(f"Pass@{k}" for k in ks),
    "entropy",
    "KL(π0‖π)",
    "prompts below π0 / 2",
    "π(C) on the hardest prompt (median)",
  )
  return R.format_table(header, rows)


def _lost(per_seed: list[dict], reference_solve: list[float]) -> str:
  """Prompts whose solve probability fell below half the initial policy's, mean over
  seeds: where RL narrowed the policy off solutions the base model had."""
  ref = 0.5 * np.asarray(reference_solve)
  lost = [np.sum(np.asarray(r["solve_rate"]) < ref) for r in per_seed]
  return f"{np.mean(lost):.2g} / {len(reference_solve)}"


def _hardest(per_seed: list[dict], reference_solve: list[float]) -> str:
  """The solve probability on the prompt the initial policy solves least, median over seeds."""
  x = int(np.argmin(reference_solve))
  return f"{np.median([r['solve_rate'][x] for r in per_seed]):.2g}"


def write_reports(out: dict, workdir: str, *, verbose: bool) -> None:
  text = "\n\n".join(
    t
    for t, section in ((dpo_table, "dpo"), (dpg_table, "dpg"), (rl_table, "rl"))
    if out[section]
    for t in [t(out)]
  )
  R.write_text(os.path.join(workdir, "table.md"), text + "\n")
  if verbose:
    print(text)
  if out["dpo"]:
    plot_frontier(out, os.path.join(workdir, "frontier.png"))
  if out["rl"]:
    plot_pass_at_k(out, os.path.join(workdir, "pass_at_k.png"))


def _is_dpo_family(name: str) -> bool:
  """The divergences of the f-DPO paper: DPO, its forward KL, JS and the alpha family."""
  return name in DPO_CONSTRAINT or name.startswith("alpha")


def plot_frontier(out: dict, path: str) -> None:
  r"""Expected reward against entropy: f-DPO per divergence (a line over β; the paper's
  divergences left, the rest of the registry right), f-DPG, and the exact KL-constrained
  optimum :math:`\pi_{ref} e^{r/\beta}` in both panels."""
  plt = R.pyplot()
  fig, axes = plt.subplots(1, 2, figsize=(13, 5), sharex=True, sharey=True)
  front = out["frontier"]
  ref = out["reference"]
  colors = plt.cm.tab10(np.arange(10))
  panels = (
    ("f-DPO paper's divergences, f-DPG", _is_dpo_family),
    ("the other registry entries", lambda n: not _is_dpo_family(n)),
  )
  for p, (ax, (title, keep)) in enumerate(zip(axes, panels)):
    ax.plot(
      [f["entropy"] for f in front],
      [f["reward"] for f in front],
      "k-",
      lw=1,
      label="π_ref·exp(r/β) (exact, KL optimum)",
    )
    names = [n for n in out["dpo"] if keep(n)]
    for i, name in enumerate(names):
      b = list(out["dpo"][name]["betas"].items())
      ax.errorbar(
        [x["entropy_mean"] for _, x in b],
        [x["reward_mean"] for _, x in b],
        xerr=[x["entropy_std"] for _, x in b],
        yerr=[x["reward_std"] for _, x in b],
        marker="o",
        capsize=2,
        color=colors[i % 10],
        label=f"f-DPO {DPO_CONSTRAINT.get(name, _alpha_label(name))}",
      )
      for beta, x in b:
        ax.annotate(f"β={beta}", (x["entropy_mean"], x["reward_mean"]), fontsize=6)
    if p == 0:
      for j, (name, job) in enumerate(out["dpg"].items()):
        ax.plot(
          job["entropy_mean"],
          job["reward_mean"],
          "s",
          ms=7,
          markeredgecolor="k",
          color=colors[(7 + j) % 10],
          label=f"f-DPG {DPG_OBJECTIVE.get(name, name)}",
        )
    ax.plot(ref["entropy"], ref["reward"], "k*", ms=12, label="reference")
    ax.set_xlabel("entropy H(π) (nats, exact)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=6.5, loc="lower left")
  axes[0].set_ylabel("expected reward E_π[r] (exact)")
  fig.suptitle("Alignment-diversity frontier (mean over prompts; ± std over seeds)")
  fig.tight_layout()
  R.save_figure(fig, path)


def plot_pass_at_k(out: dict, path: str) -> None:
  """Pass@k against k per regulariser, one panel per weight; the reference dashed."""
  plt = R.pyplot()
  ks = out["config"]["pass_ks"]
  coefs = out["config"]["rl_coefs"]
  fig, axes = plt.subplots(1, len(coefs), figsize=(4.2 * len(coefs), 3.8), squeeze=False)
  ref = out["reference"]["pass_at_k"]
  for ax, coef in zip(axes[0], coefs):
    ax.plot(ks, [ref[str(k)] for k in ks], "k--", label="π0 (reference)")
    for name, job in out["rl"].items():
      c = job["coefs"].get(str(float(coef))) or job["coefs"].get("0.0")
      mean = np.array([c[f"pass@{k}_mean"] for k in ks])
      std = np.array([c[f"pass@{k}_std"] for k in ks])
      ax.errorbar(ks, mean, yerr=std, marker="o", capsize=2, label=RL_REGULARIZER.get(name, name))
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k")
    ax.set_title(f"regulariser weight {coef:g}", fontsize=9)
  axes[0, 0].set_ylabel("Pass@k (exact)")
  axes[0, -1].legend(fontsize=7, loc="lower right")
  fig.suptitle("RL with a verifiable reward: Pass@k per regulariser")
  fig.tight_layout()
  R.save_figure(fig, path)
