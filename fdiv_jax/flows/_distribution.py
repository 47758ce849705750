"""A flow with its parameters as a distribution object, saved and loaded as config + params."""

from __future__ import annotations

import json
import os
from typing import Any

import jax
from flax import serialization

from fdiv_jax.flows._coupling import Flow, FlowConfig, make

__all__ = ["FlowDistribution"]

_CONFIG, _PARAMS = "flow_config.json", "flow_params.msgpack"


@jax.tree_util.register_pytree_node_class
class FlowDistribution:
  r"""A flow and its parameters, used like a distrax distribution (samples first).

  ``sample(key, n) -> x [n, d]``, ``log_prob(x [..., d]) -> [...]``,
  ``sample_and_log_prob(key, n)``; a pytree whose leaves are the parameters (pass it
  through ``jit`` / ``grad``), and ``log_prob`` is the ``x [N, d] -> [N]`` log density that
  :func:`fdiv_jax.annealing.ais` and :func:`fdiv_jax.smc.tempered_smc` take as a base.
  :meth:`save` writes ``flow_config.json`` (the :class:`FlowConfig`) and
  ``flow_params.msgpack`` (Flax serialisation) into a directory; :meth:`load` rebuilds it.

  Args:
    flow: A :class:`Flow`.
    params: Its parameters (``flow.init(key)`` or trained).
  """

  def __init__(self, flow: Flow, params: Any):
    self.flow = flow
    self.params = params

  @property
  def dim(self) -> int:
    return self.flow.dim

  def sample_and_log_prob(self, key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
    """``(x [n, d], log q(x) [n])``."""
    return self.flow.sample_and_log_prob(self.params, key, n)

  def sample(self, key: jax.Array, n: int) -> jax.Array:
    """``n`` samples ``[n, d]``."""
    return self.sample_and_log_prob(key, n)[0]

  def log_prob(self, x: jax.Array) -> jax.Array:
    """``log q(x)`` for ``x [..., d]``, shape ``[...]``."""
    return self.flow.log_prob(self.params, x)

  def save(self, directory: str) -> None:
    """Writes the config and the parameters into ``directory`` (created if needed)."""
    config = self.flow.config
    if config is None:
      raise ValueError(
        "flow.config is None: only flows built by real_nvp / spline_flow know how to be "
        "rebuilt; save the parameters with flax.serialization or orbax instead"
      )
    os.makedirs(directory, exist_ok=True)
    record = {"kind": config.kind, "dim": config.dim, "options": dict(config.options)}
    for name, data, mode in (
      (_CONFIG, json.dumps(record, indent=1, default=list), "w"),
      (_PARAMS, serialization.to_bytes(self.params), "wb"),
    ):
      path = os.path.join(directory, name)
      with open(path + ".tmp", mode) as f:
        f.write(data)
      os.replace(path + ".tmp", path)

  @classmethod
  def load(cls, directory: str) -> FlowDistribution:
    """The flow :meth:`save` wrote into ``directory``."""
    try:
      with open(os.path.join(directory, _CONFIG)) as f:
        record = json.load(f)
      with open(os.path.join(directory, _PARAMS), "rb") as f:
        data = f.read()
    except FileNotFoundError as e:
      raise FileNotFoundError(
        f"{directory} holds no saved flow ({_CONFIG} and {_PARAMS}): {e.filename}"
      ) from None
    options = tuple(sorted(record["options"].items()))
    flow = make(FlowConfig(record["kind"], record["dim"], options))
    template = flow.init(jax.random.PRNGKey(0))
    return cls(flow, serialization.from_bytes(template, data))

  def tree_flatten(self):
    return (self.params,), self.flow

  @classmethod
  def tree_unflatten(cls, flow, children):
    return cls(flow, children[0])

  def __repr__(self) -> str:
    kind = self.flow.config.kind if self.flow.config is not None else "flow"
    return f"FlowDistribution({kind}, dim={self.dim})"
