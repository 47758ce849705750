"""Tables and plots of a Boltzmann run: ``table.md``, ``curves.png``, ``samples.png``."""

from __future__ import annotations

import os

import jax.numpy as jnp
import numpy as np

from experiments.common import results as R

SUMMARY = (
  "log_z_error",
  "reverse_ess",
  "forward_ess",
  "elbo",
  "eubo",
  "modes_covered",
  "mode_entropy",
  "sign_patterns",
  "energy_distance",
  "sinkhorn",
  "mean_error",
  "std_error",
  "energy_clipped_fraction",
)


def _cell(values):
  values = np.asarray(values, np.float64)
  sd = values.std(ddof=1) if values.size > 1 else 0.0
  return f"{values.mean():.4g} ± {sd:.2g}"


# Best published ELBO per target (Gaussian-mixture priors for diffusion samplers, ICLR 2025),
# under the definitions fdiv_jax.targets uses by default.
PUBLISHED_ELBO = {
  "german_credit": -585.145,
  "seeds": -73.418,
  "ionosphere": -111.657,
  "breast_cancer": -78.402,
  "brownian": 1.118,
}
SUITE = (
  "log_z_error",
  "reverse_ess",
  "forward_ess",
  "elbo",
  "eubo",
  "sinkhorn",
  "mean_error",
  "std_error",
)


def write_suite(outs: dict, workdir: str, *, verbose: bool) -> dict:
  """``suite.md``: one row per target and method (mean ± std over seeds at the last
  stage), the reference log Z and the best published ELBO beside them."""
  lasts = [j["history"][-1] for o in outs.values() for j in o["methods"].values() if j["history"]]
  keys = [k for k in SUITE if any(k in last for last in lasts)]
  rows = []
  for name, out in outs.items():
    ref = out.get("reference_log_z")
    for method, job in out["methods"].items():
      if not job["history"]:
        continue
      last = job["history"][-1]
      rows.append(
        [name, method]
        + [_cell(last[k]) if k in last else "-" for k in keys]
        + [
          "-" if ref is None else f"{ref[0]:.3f} ± {ref[1]:.3f}",
          f"{PUBLISHED_ELBO[name]:.3f}" if name in PUBLISHED_ELBO else "-",
          f"{job['target_evals']:.3g}",
          f"{job['wall_s']:.0f}",
        ]
      )
  table = R.format_table(
    ["target", "method", *keys]
    + ["reference log Z", "published ELBO", "target evals / seed", "wall s"],
    rows,
  )
  R.write_text(os.path.join(workdir, "suite.md"), table + "\n")
  if verbose:
    print(table)
  return outs


def write_reports(out, workdir, target, *, verbose):
  keys = [
    k
    for k in SUMMARY
    if any(k in j["history"][-1] for j in out["methods"].values() if j["history"])
  ]
  rows = []
  for method, job in out["methods"].items():
    if not job["history"]:
      continue
    last = job["history"][-1]
    rows.append(
      [method]
      + [_cell(last[k]) if k in last else "-" for k in keys]
      + [f"{job['target_evals']:.3g}", f"{job['wall_s']:.0f}"]
    )
  seeds = out["config"]["seeds"]
  table = R.format_table(
    ["method"]
    + [f"{k} ({seeds} seeds)" if i == 0 else k for i, k in enumerate(keys)]
    + ["target evals / seed", "train wall s"],
    rows,
  )
  R.write_text(os.path.join(workdir, "table.md"), table + "\n")
  if verbose:
    print(table)
  plot_curves(out, keys, os.path.join(workdir, "curves.png"))
  if target.dim == 2:
    plot_samples(out, workdir, target, os.path.join(workdir, "samples.png"))


def plot_curves(out, keys, path):
  plt = R.pyplot()

  keys = [
    k
    for k in keys
    if k
    in (
      "modes_covered",
      "mode_entropy",
      "reverse_ess",
      "forward_ess",
      "log_z_error",
      "sign_patterns",
    )
  ]
  fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.2), squeeze=False)
  for method, job in out["methods"].items():
    if not job["history"]:  # failed in its first stage
      continue
    evals = [h["target_evals"] for h in job["history"]]
    for ax, k in zip(axes[0], keys):
      if k in job["history"][-1]:
        ys = [np.asarray(h[k], np.float64) for h in job["history"]]  # "nan" as text
        # log Z error: the mean absolute error over seeds, on a log axis.
        ys = [np.mean(np.abs(y)) if k == "log_z_error" else np.mean(y) for y in ys]
        ax.plot(evals, ys, marker=".", label=method)
  for ax, k in zip(axes[0], keys):
    ax.set_xscale("log")
    ax.set_xlabel("target energy evaluations per seed")
    if k == "log_z_error":
      ax.set_yscale("log")
    title = "|log Z error|" if k == "log_z_error" else k
    ax.set_title(f"{title} (mean over seeds)", fontsize=9)
  axes[0][0].legend(fontsize=7)
  fig.tight_layout()
  R.save_figure(fig, path)


def plot_samples(out, workdir, target, path):
  plt = R.pyplot()

  methods = list(out["methods"])
  lim = 50
  g = np.linspace(-lim, lim, 300)
  xx, yy = np.meshgrid(g, g)
  dens = np.exp(np.asarray(target.log_prob(jnp.stack([xx.ravel(), yy.ravel()], -1))))
  fig, axes = plt.subplots(
    1, len(methods), figsize=(max(3.3 * len(methods), 5.0), 3.8), squeeze=False
  )
  for ax, method in zip(axes[0], methods):
    ax.contourf(xx, yy, dens.reshape(xx.shape), levels=30, cmap="Greys")
    f = os.path.join(workdir, f"samples_{method.replace(':', '_')}.npy")
    if os.path.exists(f):
      x = np.load(f)[0]
      ax.scatter(x[:, 0], x[:, 1], s=1, alpha=0.5, color="tab:red")
    last = out["methods"][method]["history"][-1]
    title = method
    if "modes_covered" in last:
      title += f": {last['modes_covered'][0]}/40 modes, ESS {last['reverse_ess'][0]:.2f}"
    ax.set_title(title, fontsize=8)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
  fig.suptitle(f"{target.name}: flow samples (seed 0, red) over the target density", fontsize=9)
  fig.tight_layout()
  R.save_figure(fig, path)
