r"""Sample-quality metrics for Boltzmann generators and samplers.

With flow samples :math:`x_i \sim q` and log weights
:math:`\log w_i = \log\tilde p(x_i) - \log q(x_i)` (``tilde p`` unnormalised):

* log Z: :math:`\log\hat Z = \log\frac1N\sum_i w_i` (a lower bound in
  expectation; its error against a known log Z);
* reverse ESS: :math:`(\sum w)^2 / (N\sum w^2)` from flow samples;
* forward ESS from exact target samples :math:`y_j \sim p`:
  :math:`1 / (\overline{w(y)}\;\overline{1/w(y)})`, invariant to the scale of
  :math:`\tilde p` (Midgley et al., 2023, App. B); it sees modes the flow
  misses, which the reverse ESS cannot;
* ELBO :math:`\mathbb E_q[\log\tilde p - \log q] \le \log Z` and EUBO
  :math:`\mathbb E_p[\log\tilde p - \log q] \ge \log Z`; their gap is
  :math:`\mathrm{KL}(q\|p) + \mathrm{KL}(p\|q)` (Jeffreys), so a collapsed flow
  shows a large EUBO;
* mode coverage by nearest-centre assignment, the mode-entropy coverage
  :math:`\exp H(\text{histogram}) / K`, Many-Well sign patterns;
* energy distance and MMD to exact samples;
* in a feature space (e.g. a classifier's): the Fréchet distance and improved precision and
  recall (Kynkäänniemi et al., 2019), which separate sample quality from coverage;
* standardised errors of posterior means and standard deviations against ground-truth
  moments, :math:`(\hat m_k - m_k)/s_k` and :math:`(\hat s_k - s_k)/s_k` per coordinate
  (Inference Gym's convention of scaling by the posterior standard deviation).

References:
  Midgley, Stimper, Simm, Schoelkopf, Hernandez-Lobato. Flow Annealed
  Importance Sampling Bootstrap. ICLR 2023. Kong (1992) for the ESS.
  Szekely & Rizzo. Energy statistics. 2013.
"""

from fdiv_jax.metrics._features import PrecisionRecall, frechet_distance, precision_recall
from fdiv_jax.metrics._modes import ModeCoverage, mode_coverage, sign_patterns
from fdiv_jax.metrics._samples import MomentErrors, energy_distance, moment_errors
from fdiv_jax.metrics._weights import elbo, eubo, forward_ess, log_z_estimate, reverse_ess

__all__ = [
  "elbo",
  "energy_distance",
  "eubo",
  "forward_ess",
  "frechet_distance",
  "log_z_estimate",
  "MomentErrors",
  "ModeCoverage",
  "mode_coverage",
  "moment_errors",
  "precision_recall",
  "PrecisionRecall",
  "reverse_ess",
  "sign_patterns",
]
