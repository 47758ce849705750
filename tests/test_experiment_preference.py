"""The preference experiment: the exact policy tables, the problem, the metrics, and the
run end to end with resume and the NaN guard."""

import dataclasses
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from experiments.common import results as R
from experiments.preference import policy, problem
from experiments.preference import train as T
from experiments.preference.configs import test as test_config

VOCAB, LENGTH, PROMPTS = 3, 4, 2


@pytest.fixture(scope="module")
def tiny():
  model = policy.Policy((8,), VOCAB)
  dim = PROMPTS + LENGTH * (1 + VOCAB)
  params = model.init(jax.random.PRNGKey(3), jnp.zeros((1, dim)))
  # Sharpen the random init so that the distribution is far from uniform.
  params = jax.tree.map(lambda a: 3.0 * a, params)
  return model, params


def test_space_indexes_every_prefix():
  s = policy.space(VOCAB, LENGTH)
  n = VOCAB**LENGTH
  assert s["responses"].shape == (n, LENGTH)
  assert len(np.unique(s["responses"], axis=0)) == n
  assert len(s["position"]) == sum(VOCAB**t for t in range(LENGTH))
  for t in range(LENGTH):
    rows = s["prefixes"][s["index"][:, t]]
    assert np.all(s["position"][s["index"][:, t]] == t)
    np.testing.assert_array_equal(rows[:, :t], s["responses"][:, :t])
  got = policy.response_index(jnp.asarray(s["responses"]), VOCAB)
  np.testing.assert_array_equal(np.asarray(got), np.arange(n))


def test_exact_table_equals_teacher_forcing_and_normalises(tiny):
  model, params = tiny
  table = policy.all_logp(model, params, num_prompts=PROMPTS, length=LENGTH)
  responses = jnp.asarray(policy.space(VOCAB, LENGTH)["responses"])
  for x in range(PROMPTS):
    forced = policy.sequence_logp(
      model, params, jnp.full(len(responses), x), responses, num_prompts=PROMPTS
    )
    np.testing.assert_allclose(table[x], forced, atol=1e-5)
  np.testing.assert_allclose(jnp.exp(jax.nn.logsumexp(table, -1)), 1.0, atol=1e-5)
  assert float(jnp.max(jnp.abs(table[0] - table[1]))) > 1e-2  # the prompt matters


def test_prefix_cross_entropy_equals_sequence_cross_entropy(tiny):
  model, params = tiny
  log_data = jax.nn.log_softmax(jax.random.normal(jax.random.PRNGKey(0), (PROMPTS, 81)) * 2)
  mass = policy.next_token_mass(log_data, VOCAB, LENGTH)
  np.testing.assert_allclose(mass.sum((1, 2)), LENGTH, rtol=1e-6)  # one token per position
  table = policy.prefix_logp(model, params, num_prompts=PROMPTS, length=LENGTH)
  seq = policy.all_logp(model, params, num_prompts=PROMPTS, length=LENGTH)
  np.testing.assert_allclose(np.sum(mass * table), np.sum(np.exp(log_data) * seq), rtol=1e-5)


def test_sample_and_generate_draw_the_exact_distribution(tiny):
  model, params = tiny
  log_p = policy.all_logp(model, params, num_prompts=PROMPTS, length=LENGTH)
  num = 20_000
  drawn = policy.sample(jax.random.PRNGKey(1), log_p, num)
  y = policy.generate(
    jax.random.PRNGKey(2),
    model,
    params,
    jnp.arange(PROMPTS),
    num,
    num_prompts=PROMPTS,
    length=LENGTH,
  )
  generated = policy.response_index(y, VOCAB)
  for x in range(PROMPTS):
    expected = num * np.exp(np.asarray(log_p[x], np.float64))
    expected *= num / expected.sum()
    for idx in (drawn[x], generated[x]):
      counts = np.bincount(np.asarray(idx), minlength=VOCAB**LENGTH)
      assert stats.chisquare(counts, expected).pvalue > 1e-3


def test_metrics_closed_forms():
  # Prompt 0: uniform over 4 responses, 1 correct; prompt 1: all mass on a correct one.
  log_p = jnp.log(jnp.array([[0.25] * 4, [1.0, 1e-30, 1e-30, 1e-30]]))
  correct = jnp.array([[True, False, False, False], [True, False, False, False]])
  np.testing.assert_allclose(policy.entropy(log_p), [np.log(4), 0.0], atol=1e-5)
  got = policy.pass_at_k(log_p, correct, (1, 3))
  np.testing.assert_allclose(got[1], (0.25 + 1) / 2, rtol=1e-6)
  np.testing.assert_allclose(got[3], (1 - 0.75**3 + 1) / 2, rtol=1e-6)


def test_problem_tables():
  cfg = test_config.get_config()
  prob = problem.make_problem(cfg)
  assert prob.log_data.shape == (2, 81) and prob.num_prompts == 2 and prob.length == 4
  np.testing.assert_allclose(jnp.exp(jax.nn.logsumexp(prob.log_data, -1)), 1.0, atol=1e-5)
  solve = np.asarray(policy.expectation(prob.log_data, prob.correct.astype(jnp.float32)))
  # The smallest top-reward set holding at least the rate: at least the rate, and
  # dropping its lowest-reward member would leave less.
  assert np.all(solve >= np.asarray(cfg.solve_rates) - 1e-6)
  for x, rate in enumerate(cfg.solve_rates):
    r, p = np.asarray(prob.reward[x]), np.exp(np.asarray(prob.log_data[x]))
    kept = np.asarray(prob.correct[x])
    assert r[kept].min() >= r[~kept].max()
    assert solve[x] - p[kept][np.argmin(r[kept])] < rate + 1e-6
  # pi_ref exp(r / beta) beats the reference on E[r] - beta KL(pi || ref), exactly.
  beta, log_ref = 0.5, prob.log_data
  objective = lambda lp: (
    policy.expectation(lp, prob.reward) - beta * jnp.sum(jnp.exp(lp) * (lp - log_ref), -1)
  )
  tilted = problem.kl_tilted(log_ref, prob.reward, beta)
  other = jax.nn.log_softmax(tilted + 0.1 * jax.random.normal(jax.random.PRNGKey(0), tilted.shape))
  assert np.all(objective(tilted) > objective(log_ref))
  assert np.all(objective(tilted) > objective(other))


def test_calibration_of_the_true_implicit_reward():
  """DPO's optimum pi_ref exp(r / beta) has implicit reward r (up to a constant): on
  pairs labelled by Bradley-Terry with r its predictions are calibrated and order every
  pair as r does."""
  prob = problem.make_problem(test_config.get_config())
  beta = 0.5
  log_pi = problem.kl_tilted(prob.log_data, prob.reward, beta)
  pairs = T.preference_pairs(jax.random.PRNGKey(0), prob.log_data, prob.reward, 20_000)
  cal = T.preference_calibration(log_pi, prob.log_data, pairs, divergence="kl", beta=beta, bins=10)
  assert cal["true_order_agreement"] > 0.999  # ties (equal rewards) aside
  assert cal["ece"] < 0.02
  # A policy that ignores the reward predicts 1/2 everywhere: ECE = |accuracy - 1/2|.
  flat = T.preference_calibration(
    prob.log_data, prob.log_data, pairs, divergence="kl", beta=beta, bins=10
  )
  assert flat["nll"] == pytest.approx(np.log(2), abs=1e-6)


def test_rl_rejects_an_unknown_regularizer():
  cfg = test_config.get_config()
  prob = problem.make_problem(cfg)
  model = policy.Policy(cfg.hidden, cfg.vocab)
  with pytest.raises(ValueError, match="regularizer must be one of"):
    T.train_rl(
      jax.random.PRNGKey(0),
      {},
      0.1,
      model=model,
      problem=prob,
      log_init=prob.log_data,
      regularizer="l2",
      steps=2,
      snapshots=1,
      config=cfg,
    )


def test_preference_end_to_end_resume_and_nan_guard(tmp_path, monkeypatch):
  from experiments.preference import main as pref_main
  from experiments.preference import runs

  workdir = str(tmp_path / "preference")
  pref_main.main(["--config", "test", "--workdir", workdir])
  out = R.read_json(os.path.join(workdir, "results.json"))
  cfg = out["config"]
  assert list(out["dpo"]) == cfg["dpo_divergences"]
  assert list(out["dpg"]) == cfg["dpg_divergences"]
  assert list(out["rl"]) == cfg["rl_regularizers"]
  assert out["reference"]["restored_from_checkpoint"] is False
  assert 0.0 <= out["reference"]["kl_data_to_ref"] < 1.0
  for job in out["dpo"].values():
    for b in job["betas"].values():
      assert len(b["per_seed"]) == cfg["seeds"]
      assert 0.0 <= b["ece_mean"] <= 1.0 and b["kl_to_ref_mean"] >= 0.0
  for job in out["rl"].values():
    for c in job["coefs"].values():
      curve = c["per_seed"][0]["curve"]
      assert [p["step"] for p in curve] == [10, 20]
      assert 0.0 <= c["pass@1_mean"] <= c["pass@4_mean"] <= 1.0
  for name in ("frontier.png", "pass_at_k.png"):
    assert os.path.getsize(os.path.join(workdir, name)) > 10_000
  assert "f-DPO constraint" in open(os.path.join(workdir, "table.md")).read()

  # Resume: the reference is restored and every finished job kept as it was.
  cfg_obj = pref_main.cli.load_config("experiments.preference", "test")
  again = pref_main.run(cfg_obj, workdir, verbose=False)
  assert again["reference"]["restored_from_checkpoint"] is True
  assert again["reference"]["reward"] == out["reference"]["reward"]
  assert again["dpo"] == out["dpo"] and again["rl"] == out["rl"]

  # A job whose training goes non-finite stops the run, naming it; earlier jobs stay.
  more = dataclasses.replace(cfg_obj, dpg_divergences=("js", "kl"))
  real = runs.T.train_dpg

  def nan_dpg(*args, **kwargs):
    params, losses = real(*args, **kwargs)
    return params, losses * jnp.nan

  monkeypatch.setattr(runs.T, "train_dpg", nan_dpg)
  with pytest.raises(R.NonFiniteError, match=r"f-DPG \(js\) training loss"):
    pref_main.run(more, workdir, fresh=True, verbose=False)
  kept = R.read_json(os.path.join(workdir, "results.json"))
  assert set(kept["dpo"]) == set(cfg["dpo_divergences"]) and kept["dpg"] == {}
