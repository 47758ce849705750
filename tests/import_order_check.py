"""Run as a script: JAX's backend starts before ``import fdiv_jax`` (the usual
notebook order); every registry entry's jitted estimate must equal the eager one
on 8 192 samples (jaxlib 0.10.2's XLA:CPU reduce-fusion miscompilation)."""

import json
import sys
import warnings

import jax
import jax.numpy as jnp

jnp.ones(1).block_until_ready()  # the backend starts here, before fdiv_jax

with warnings.catch_warnings(record=True) as caught:
  warnings.simplefilter("always")
  import fdiv_jax as fd  # noqa: E402

k1, k2 = jax.random.split(jax.random.PRNGKey(0))
lp, lq = jax.random.normal(k1, (8192,)), jax.random.normal(k2, (8192,))
# The alpha family (two expm1 of one input: what the fusion got wrong) and the
# entries with exp / expm1 forms.
entries = [fd.get(n) for n in ("kl", "js", "squared_hellinger", "pearson", "jeffreys")]
entries += [fd.get("alpha", alpha=a) for a in (-1.0, 0.5, 1.0, 2.0, 3.0, 1.0 - 1e-5)]
rows = []
for d in entries:
  f = lambda lp, lq, d=d: fd.f_divergence(lp, lq, divergence=d)
  rows.append([repr(d), "D_f", float(f(lp, lq)), float(jax.jit(f)(lp, lq))])
  g = lambda v, d=d: jnp.sum(d.conjugate_of_activation(v))
  rows.append([repr(d), "f*(g)", float(g(lp)), float(jax.jit(g)(lp))])
json.dump({"rows": rows, "warnings": [str(w.message) for w in caught]}, sys.stdout)
