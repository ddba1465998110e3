#!/usr/bin/env bash
# The prepared GPU check (under 10 minutes on one GPU): the gpu tests, bench_pretrain.py on CUDA
# for the paper configurations in fp32 and bf16, and one epoch of paper_table.py --preset paper
# on the shared PTB-XL records. Results go to benchmarks/results/gpu/ (and to $OUT when the
# device tool sets it, so that they come back).
#
# Usage, from anywhere:
#   bash benchmarks/gpu_check.sh [--data PTBXL_FOLDER] [--cpu]
#
# --data  PTB-XL folder (default: $SKECG_DATA, else ../shared/data/ptb-xl, else
#         shared/data/ptb-xl, else .data/ptb-xl inside the project); without one the paper-table
#         step is skipped and says so.
# --cpu   dry run of the same steps on the CPU with tiny settings (small configs, --quick,
#         SimCLR only), writing to $TMPDIR/skecg_gpu_check_cpu instead: checks the script.
#
# The GPU machine has torch but not skorch/wfdb: they are installed from .whl/ as described in
# ../shared/wheels/README.md (copy the wheels into the ignored .whl/ folder and carry it). The
# project itself is used from the checkout (PYTHONPATH), not installed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

MODE=gpu
DATA=${SKECG_DATA:-}
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu) MODE=cpu ;;
    --data) DATA=$2; shift ;;
    *) echo "gpu_check.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$DATA" ]; then
  for candidate in ../shared/data/ptb-xl shared/data/ptb-xl .data/ptb-xl; do
    if [ -f "$candidate/ptbxl_database.csv" ]; then DATA=$candidate; break; fi
  done
fi

if [ "$MODE" = gpu ]; then
  RESULTS=benchmarks/results/gpu
  DEVICE=cuda
  BENCH_ONLY="cpc-paper simclr-paper byol-paper swav-paper"
  BENCH_EXTRA=""
  TABLE_EXTRA=""
else
  RESULTS=${TMPDIR:-/tmp}/skecg_gpu_check_cpu
  DEVICE=cpu
  BENCH_ONLY="cpc-small simclr-small"
  BENCH_EXTRA="--quick"
  TABLE_EXTRA="--methods simclr --no-finetune"
fi
mkdir -p "$RESULTS"
SUMMARY=$RESULTS/summary.txt
: > "$SUMMARY"
say() { echo "[gpu_check $(date +%H:%M:%S)] $*" | tee -a "$SUMMARY"; }
STATUS=0
BUDGET_S=570  # the whole check stays under 10 minutes: a step that cannot fit is skipped
keep() {  # copy what exists so far to $OUT (the device tool returns it even after a kill)
  if [ -n "${OUT:-}" ] && [ -d "$OUT" ]; then cp -r "$RESULTS" "$OUT/" 2>/dev/null; fi
  return 0
}
step() {  # step NAME TIMEOUT_S LOGFILE COMMAND...: run, log, record the exit status
  local name=$1 limit=$2 log=$3; shift 3
  if [ $((SECONDS + limit)) -gt $BUDGET_S ]; then
    limit=$((BUDGET_S - SECONDS))
    if [ $limit -lt 20 ]; then
      say "skip  $name: the 10-minute budget is spent"; STATUS=1; return 0
    fi
  fi
  say "start $name (limit ${limit}s): $*"
  local start=$SECONDS
  timeout "$limit" "$@" > "$log" 2>&1
  local rc=$?
  say "end   $name: exit $rc after $((SECONDS - start)) s; log $log"
  [ $rc -eq 0 ] || STATUS=1
  keep
  return 0
}

# ------------------------------------------------------------------------ environment
if ! python3 -c "import skorch, wfdb" 2>/dev/null; then
  if ls .whl/*.whl > /dev/null 2>&1; then
    say "installing skorch/wfdb wheels from .whl/ into /tmp/site"
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site .whl/*.whl || { say "wheel install failed"; exit 1; }
    export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
  else
    say "skorch/wfdb missing and no .whl/ folder (see ../shared/wheels/README.md)"; exit 1
  fi
fi
export PYTHONPATH=$ROOT:${PYTHONPATH:-}
python3 - <<'EOF' 2>&1 | tee -a "$SUMMARY"
import platform, torch, skorch, sklearn
import skecg
gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "none"
print(f"python {platform.python_version()}, torch {torch.__version__} (CUDA {torch.version.cuda}),"
      f" skorch {skorch.__version__}, scikit-learn {sklearn.__version__}, skecg {skecg.__version__};"
      f" GPUs: {torch.cuda.device_count()} x {gpu}")
EOF
if [ "$MODE" = gpu ] && ! python3 -c "import torch; assert torch.cuda.is_available()"; then
  say "CUDA is not available here: use --cpu for a dry run"; exit 1
fi
command -v nvidia-smi > /dev/null && nvidia-smi > "$RESULTS/nvidia_smi.txt" 2>&1

# ------------------------------------------------------------------------------ steps
if python3 -m pytest --version > /dev/null 2>&1; then
  step "gpu tests" 120 "$RESULTS/gpu_tests.txt" \
    python3 -m pytest tests/test_gpu.py -m gpu -q -p no:cacheprovider -rs
  step "data-parallel tests (gloo, 2 CPU processes)" 60 "$RESULTS/distributed_tests.txt" \
    python3 -m pytest tests/ssl/test_distributed.py -q -p no:cacheprovider
else
  say "pytest is not installed here: the gpu tests were NOT run"
  STATUS=1
fi

BENCH_DATA=()
[ -n "$DATA" ] && BENCH_DATA=("$DATA")
for precision in 32 bf16; do
  # shellcheck disable=SC2086  # word-splitting of the config lists is intended
  step "bench_pretrain $DEVICE precision $precision" 100 \
    "$RESULTS/bench_pretrain_${DEVICE}_${precision}.txt" \
    python3 benchmarks/bench_pretrain.py "${BENCH_DATA[@]}" --device "$DEVICE" \
      --precision "$precision" --only $BENCH_ONLY $BENCH_EXTRA
done

# step time at per-process batches global / N (what N data-parallel processes each run)
SCALING_EXTRA=""
[ "$MODE" = cpu ] && SCALING_EXTRA="--quick"
# shellcheck disable=SC2086
step "per-process batch scaling $DEVICE fp32" 80 "$RESULTS/batch_scaling_${DEVICE}_32.log" \
  python3 benchmarks/bench_data_parallel.py --batch-scaling "$DEVICE" $SCALING_EXTRA \
    --output "$RESULTS/batch_scaling_${DEVICE}_32.txt"

if [ -n "$DATA" ]; then
  # one pretraining epoch per method, classifier recipes cut to 1 epoch (50 x 0.02)
  # shellcheck disable=SC2086
  step "paper_table --preset paper, 1 epoch" 120 "$RESULTS/paper_table_paper_1epoch.txt" \
    python3 benchmarks/paper_table.py --preset paper --data "$DATA" --device "$DEVICE" \
      --pretrain-epochs 1 --epoch-scale 0.02 $TABLE_EXTRA
  for ext in md csv png; do
    [ -f "benchmarks/results/paper_table_paper.$ext" ] && \
      mv "benchmarks/results/paper_table_paper.$ext" "$RESULTS/paper_table_paper_1epoch.$ext"
  done
else
  say "no PTB-XL folder found (--data): paper_table step NOT run"
  STATUS=1
fi

say "done after $SECONDS s: overall status $STATUS (0: every step passed)"
keep
exit $STATUS
