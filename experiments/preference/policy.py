"""An autoregressive policy over every sequence of a small vocabulary, computed exactly.

With vocabulary ``V`` and length ``L`` there are ``V**L`` responses per prompt (6**6 =
46 656) but only ``sum_t V**t`` distinct prefixes (9 331), so the policy's next-token
log-probabilities at every prefix form one small table, and the exact log-probability of
every response is a gather from it: expected rewards, entropies, divergences and Pass@k
below are sums over all responses, not Monte-Carlo estimates.

The policy is an MLP over one-hot features of (prompt, position, prefix): the prefix
tokens at positions ``< t`` one-hot, later positions zero (a causal mask by construction).
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

import fdiv_jax as fd


class Policy(nn.Module):
  """Next-token logits ``[..., V]`` from features ``[..., P + L + L * V]``."""

  hidden: tuple[int, ...]
  vocab: int

  @nn.compact
  def __call__(self, features):
    h = features
    for width in self.hidden:
      h = nn.gelu(nn.Dense(width)(h))
    return nn.Dense(self.vocab)(h)


@functools.lru_cache(maxsize=8)
def space(vocab: int, length: int) -> dict:
  """Every response and every prefix of ``vocab ** length`` sequences (numpy).

  Returns a dict with ``responses [N, L]`` (lexicographic), ``prefixes [M, L]`` (tokens
  at positions ``>= position`` set to 0), ``position [M]``, and ``index [N, L]``: the
  row of ``prefixes`` holding ``responses[:, :t]`` at ``position == t``.
  """
  grids = np.indices((vocab,) * length).reshape(length, -1).T
  prefixes, position, offsets = [], [], []
  for t in range(length):
    offsets.append(sum(len(p) for p in prefixes))
    rows = np.zeros((vocab**t, length), np.int32)
    if t:
      rows[:, :t] = np.indices((vocab,) * t).reshape(t, -1).T
    prefixes.append(rows)
    position.append(np.full(vocab**t, t, np.int32))
  weights = vocab ** np.arange(length)[::-1]  # base-V digits, most significant first
  index = np.stack([offsets[t] + grids[:, :t] @ weights[length - t :] for t in range(length)], 1)
  return {
    "responses": grids.astype(np.int32),
    "prefixes": np.concatenate(prefixes),
    "position": np.concatenate(position),
    "index": index.astype(np.int32),
  }


def response_index(responses, vocab: int) -> jax.Array:
  """Row of ``space(vocab, L)["responses"]`` holding each of ``responses [..., L]``."""
  length = responses.shape[-1]
  return responses @ (vocab ** jnp.arange(length - 1, -1, -1, dtype=responses.dtype))


def features(prompt, position, prefix, *, num_prompts: int, vocab: int) -> jax.Array:
  """One-hot (prompt, position, prefix masked at positions ``>= position``)."""
  length = prefix.shape[-1]
  mask = jnp.arange(length) < position[..., None]
  tokens = jax.nn.one_hot(prefix, vocab) * mask[..., None]
  return jnp.concatenate(
    [
      jax.nn.one_hot(prompt, num_prompts),
      jax.nn.one_hot(position, length),
      tokens.reshape(*prefix.shape[:-1], length * vocab),
    ],
    -1,
  )


def sequence_logp(model, params, prompt, responses, *, num_prompts: int) -> jax.Array:
  """``log pi(y | x)`` for ``responses [..., L]`` and ``prompt [...]`` (teacher forcing)."""
  length = responses.shape[-1]
  pos = jnp.broadcast_to(jnp.arange(length), responses.shape)
  prefix = jnp.broadcast_to(responses[..., None, :], (*responses.shape, length))
  feats = features(
    jnp.broadcast_to(prompt[..., None], responses.shape),
    pos,
    prefix,
    num_prompts=num_prompts,
    vocab=model.vocab,
  )
  logp = jax.nn.log_softmax(model.apply(params, feats), -1)
  return jnp.take_along_axis(logp, responses[..., None], -1)[..., 0].sum(-1)


def prefix_logp(model, params, *, num_prompts: int, length: int) -> jax.Array:
  """Next-token log-probabilities at every prefix, ``[P, M, V]`` (rows of ``space``)."""
  s = space(model.vocab, length)
  prefixes, position = jnp.asarray(s["prefixes"]), jnp.asarray(s["position"])

  def one(prompt):
    feats = features(
      jnp.full(position.shape, prompt),
      position,
      prefixes,
      num_prompts=num_prompts,
      vocab=model.vocab,
    )
    return jax.nn.log_softmax(model.apply(params, feats), -1)

  return jax.lax.map(one, jnp.arange(num_prompts))


def all_logp(model, params, *, num_prompts: int, length: int) -> jax.Array:
  """Exact ``log pi(y | x)`` of every response, ``[P, V ** L]``, from the prefix table."""
  s = space(model.vocab, length)
  table = prefix_logp(model, params, num_prompts=num_prompts, length=length)
  return table[:, jnp.asarray(s["index"]), jnp.asarray(s["responses"])].sum(-1)


def next_token_mass(log_p: np.ndarray, vocab: int, length: int) -> np.ndarray:
  r"""``J [P, M, V]``: the probability under ``exp(log_p) [P, N]`` of reaching prefix ``m``
  and emitting token ``v`` next, so that :math:`\sum_y p(y)\log\pi(y) =
  \sum_{m,v} J_{mv}\log\pi(v|m)` (the exact cross-entropy on the prefix table)."""
  s = space(vocab, length)
  prob = np.exp(np.asarray(log_p, np.float64))
  mass = np.zeros((prob.shape[0], len(s["position"]), vocab))
  for t in range(length):
    for x in range(prob.shape[0]):
      np.add.at(mass[x], (s["index"][:, t], s["responses"][:, t]), prob[x])
  return mass


def generate(key, model, params, prompt, num: int, *, num_prompts: int, length: int):
  """``num`` responses ``[..., num, L]`` per ``prompt [...]`` by ancestral sampling, one
  token at a time (what a policy-gradient step draws; no gradient flows through it)."""
  params = jax.lax.stop_gradient(params)
  prompt = jnp.broadcast_to(prompt[..., None], (*prompt.shape, num))

  def step(tokens, inputs):
    t, k = inputs
    feats = features(
      prompt, jnp.full(prompt.shape, t), tokens, num_prompts=num_prompts, vocab=model.vocab
    )
    token = jax.random.categorical(k, model.apply(params, feats))
    return tokens.at[..., t].set(token), None

  tokens = jnp.zeros((*prompt.shape, length), jnp.int32)
  keys = jax.random.split(key, length)
  return jax.lax.scan(step, tokens, (jnp.arange(length), keys))[0]


def sample(key, log_probs: jax.Array, num: int) -> jax.Array:
  """``num`` response indices per prompt from exact log-probabilities ``[P, N]``
  (:func:`fdiv_jax.annealing.resample` per prompt, one key each: an inverse CDF,
  ``O(N + num log N)``; Gumbel-max would draw ``num * N`` numbers)."""
  draw = lambda k, log_p: fd.annealing.resample(k, log_p, num).indices
  return jax.vmap(draw)(jax.random.split(key, log_probs.shape[0]), log_probs)


# ---------------------------------------------------------------------------
# Exact metrics of a distribution over responses (per prompt, then averaged).
# ---------------------------------------------------------------------------


def entropy(log_p: jax.Array) -> jax.Array:
  """Sequence entropy ``H(pi(. | x))`` in nats, ``[P]``."""
  return -jnp.sum(jnp.exp(log_p) * log_p, -1)


def expectation(log_p: jax.Array, values: jax.Array) -> jax.Array:
  """``E_pi[values]`` per prompt, ``[P]``."""
  return jnp.sum(jnp.exp(log_p) * values, -1)


def pass_at_k(log_p: jax.Array, correct: jax.Array, ks) -> dict:
  """Exact Pass@k = mean over prompts of ``1 - (1 - pi(C_x | x))**k`` (k independent
  samples, at least one verified correct)."""
  solve = jnp.clip(expectation(log_p, correct.astype(log_p.dtype)), 0.0, 1.0)
  return {int(k): float(jnp.mean(-jnp.expm1(k * jnp.log1p(-solve)))) for k in ks}
