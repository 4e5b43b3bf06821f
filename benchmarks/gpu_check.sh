#!/usr/bin/env bash
# GPU checks for pretrainlab, one script for a CUDA machine (run from anywhere; ~5-8 min on one H100):
#   1. correctness smoke: CD/ND/ED train a few dozen bf16 steps on CUDA (sdpa), loss finite and falling
#   2. attention masks under sdpa on CUDA (fp32 and bf16): no position sees a token it must not
#   3. throughput and MFU at 125M-class (d=768, 12 layers, 12 heads, d_ff=3072, seq 1024, bf16, sdpa)
#      for CD, ND, ED: the pretrain loop vs a minimal loop, plus torch.compile unless COMPILE=0
#   4. with more than one GPU: the loop under torchrun on all of them (DDP over NCCL)
# Results: $OUT/gpu_*.json (else benchmarks/results/); the last line is `gpu_check: failed=<n>`.
# Knobs (environment): PYTHON, VOCAB (32768), BATCH_TOKENS (65536 per step), STEPS (20), COMPILE (1).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export OUT="${OUT:-$PWD/benchmarks/results}"
mkdir -p "$OUT"
PY="${PYTHON:-}"
if [ -z "$PY" ]; then if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi; fi

failed=0
run() {  # run one check, keep going on failure, keep its log beside its JSON
  local name="$1"; shift
  echo "== $name: $*"
  if "$@" 2>&1 | tee "$OUT/$name.log"; then echo "== $name: ok"; else echo "== $name: FAILED"; failed=$((failed + 1)); fi
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu_nvidia_smi.csv" || {
  echo "gpu_check: no nvidia-smi (not a GPU machine?)"; exit 2; }
"$PY" -c 'import torch, sys; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.is_available()); sys.exit(0 if torch.cuda.is_available() else 1)' \
  || { echo "gpu_check: this python's torch cannot see CUDA (set PYTHON=...)"; exit 2; }
NGPU=$("$PY" -c 'import torch; print(torch.cuda.device_count())')

run gpu_smoke "$PY" benchmarks/gpu_check.py smoke
run gpu_masks "$PY" benchmarks/gpu_check.py masks
compile_flag=(); [ "${COMPILE:-1}" = "1" ] && compile_flag=(--compile)
run gpu_train_throughput "$PY" benchmarks/train_throughput.py --device cuda --precision bf16 --attn sdpa \
  --size 125m --vocab "${VOCAB:-32768}" --seq-len 1024 --batch-tokens "${BATCH_TOKENS:-65536}" \
  --steps "${STEPS:-20}" --warmup 5 --repeats 1 "${compile_flag[@]}" --name gpu_train_throughput
if [ "$NGPU" -gt 1 ]; then
  run gpu_ddp "$PY" -m torch.distributed.run --standalone --nproc_per_node "$NGPU" benchmarks/gpu_check.py ddp
else
  echo "== gpu_ddp: skipped (1 GPU)"
fi
echo "results in $OUT"
echo "gpu_check: failed=$failed"
exit $((failed > 0))
