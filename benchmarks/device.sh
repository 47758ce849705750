#!/usr/bin/env bash
# The GPU column of benchmarks/RESULTS.md in one command, on a machine whose
# python3 has JAX with CUDA (and flax, optax, chex, orbax, PyTorch): the missing
# packages (distrax, tfp-nightly, ott-jax, jaxopt, POT, dm-tree, gast, ...) come
# as wheels in .whl/. Each benchmark runs under its own time limit, most
# important first, and its JSON is copied to $OUT as soon as it is written.
# Then a GPU pass over the numerics tests. Usage: OUT=/some/dir bash benchmarks/device.sh
set -u
OUT=${OUT:-/tmp/device_out}
mkdir -p "$OUT/gpu"
if [ -z "${NO_WHEELS:-}" ] && compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:.
else
  export PYTHONPATH=.
fi
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2
LOG="$OUT/log.txt"
nvidia-smi --query-gpu=name,memory.total,clocks.sm,driver_version --format=csv | tee -a "$LOG"
python3 -c "import jax, distrax, ott, ot; print('jax', jax.__version__, jax.devices())" 2>&1 | tee -a "$LOG"
step() {  # step SECONDS NAME -- run one benchmark of the gpu preset
  local t0=$SECONDS
  echo "== $2 (limit $1 s)" | tee -a "$LOG"
  timeout "$1" python3 -m benchmarks.run --preset gpu --only "$2" 2>&1 \
    | grep -v -e "^WARNING" -e "^I0000" -e "Warning" | tee -a "$LOG"
  echo "== $2: rc ${PIPESTATUS[0]}, $((SECONDS - t0)) s" | tee -a "$LOG"
  cp benchmarks/results/gpu/*.json "$OUT/gpu/" 2>/dev/null
}
step ${T_1E6:-90} kernels_1e6
step ${T_KERNELS:-170} kernels
step ${T_TFP:-90} divergences_vs_tfp
export XLA_PYTHON_CLIENT_MEM_FRACTION=0.5   # leave PyTorch (POT) half the card
step ${T_SINKHORN:-70} sinkhorn
unset XLA_PYTHON_CLIENT_MEM_FRACTION
step ${T_TRAINING:-70} training
echo "== tests on the GPU" | tee -a "$LOG"
XLA_PYTHON_CLIENT_PREALLOCATE=false timeout ${T_TESTS:-80} python3 -m pytest -q -n 4 \
  -p no:cacheprovider tests/test_cauchy_schwarz.py tests/test_kernels.py tests/test_divergences.py \
  tests/test_monte_carlo.py tests/test_transport.py tests/test_distill.py \
  tests/test_variational.py 2>&1 | tail -40 > "$OUT/pytest.txt"
tail -5 "$OUT/pytest.txt" | tee -a "$LOG"
