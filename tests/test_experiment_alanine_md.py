"""The MD reference's analysis: Ramachandran basins, free energies and histogram KL."""

import numpy as np

from experiments.boltzmann import alanine_md as md


def test_basins_partition_the_plane_and_wrap_the_beta_basin():
  rng = np.random.default_rng(0)
  phi, psi = rng.uniform(-np.pi, np.pi, (2, 10_000))
  b = md.basins(phi, psi)
  assert np.all(b["left"].astype(int) + b["c7ax"] + b["alpha_l"] == 1)
  # C7eq, C5 / beta past phi = -pi (phi = +3.0), alphaR: left; C7ax and alphaL: right.
  points = np.radians([[-80, 70], [172, 160], [-70, -40], [70, -70], [60, 40]])
  got = md.basins(points[:, 0], points[:, 1])
  np.testing.assert_array_equal(got["left"], [True, True, True, False, False])
  np.testing.assert_array_equal(got["c7ax"], [False, False, False, True, False])
  np.testing.assert_array_equal(got["alpha_l"], [False, False, False, False, True])


def test_free_energies_are_minus_log_population_ratios_and_weights_count():
  phi = np.radians([-80.0] * 6 + [70.0] * 3 + [60.0])
  psi = np.radians([70.0] * 6 + [-70.0] * 3 + [40.0])
  out = md.basin_free_energies(phi, psi)
  np.testing.assert_allclose(out["population"]["left"], 0.6)
  np.testing.assert_allclose(out["free_energy_kt"]["c7ax"], -np.log(0.3 / 0.6))
  np.testing.assert_allclose(out["free_energy_kt"]["alpha_l"], -np.log(0.1 / 0.6))
  weighted = md.basin_free_energies(phi, psi, weights=np.r_[np.ones(9), 6.0])
  np.testing.assert_allclose(weighted["free_energy_kt"]["alpha_l"], 0.0)
  assert md.basin_free_energies(phi[:9], psi[:9])["free_energy_kt"]["alpha_l"] == np.inf


def test_histogram_kl_is_zero_for_equal_histograms_and_grows_with_a_shift():
  rng = np.random.default_rng(1)
  a = rng.normal(0.0, 0.5, (2, 20_000))
  b = rng.normal(0.0, 0.5, (2, 20_000))
  c = rng.normal(1.0, 0.5, (2, 20_000))
  h = [md.histogram(x[0], x[1]) for x in (a, b, c)]
  np.testing.assert_allclose(h[0].sum(), 1.0)
  assert md.histogram_kl(h[0], h[0]) == 0.0
  assert md.histogram_kl(h[0], h[1]) < 0.1 < md.histogram_kl(h[0], h[2])
