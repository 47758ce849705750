"""Self-distillation on digits: students of the teacher's width (256x256), clean labels,
the row-wise KD losses against cross-entropy alone, 5 seeds."""

from experiments.knowledge_distillation.configs import default


def get_config() -> default.Config:
  losses = ("ce", "kl", "reverse_kl", "js", "alpha:0.5", "alpha:2", "total_variation")
  return default.regimes_only(("self",), losses)
