"""Calibration of a classifier's probabilities: accuracy, NLL, ECE and reliability bins."""

from __future__ import annotations

import numpy as np


def log_softmax(logits: np.ndarray) -> np.ndarray:
  """Row-wise log-probabilities of ``logits [..., C]`` in float64."""
  logits = np.asarray(logits, np.float64)
  return logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True)


def label_probability(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
  """``softmax(logits)[i, labels[i]]`` per example."""
  return np.exp(log_softmax(logits)[np.arange(len(labels)), labels])


def calibration(logits: np.ndarray, labels: np.ndarray, bins: int) -> dict:
  """Accuracy, NLL, expected calibration error (equal-width confidence bins)
  and the reliability diagram's per-bin accuracy / confidence / count.

  ECE = sum_b |B_b| / n * |acc(B_b) - conf(B_b)| (Guo et al., ICML 2017).
  """
  log_p = log_softmax(logits)
  prob = np.exp(log_p)
  conf, pred = prob.max(-1), prob.argmax(-1)
  correct = (pred == labels).astype(np.float64)
  edges = np.linspace(0.0, 1.0, bins + 1)
  which = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
  count = np.bincount(which, minlength=bins)
  acc_b = np.bincount(which, correct, minlength=bins) / np.maximum(count, 1)
  conf_b = np.bincount(which, conf, minlength=bins) / np.maximum(count, 1)
  ece = float(np.sum(count / len(labels) * np.abs(acc_b - conf_b)))
  return {
    "accuracy": float(correct.mean()),
    "nll": float(-log_p[np.arange(len(labels)), labels].mean()),
    "ece": ece,
    "bin_accuracy": acc_b.tolist(),
    "bin_confidence": conf_b.tolist(),
    "bin_count": count.tolist(),
  }
