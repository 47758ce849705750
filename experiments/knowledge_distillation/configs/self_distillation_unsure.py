"""Self-distillation with a teacher that is unsure on many inputs: teacher and students of
the same width (256x256) trained the same short way (60 AdamW steps, about 6 epochs), so the
teacher's probability of the true label is spread (test deciles 0.74 / 0.95 / 0.99 at 10 /
30 / 50%) instead of saturated; the row-wise KD losses against cross-entropy alone, 5
seeds. The setting of Nagarajan et al.'s student-deviation claim (arXiv:2301.12923)."""

import dataclasses

from experiments.knowledge_distillation.configs import self_distillation


def get_config():
  return dataclasses.replace(self_distillation.get_config(), teacher_steps=60, student_steps=60)
