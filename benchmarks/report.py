"""Tables (``benchmarks/RESULTS.md``) and plots (``benchmarks/results/*.png``) from
the JSON results, one column group per platform that has results (cpu, gpu).

Usage: python -m benchmarks.report
"""

from __future__ import annotations

import os

from benchmarks import common, kernels

HERE = os.path.dirname(os.path.abspath(__file__))
PLATFORMS = ("cpu", "gpu", "tpu")


def _fmt(v, spec=".3g"):
  return "-" if v is None else format(v, spec)


def _ratio_cell(t):
  if "ratio_ci95" not in t:
    return f"{t['ratio']:.2f}"
  lo, hi = t["ratio_ci95"]
  cell = f"{t['ratio']:.2f} [{lo:.2f}, {hi:.2f}]"
  return f"**{cell}**" if hi < 1.0 else cell


def tfp_table(plat, res):
  batches = [str(b) for b in res["batches"]]
  head = (
    ["divergence", "same value"]
    + [f"ratio @ {int(b):.0e}" for b in batches]
    + [
      "max finite log u (fdiv / tfp)",
      "min finite log u (fdiv / tfp)",
      "XLA fusions / instructions at the largest batch (fdiv vs tfp)",
    ]
  )
  lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
  if any("ratio_ci95" in v for r in res["rows"] for v in r["throughput"].values()):
    lines = [
      "Each ratio with its 95% bootstrap interval over the paired calls; "
      "**bold**: the interval lies below 1 (fdiv_jax significantly slower).",
      "",
    ] + lines
  for r in res["rows"]:
    pos, neg = r["max_finite_log_u_pos"], r["max_finite_log_u_neg"]
    cells = [
      r["divergence"],
      "yes" if r["value_rel_diff"] < 1e-5 else f"rel diff {r['value_rel_diff']:.1e}",
    ]
    cells += [_ratio_cell(r["throughput"][b]) for b in batches]
    cells += [f"{pos['fdiv_jax']:g} / {pos['tfp']:g}", f"-{neg['fdiv_jax']:g} / -{neg['tfp']:g}"]
    hlo = r.get("hlo")
    cells.append(
      "-"
      if hlo is None
      else f"{hlo['fdiv_jax']['hlo_fusions']} / {hlo['fdiv_jax']['hlo_instructions']} vs "
      f"{hlo['tfp']['hlo_fusions']} / {hlo['tfp']['hlo_instructions']}"
    )
    lines.append("| " + " | ".join(cells) + " |")
  return "\n".join(lines)


def sinkhorn_table(res):
  head = [
    "n",
    "iterations",
    "fdiv_jax s",
    "raw OTT s",
    "wrapper overhead",
    "POT s",
    "fdiv_jax speed-up vs POT",
    "value fdiv / OTT / POT",
  ]
  lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
  for r in res["rows"]:
    s, v = r["seconds"], r["value"]
    lines.append(
      "| "
      + " | ".join(
        [
          str(r["n"]),
          str(r["iters"]),
          _fmt(s["fdiv_jax"]),
          _fmt(s["ott"]),
          f"{100 * r['overhead_vs_ott']:+.1f}%",
          _fmt(s.get("pot")) + (f" ({r['pot_backend']})" if "pot_backend" in r else ""),
          _fmt(r.get("speedup_vs_pot"), ".1f") + ("x" if "speedup_vs_pot" in r else ""),
          f"{v['fdiv_jax']:.4f} / {v['ott']:.4f} / {_fmt(v.get('pot'), '.4f')}",
        ]
      )
      + " |"
    )
  return "\n".join(lines)


def kernels_table(res):
  head = [
    "d",
    "n",
    "tile",
    "blocked s",
    "blocked peak MiB",
    "GFLOP/s",
    "% of matmul",
    "dense s",
    "dense peak MiB",
    "CS estimate (population)",
  ]
  rates = res.get("matmul_flops_by_precision", {})
  rate = f"Measured float32 matmul rate (the ceiling): {res['matmul_flops'] / 1e9:.0f} GFLOP/s"
  if "default" in rates:
    rate += (
      f" at full precision, as the kernel sums run; "
      f"{rates['default'] / 1e9:.0f} at XLA's default precision"
    )
  lines = [rate + ".", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
  for r in res["rows"]:
    b, d = r["blocked"], r["dense"]
    tiles = sorted(int(k.split("_")[1]) for k in r if k.startswith("blocked_"))
    tile = str(b.get("block_size", 1024))
    if len(tiles) > 1:
      tile += " (of " + ", ".join(map(str, tiles)) + ")"
    lines.append(
      "| "
      + " | ".join(
        [
          str(r["d"]),
          f"{r['n']:.0e}",
          tile,
          "compiled only" if b.get("seconds") is None else _fmt(b["seconds"]),
          f"{b['peak_bytes'] / 2**20:.1f}",
          _fmt(b.get("gflops"), ".1f"),
          _fmt(
            None if b.get("fraction_of_matmul") is None else 100 * b["fraction_of_matmul"], ".0f"
          ),
          "not run" if d.get("seconds") is None else _fmt(d["seconds"]),
          f"{d['peak_bytes'] / 2**20:.1f}",
          f"{_fmt(b.get('value'), '.5f')} ({kernels.population_cs(r['d']):.5f})",
        ]
      )
      + " |"
    )
  if res.get("precision"):
    names = [k for k in ("highest", "default", "tf32_emulated") if k in res["precision"][0]]
    titles = {
      "highest": "full f32 (fdiv_jax)",
      "default": "XLA default",
      "tf32_emulated": "TF32 emulated",
    }
    lines += [
      "",
      "Inner-product precision of the blocked estimator against a float64 "
      "reference (clouds `offset + scale * N(0, I)`, bandwidth sqrt(d); "
      "relative error, seconds):",
      "",
      "| d | n | scale | offset | float64 | " + " | ".join(titles[k] for k in names) + " |",
      "|---|---|---|---|---|" + "---|" * len(names),
    ]
    for r in res["precision"]:
      lines.append(
        f"| {r['d']} | {r['n']:.0e} | {r['scale']} | {r.get('offset', 0.0)} | "
        f"{r['reference_f64']:.5g} | "
        + " | ".join(f"{r[k]['rel_err']:.1e}, {_fmt(r[k]['seconds'])}" for k in names)
        + " |"
      )
  return "\n".join(lines)


def training_table(res):
  o, b = res["one_step_diffusion"], res["boltzmann"]
  lines = [
    f"- one-step diffusion (f-distill, batch {o['batch']}, {o['critic_updates']} critic "
    f"updates per step): {o['steps_per_s']:.1f} train steps/s",
    f"- Boltzmann GMM-40 (spline flow, batch {b['batch']}): reverse-KL "
    f"{b['reverse_kl_steps_per_s']:.1f} steps/s; one TA-BG level (resample "
    f"{b['buffer']} + {b['ml_steps']} ML steps) {b['tabg_level_s']:.2f} s",
    "",
    "| coupling layers | compile s (lax.scan) | compile s (distrax.Chain) | "
    "step ms (scan) | step ms (Chain) |",
    "|---|---|---|---|---|",
  ]
  for r in res["compile_vs_depth"]:
    lines.append(
      f"| {r['layers']} | {r['scan']['compile_s']:.2f} | "
      f"{r['chain']['compile_s']:.2f} | {1e3 * r['scan']['step_s']:.1f} | "
      f"{1e3 * r['chain']['step_s']:.1f} |"
    )
  return "\n".join(lines)


def load_kernels(plat):
  """``kernels.json`` with the rows of ``kernels_1e6.json`` (the n = 1e6 run, made
  on its own: ~40 min on 2 cores) in place of the compile-only rows they fill."""
  res, big = common.load("kernels", plat), common.load("kernels_1e6", plat)
  if res and big:
    done = {(r["n"], r["d"]) for r in big["rows"]}
    res = dict(res, rows=[r for r in res["rows"] if (r["n"], r["d"]) not in done] + big["rows"])
  return res or big


def plots(plat):
  from experiments.common.results import pyplot

  plt = pyplot()

  tfp = common.load("divergences_vs_tfp", plat)
  ker = load_kernels(plat)
  fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
  if tfp:
    for r in tfp["rows"]:
      bs = [int(b) for b in r["throughput"]]
      axes[0].plot(
        bs, [v["ratio"] for v in r["throughput"].values()], marker=".", label=r["divergence"]
      )
    axes[0].axhline(1.0, color="k", lw=0.8)
    axes[0].set_xscale("log")
    axes[0].set_xlabel("batch")
    axes[0].set_ylabel("throughput fdiv_jax / TFP")
    axes[0].legend(fontsize=6, ncol=2)
  if ker:
    for d in sorted({r["d"] for r in ker["rows"]}):
      rows = [r for r in ker["rows"] if r["d"] == d]
      # The library's default tile for this platform where the sweep has it.
      tile = f"blocked_{kernels.K.default_block_size(plat)}"
      axes[1].plot(
        [r["n"] for r in rows],
        [r.get(tile, r["blocked"])["peak_bytes"] / 2**20 for r in rows],
        marker="o",
        label=f"blocked d={d} (tile {tile.split('_')[1]})",
      )
      axes[1].plot(
        [r["n"] for r in rows],
        [r["dense"]["peak_bytes"] / 2**20 for r in rows],
        marker="x",
        ls="--",
        label=f"dense d={d}",
      )
    axes[1].set_xscale("log")
    axes[1].set_yscale("log")
    axes[1].set_xlabel("n")
    axes[1].set_ylabel("peak memory (MiB, XLA plan)")
    axes[1].legend(fontsize=6)
  fig.suptitle(f"fdiv_jax benchmarks ({plat})", fontsize=9)
  fig.tight_layout()
  path = os.path.join(common.RESULTS, f"{plat}.png")
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path


def main():
  out = [
    "# Benchmark results",
    "",
    "Generated by `python -m benchmarks.report` from `benchmarks/results/<platform>/*.json`"
    " (written by `make bench`).",
    "",
  ]
  for plat in PLATFORMS:
    # (results, section title, table); each section's loader reads its JSON files.
    found = [
      (
        common.load("divergences_vs_tfp", plat),
        "Registry / Monte-Carlo losses vs "
        "TFP (value + gradient throughput ratio fdiv_jax / TFP; > 1 = fdiv_jax faster)",
        lambda r: tfp_table(plat, r),
      ),
      (common.load("sinkhorn", plat), "Sinkhorn divergence vs raw OTT and POT", sinkhorn_table),
      (load_kernels(plat), "Cauchy-Schwarz divergence: blocked vs dense", kernels_table),
      (
        common.load("training", plat),
        "Training throughput and compile time vs depth",
        training_table,
      ),
    ]
    if not any(r for r, _, _ in found):
      continue
    m = next(r for r, _, _ in found if r)["machine"]
    out += [
      f"## {plat.upper()}: {m['device']} ({m['cpu']}, {m['cores']} cores; jax {m['jax']})",
      "",
    ]
    for res, title, fn in found:
      if res:
        out += [f"### {title}", "", fn(res), ""]
    out += [f"![{plat}](results/{plat}.png)", ""]
    plots(plat)
  with open(os.path.join(HERE, "RESULTS.md"), "w") as f:
    f.write("\n".join(out))
  print("wrote benchmarks/RESULTS.md")


if __name__ == "__main__":
  main()
