"""Online / mutual distillation on digits: two width-12 peers trained together with each
logit loss (BD-KD's online setting), against two peers trained alone (ce); 5 seeds."""

from experiments.knowledge_distillation.configs import default


def get_config() -> default.Config:
  losses = ("ce", "kl", "reverse_kl", "js", "alpha:0.5", "alpha:2", "total_variation", "bd_kd")
  return default.regimes_only(("mutual",), losses)
