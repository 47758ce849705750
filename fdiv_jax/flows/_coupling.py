"""Coupling flows: :class:`Flow`, :func:`real_nvp`, :func:`spline_flow` (module docstring of
:mod:`fdiv_jax.flows`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import distrax
import flax.linen as nn
import jax
import jax.numpy as jnp

__all__ = [
  "Flow",
  "FlowConfig",
  "make",
  "real_nvp",
  "spline_flow",
]


class FlowConfig(NamedTuple):
  """How a flow was built: ``make(config)`` builds it again.

  Attributes:
    kind: The constructor, ``"real_nvp"`` or ``"spline_flow"``.
    dim: Event dimension ``d``.
    options: The constructor's keyword arguments as sorted ``(name, value)`` pairs (hashable,
      so a flow can be a static argument of ``jit``).
  """

  kind: str
  dim: int
  options: tuple


class Flow(NamedTuple):
  """Pure functions of a flow (parameters are an explicit pytree).

  Attributes:
    init: ``key -> params``.
    sample_and_log_prob: ``(params, key, n) -> (x [n, d], log q(x) [n])``.
    log_prob: ``(params, x [..., d]) -> log q(x) [...]``.
    dim: ``d``.
    config: The :class:`FlowConfig` it was built from (for saving), or None.
  """

  init: Callable[[jax.Array], Any]
  sample_and_log_prob: Callable[[Any, jax.Array, int], tuple[jax.Array, jax.Array]]
  log_prob: Callable[[Any, jax.Array], jax.Array]
  dim: int
  config: FlowConfig | None = None


class _Conditioner(nn.Module):
  """MLP from the kept coordinates to ``[d, params_per_dim]``; zero last layer; with
  ``squash_inputs`` the MLP sees ``arcsinh(x)``; with ``linear_skip`` a zero-initialised
  linear map of the raw input (which extrapolates linearly, where a GELU MLP bends) is
  concatenated: ``[d, 2 params_per_dim]``, MLP first."""

  hidden: Sequence[int]
  dim: int
  params_per_dim: int
  linear_skip: bool = False
  squash_inputs: bool = False
  circular: tuple[int, ...] = ()

  @nn.compact
  def __call__(self, x):
    h = jnp.arcsinh(x) if self.squash_inputs else x
    if self.circular:  # circular inputs enter as (cos, sin): the conditioner is periodic
      c = jnp.zeros(self.dim, bool).at[jnp.asarray(self.circular)].set(True)
      h = jnp.concatenate(
        [jnp.where(c, 0.0, h), jnp.where(c, jnp.cos(x), 0.0), jnp.where(c, jnp.sin(x), 0.0)], -1
      )
    for width in self.hidden:
      h = nn.gelu(nn.Dense(width, param_dtype=x.dtype)(h))
    out = nn.Dense(
      self.dim * self.params_per_dim,
      param_dtype=x.dtype,
      kernel_init=nn.initializers.zeros,
      bias_init=nn.initializers.zeros,
    )(h)
    out = out.reshape(x.shape[:-1] + (self.dim, self.params_per_dim))
    if not self.linear_skip:
      return out
    linear = nn.Dense(
      self.dim * self.params_per_dim,
      use_bias=False,
      param_dtype=x.dtype,
      kernel_init=nn.initializers.zeros,
      name="linear_skip",
    )(x)
    return jnp.concatenate([out, linear.reshape(out.shape)], axis=-1)


_MASKS = ("parity", "binary")


def _masks(dim: int, num_layers: int, kind: str) -> jax.Array:
  """Coupling masks ``[L, d]`` (True = kept): complementary pairs per bit of the index."""
  bits = 1 if kind == "parity" else max(1, (dim - 1).bit_length())
  index = jnp.arange(dim)
  kept = [(index >> ((l // 2) % bits)) % 2 == 0 for l in range(num_layers)]
  return jnp.stack([k if l % 2 == 0 else ~k for l, k in enumerate(kept)])


def _marginal_spline(p: jax.Array, bound: float) -> distrax.Bijector:
  """Elementwise (unconditional) RQ spline on every coordinate; ``p [d, 3K+1]``."""
  return distrax.Block(
    distrax.RationalQuadraticSpline(
      p, range_min=-bound, range_max=bound, boundary_slopes="identity"
    ),
    ndims=1,
  )


class _MixedSpline(distrax.Bijector):
  """Elementwise RQ splines: circular on ``[-pi, pi]`` where ``circular``, linear-tailed on
  ``[-bound, bound]`` elsewhere (both are evaluated; each coordinate takes its own)."""

  def __init__(self, p, circular, bound):
    super().__init__(event_ndims_in=0)
    self._circular = circular
    self._linear = distrax.RationalQuadraticSpline(
      p, range_min=-bound, range_max=bound, boundary_slopes="identity"
    )
    self._periodic = distrax.RationalQuadraticSpline(
      p, range_min=-jnp.pi, range_max=jnp.pi, boundary_slopes="circular"
    )

  def _both(self, x, inverse):
    a = self._linear.inverse_and_log_det(x) if inverse else self._linear.forward_and_log_det(x)
    b = self._periodic.inverse_and_log_det(x) if inverse else self._periodic.forward_and_log_det(x)
    return jnp.where(self._circular, b[0], a[0]), jnp.where(self._circular, b[1], a[1])

  def forward_and_log_det(self, x):
    return self._both(x, inverse=False)

  def inverse_and_log_det(self, y):
    return self._both(y, inverse=True)


class _Base:
  """``N(0, s^2)`` on the real coordinates, uniform on ``[-pi, pi]`` on the circular ones
  (``-inf`` outside, NaN where ``z`` has a NaN)."""

  def __init__(self, dim: int, scale: float, circular: tuple[int, ...]):
    self.mask = jnp.zeros(dim, bool).at[jnp.asarray(circular, int)].set(True)
    self.scale, self.num_circular = scale, len(circular)

  def sample_and_log_prob(self, *, seed, sample_shape):
    k1, k2 = jax.random.split(seed)
    shape = (*sample_shape, self.mask.shape[0])
    normal = self.scale * jax.random.normal(k1, shape)
    uniform = jax.random.uniform(k2, shape, minval=-jnp.pi, maxval=jnp.pi)
    z = jnp.where(self.mask, uniform, normal)
    return z, self.log_prob(z)

  def log_prob(self, z):
    normal = jax.scipy.stats.norm.logpdf(z, scale=self.scale)
    inside = jnp.all(~self.mask | ((z >= -jnp.pi) & (z <= jnp.pi)), -1)
    value = jnp.sum(jnp.where(self.mask, 0.0, normal), -1) - self.num_circular * jnp.log(2 * jnp.pi)
    return jnp.where(inside | jnp.any(jnp.isnan(z), -1), value, -jnp.inf)


def _make_flow(
  dim: int,
  num_layers: int,
  hidden: Sequence[int],
  params_per_dim: int,
  inner: Callable[[jax.Array], distrax.Bijector],
  base_scale: float,
  marginal_bins: int = 0,
  marginal_bound: float = 5.0,
  masks: str = "parity",
  linear_skip: bool = False,
  squash_inputs: bool = False,
  circular: tuple[int, ...] = (),
) -> Flow:
  if dim < 2:
    raise ValueError(f"dim must be >= 2 for coupling layers, got {dim}")
  if num_layers < 1:
    raise ValueError(f"num_layers must be >= 1, got {num_layers}")
  if base_scale <= 0:
    raise ValueError(f"base_scale must be > 0, got {base_scale}")
  if marginal_bins < 0 or marginal_bound <= 0:
    raise ValueError(
      f"marginal_bins must be >= 0 and marginal_bound > 0, got {marginal_bins} and {marginal_bound}"
    )
  if masks not in _MASKS:
    raise ValueError(f"masks must be one of {_MASKS}, got {masks!r}")
  conditioner = _Conditioner(
    tuple(hidden), dim, params_per_dim, linear_skip, squash_inputs, tuple(circular)
  )
  masks = _masks(dim, num_layers, masks)
  if circular:
    base = _Base(dim, base_scale, tuple(circular))
  else:
    base = distrax.MultivariateNormalDiag(jnp.zeros(dim), jnp.full(dim, base_scale))

  def layer(p, mask):
    return distrax.MaskedCoupling(
      mask=mask, conditioner=lambda x: conditioner.apply(p, x), bijector=inner
    )

  def init(key):
    keys = jax.random.split(key, num_layers)
    couplings = jax.vmap(lambda k: conditioner.init(k, jnp.zeros((1, dim))))(keys)
    if not marginal_bins:
      return couplings
    # Zero spline parameters: equal bins, unit slopes, i.e. the identity.
    return {
      "couplings": couplings,
      "marginal": jnp.zeros((dim, 3 * marginal_bins + 1), jnp.result_type(float)),
    }

  def split(params):
    return (params["couplings"], params["marginal"]) if marginal_bins else (params, None)

  def through_layers(params, x, *, inverse: bool):
    """Applies every layer (in reverse order for the inverse); sums log-dets."""

    def step(carry, layer_in):
      y, log_det = carry
      p, mask = layer_in
      bij = layer(p, mask)
      y, ld = bij.inverse_and_log_det(y) if inverse else bij.forward_and_log_det(y)
      return (y, log_det + ld), None

    (y, log_det), _ = jax.lax.scan(
      step, (x, jnp.zeros(x.shape[:-1], x.dtype)), (params, masks), reverse=inverse
    )
    return y, log_det

  def sample_and_log_prob(params, key, n):
    couplings, marginal = split(params)
    z, log_base = base.sample_and_log_prob(seed=key, sample_shape=(n,))
    x, log_det = through_layers(couplings, z, inverse=False)
    if marginal is not None:
      x, ld = _marginal_spline(marginal, marginal_bound).forward_and_log_det(x)
      log_det = log_det + ld
    return x, log_base - log_det

  def log_prob(params, x):
    x = jnp.asarray(x)
    if x.shape[-1] != dim:
      raise ValueError(f"x must have a last axis of size {dim}, got shape {x.shape}")
    couplings, marginal = split(params)
    log_det = 0.0
    if marginal is not None:
      x, log_det = _marginal_spline(marginal, marginal_bound).inverse_and_log_det(x)
    z, ld = through_layers(couplings, x, inverse=True)
    return base.log_prob(z) + ld + log_det

  return Flow(init, sample_and_log_prob, log_prob, dim)


def real_nvp(
  dim: int,
  *,
  num_layers: int = 12,
  hidden: Sequence[int] = (64, 64),
  scale_max: float = 3.0,
  base_scale: float = 1.0,
  marginal_bins: int = 0,
  marginal_bound: float = 5.0,
  masks: str = "parity",
  linear_skip: bool = False,
  squash_inputs: bool = False,
) -> Flow:
  r"""RealNVP: affine couplings :math:`y = x e^{a} + b` with :math:`|a| \le` ``scale_max``.

  Each of the ``num_layers`` layers keeps the masked coordinates :math:`x_{kept}` and maps
  the others by :math:`y = x e^{a} + b`, with :math:`(\tilde a, b)` from an MLP of
  :math:`x_{kept}` and :math:`a = a_{\max}\tanh(\tilde a / a_{\max})`; the log-det is
  :math:`\sum a`. The flow starts as the identity on :math:`N(0, s^2 I)`, ``s`` being
  ``base_scale``.

  Args:
    dim: Event dimension ``d >= 2``.
    num_layers: Coupling layers.
    hidden: Conditioner widths.
    scale_max: Bound on the log-scale (keeps log-dets finite).
    base_scale: Standard deviation of the Gaussian base.
    marginal_bins: If > 0, a last, elementwise rational-quadratic spline layer
      with this many bins on every coordinate (unconditional parameters
      ``[dim, 3K+1]``; identity at init). Affine couplings can only make a
      coordinate multimodal through other, dependent coordinates; this layer
      makes it directly.
    marginal_bound: Half-width of that spline's interval (data units).
    masks: ``"parity"`` (even / odd coordinates) or ``"binary"`` (a pair of
      complementary masks per bit of the coordinate index; see the module).
    linear_skip: Add a zero-initialised linear map ``l(x_kept)`` of the kept
      coordinates to the shift and, outside the bound, to the log-scale:
      :math:`a = a_{\max}\tanh(\tilde a / a_{\max}) + l_a(x_{kept})`, so the
      log-scale extrapolates linearly past the region the flow was trained on
      (e.g. Neal's funnel, where the log-scale of ``x_i`` is ``x_0 / 2``).
    squash_inputs: Feed the conditioners :math:`\operatorname{arcsinh}(x_{kept})`
      instead of :math:`x_{kept}` (a bijection, so nothing is lost; the flow is
      still exactly invertible). Inputs far outside the training range then move
      the MLPs only logarithmically.

  Returns:
    A :class:`Flow` on :math:`\mathbb R^{d}` with its :class:`FlowConfig`; ``flow.init(key)``
    gives the parameters, each conditioner's stacked on a leading axis of length
    ``num_layers`` (with ``marginal_bins > 0``: ``{"couplings": ..., "marginal": [d, 3K+1]}``).

  Example:
    >>> import jax
    >>> flow = real_nvp(2, num_layers=4, hidden=(8,))
    >>> params = flow.init(jax.random.PRNGKey(0))
    >>> x, log_q = flow.sample_and_log_prob(params, jax.random.PRNGKey(1), 3)
    >>> x.shape, log_q.shape
    ((3, 2), (3,))

  References:
    Dinh, Sohl-Dickstein & Bengio. Density estimation using Real NVP. ICLR 2017.
  """
  config = _config("real_nvp", locals())  # first: the arguments only
  if scale_max <= 0:
    raise ValueError(f"scale_max must be > 0, got {scale_max}")

  def affine(p):
    shift, log_scale = p[..., 0], scale_max * jnp.tanh(p[..., 1] / scale_max)
    if linear_skip:  # p = [MLP shift, MLP log-scale, linear shift, linear log-scale]
      shift, log_scale = shift + p[..., 2], log_scale + p[..., 3]
    return distrax.ScalarAffine(shift=shift, log_scale=log_scale)

  return _make_flow(
    dim,
    num_layers,
    hidden,
    2,
    affine,
    base_scale,
    marginal_bins,
    marginal_bound,
    masks,
    linear_skip,
    squash_inputs,
  )._replace(config=config)


def spline_flow(
  dim: int,
  *,
  num_layers: int = 8,
  hidden: Sequence[int] = (64, 64),
  num_bins: int = 8,
  bound: float = 5.0,
  base_scale: float = 1.0,
  masks: str = "parity",
  squash_inputs: bool = False,
  circular: Sequence[int] = (),
) -> Flow:
  r"""Rational-quadratic spline couplings on ``[-bound, bound]`` (identity outside).

  Zero conditioner outputs give equal bins and unit knot slopes, i.e. the
  identity (distrax's ``RationalQuadraticSpline`` with linear tails).

  Coordinates listed in ``circular`` (angles, e.g. a molecule's torsions) live on the
  circle :math:`[-\pi, \pi)`: their base is uniform, their splines are circular (equal
  end slopes, both ends fixed at :math:`\pm\pi`; Rezende et al., 2020) and the
  conditioners see them as :math:`(\cos x, \sin x)`, so the density is continuous and
  periodic in them; ``log_prob`` is ``-inf`` outside :math:`[-\pi, \pi]`.

  Args:
    dim: Event dimension ``d >= 2``.
    num_layers: Coupling layers.
    hidden: Conditioner widths.
    num_bins: Spline bins ``K`` (``3K + 1`` parameters per coordinate).
    bound: Half-width of the spline's interval; choose it to contain the
      target's support in base units.
    base_scale: Standard deviation of the Gaussian base.
    masks: ``"parity"`` or ``"binary"`` (see :func:`real_nvp`).
    squash_inputs: Conditioners see ``arcsinh(x_kept)`` (see :func:`real_nvp`).
    circular: Indices of the circular coordinates (default none).

  Returns:
    A :class:`Flow` on :math:`\mathbb R^{d - c} \times [-\pi, \pi)^{c}` with its
    :class:`FlowConfig`; ``flow.init(key)`` gives the parameters, each conditioner's
    stacked on a leading axis of length ``num_layers``.

  References:
    Durkan, Bekasov, Murray & Papamakarios. Neural spline flows. NeurIPS 2019.
    Rezende, Papamakarios, Racaniere, Albergo, Kanwar, Shanahan & Cranmer. Normalizing
    flows on tori and spheres. ICML 2020.
  """
  config = _config("spline_flow", locals())  # first: the arguments only
  if num_bins < 1:
    raise ValueError(f"num_bins must be >= 1, got {num_bins}")
  if bound <= 0:
    raise ValueError(f"bound must be > 0, got {bound}")
  circular = tuple(sorted(int(i) for i in circular))
  if len(set(circular)) != len(circular) or any(not 0 <= i < dim for i in circular):
    raise ValueError(f"circular must be distinct indices in [0, {dim}), got {circular}")
  is_circular = jnp.zeros(dim, bool).at[jnp.asarray(circular, int)].set(True)

  def spline(p):
    # Zero raw slopes must give unit slopes: distrax maps them by softplus
    # with an offset so that raw 0 -> slope 1.
    if circular:
      return _MixedSpline(p, is_circular, bound)
    return distrax.RationalQuadraticSpline(
      p, range_min=-bound, range_max=bound, boundary_slopes="identity"
    )

  return _make_flow(
    dim,
    num_layers,
    hidden,
    3 * num_bins + 1,
    spline,
    base_scale,
    masks=masks,
    squash_inputs=squash_inputs,
    circular=circular,
  )._replace(config=config)


def _config(kind: str, arguments: dict) -> FlowConfig:
  """The :class:`FlowConfig` of a constructor's ``arguments`` (its ``locals()`` on entry),
  so that every keyword it takes is recorded."""
  options = {
    k: tuple(v) if k in ("hidden", "circular") else v for k, v in arguments.items() if k != "dim"
  }
  return FlowConfig(kind, int(arguments["dim"]), tuple(sorted(options.items())))


def make(config: FlowConfig) -> Flow:
  """The flow a :class:`FlowConfig` describes (``real_nvp`` or ``spline_flow``).

  Args:
    config: A :class:`FlowConfig`, e.g. ``flow.config`` or one read back from disk.

  Returns:
    The :class:`Flow` that ``config.kind`` builds with ``config.dim`` and
    ``config.options`` (options left out take the constructor's defaults).
  """
  makers = {"real_nvp": real_nvp, "spline_flow": spline_flow}
  if config.kind not in makers:
    raise ValueError(f"config.kind must be one of {sorted(makers)}, got {config.kind!r}")
  options = dict(config.options)
  for k in ("hidden", "circular"):
    if k in options:
      options[k] = tuple(options[k])
  return makers[config.kind](int(config.dim), **options)
