#!/usr/bin/env bash
# The prepared check for a lent GPU, which runs the same on the CPU:
#
#   DEVICE=cuda OUT=/path/to/empty/folder bash bench/gpu_smoke.sh     # on the device machine
#   DEVICE=cpu  OUT=/tmp/smoke nice -n 5 bash bench/gpu_smoke.sh      # here, end to end
#
# It generates fixture data (python -m hw3lab.devtools.fixture_data), runs every train.* CLI's --dry-run (and
# one with --deterministic), trains the GAN and the VAE for a few real epochs on $DEVICE in
# bf16 and in fp32, trains on one device and resumes (and --ship-epoch's) on the other, both
# ways (cpu and $DEVICE; on DEVICE=cpu both are the CPU), runs bench/train_throughput.py, and
# compares a few GAN faces between $DEVICE and CPU inference (bench/device_faces.py).
#
# Everything it keeps goes under $OUT, in at most 7 files (the device tool returns 8 at most):
# summary.md (one row a step: status, seconds), smoke.log (every command's output),
# env.txt, throughput.md, faces.md, faces.png and runs.tar.gz (the runs' JSONL logs, the
# checkpoints' JSON and the fixed-noise grids). Work files go to $WORK (default: a temporary
# folder). A failed step is recorded and the rest still run; the exit status is the number of
# failed steps. Optional: PYTHON (default .venv/bin/python if there, else python3),
# HW3LAB_THREADS (CPU threads of every step), GAN_WIDTH, VAE_WIDTH, EPOCHS, BENCH_STEPS,
# FACES_PER_SPLIT, GAN_CHECKPOINT (default checkpoints/gan.safetensors when it travelled).
set -u -o pipefail

DEVICE=${DEVICE:-cuda}
OUT=${OUT:?set OUT to the folder that receives the results}
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
WORK=${WORK:-$(mktemp -d -t gpu-smoke.XXXXXX)}
EPOCHS=${EPOCHS:-2}
FACES_PER_SPLIT=${FACES_PER_SPLIT:-320}  # >= 256: the throughput bench's DANN batch
if [[ $DEVICE == cuda* ]]; then  # the homework's widths (the dry runs' too)
  GAN_WIDTH=${GAN_WIDTH:-1.0}; VAE_WIDTH=${VAE_WIDTH:-1.0}; BENCH_STEPS=${BENCH_STEPS:-20}
else  # the CPU: smaller models (bf16 is emulated on most) and fewer timed steps
  GAN_WIDTH=${GAN_WIDTH:-0.25}; VAE_WIDTH=${VAE_WIDTH:-0.125}; BENCH_STEPS=${BENCH_STEPS:-3}
fi
OTHER=cpu  # the device type runs move to and from
export PYTHONUNBUFFERED=1 GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1
mkdir -p "$OUT" "$WORK"
DATA=$WORK/data
LOG=$OUT/smoke.log
SUMMARY=$OUT/summary.md
FAILED=0
START=$SECONDS
: >"$LOG"
printf '| step | status | seconds |\n| --- | --- | ---: |\n' >"$SUMMARY"

# step NAME COMMAND...: run it, its output into the log, a row into the summary
step() {
  local name=$1 began=$SECONDS status
  shift
  printf '\n===== %s: %s\n' "$name" "$*" >>"$LOG"
  "$@" >>"$LOG" 2>&1
  status=$?
  if [ "$status" -eq 0 ]; then
    printf '| %s | ok | %d |\n' "$name" $((SECONDS - began)) >>"$SUMMARY"
  else
    FAILED=$((FAILED + 1))
    printf '| %s | FAILED (exit %d) | %d |\n' "$name" "$status" $((SECONDS - began)) >>"$SUMMARY"
  fi
  echo "$name: exit $status after $((SECONDS - began)) s"
}

train() {  # train CLI DEVICE FOLDER ARGS...: a train.* CLI writing into $WORK/FOLDER
  local cli=$1 device=$2 folder=$WORK/$3
  shift 3
  "$PYTHON" -m "train.$cli" --data "$DATA" --device "$device" --out "$folder/checkpoints" \
    --state-dir "$folder/runs" --no-progress "$@"
}

expect_note() {  # the last resume in the log printed a note of what did not carry over
  grep -h '"resumed_at_epoch"' "$LOG" | tail -1 | tee -a "$LOG" | grep -q '"note"'
}

environment() {
  "$PYTHON" - "$DEVICE" <<'EOF'
import os, platform, sys
import torch
from hw3lab.runtime import pick_device, resolve_precision
device = pick_device(sys.argv[1])
print("python", platform.python_version(), "torch", torch.__version__, "device", device)
print("threads", torch.get_num_threads(), "HW3LAB_THREADS", os.environ.get("HW3LAB_THREADS"))
if device.type == "cuda":
    print("gpu", torch.cuda.get_device_name(device), "capability",
          torch.cuda.get_device_capability(device), "memory GiB",
          round(torch.cuda.get_device_properties(device).total_memory / 2**30, 1))
    print("bf16 native", torch.cuda.is_bf16_supported(including_emulation=False))
print("auto precision", resolve_precision("auto", device))
EOF
  command -v nvidia-smi >/dev/null && nvidia-smi -L
  return 0
}

env_file() {
  environment >"$OUT/env.txt" 2>&1
  local status=$?
  cat "$OUT/env.txt"
  return $status
}

fixture_data() {
  rm -rf "$DATA"
  "$PYTHON" -m hw3lab.devtools.fixture_data "$DATA" --per-split "$FACES_PER_SPLIT"
}

step environment env_file
step fixture-data fixture_data

# every CLI's dry run (source-only first: ADDA and the mean teacher start from it)
for cli in source_only target_only dann adda mean_teacher attributes; do
  step "dry-run $cli" train "$cli" "$DEVICE" dry --dry-run
done
step "dry-run gan" train gan "$DEVICE" dry --dry-run --width "$GAN_WIDTH"
step "dry-run vae" train vae "$DEVICE" dry --dry-run --width "$VAE_WIDTH"
step "dry-run dann --deterministic" train dann "$DEVICE" dry-deterministic --dry-run \
  --deterministic

# a few real epochs of the face models on $DEVICE, in bf16 and in fp32
for precision in bf16 fp32; do
  step "gan $precision, $EPOCHS epochs" train gan "$DEVICE" "gan-$precision" \
    --precision "$precision" --epochs "$EPOCHS" --width "$GAN_WIDTH" --snapshot-every 1
  step "vae $precision, $EPOCHS epochs" train vae "$DEVICE" "vae-$precision" \
    --precision "$precision" --epochs "$EPOCHS" --width "$VAE_WIDTH"
done

# across devices, both ways: one epoch on one, resume to two on the other, ship epoch 1 back
# (on DEVICE=cpu both ways are the same, and run once)
ways=("$DEVICE $OTHER")
if [ "$DEVICE" != "$OTHER" ]; then ways+=("$OTHER $DEVICE"); fi
for way in "${ways[@]}"; do
  set -- $way
  folder="cross-$1-to-$2"
  gan=(--width "$GAN_WIDTH" --snapshot-every 1 --precision fp32)
  step "gan: 1 epoch on $1" train gan "$1" "$folder" --epochs 1 "${gan[@]}"
  step "gan: resume on $2" train gan "$2" "$folder" --epochs 2 "${gan[@]}" --resume
  if [ "$1" != "$2" ]; then step "gan: resume note" expect_note; fi
  step "gan: --ship-epoch 1 on $1" train gan "$1" "$folder" --epochs 2 --ship-epoch 1 \
    "${gan[@]}"
  step "dann: 1 epoch on $1" train dann "$1" "$folder" --epochs 1 --precision fp32
  step "dann: resume on $2" train dann "$2" "$folder" --epochs 2 --precision fp32 --resume
  if [ "$1" != "$2" ]; then step "dann: resume note" expect_note; fi
done

# images/s: the throughput bench on $DEVICE, and on the CPU at the same VAE width beside it
bench() {  # the CPU leaves out bf16, which takes minutes a model where it is emulated
  local skip=()
  [ "$1" = cpu ] && skip=(--no-bf16)
  "$PYTHON" -m bench.train_throughput --data "$DATA" --device "$1" --steps "$BENCH_STEPS" \
    --warmup 2 --workers 2 --vae-width "$VAE_WIDTH" "${skip[@]}" | tee -a "$OUT/throughput.md"
}
: >"$OUT/throughput.md"
step "throughput on $DEVICE" bench "$DEVICE"
if [ "$DEVICE" != cpu ]; then step "throughput on cpu" bench cpu; fi

# the same faces on $DEVICE and on the CPU; a snapshot written on $DEVICE read on the CPU
checkpoint=${GAN_CHECKPOINT:-checkpoints/gan.safetensors}
if [ ! -f "$checkpoint" ]; then checkpoint=$WORK/gan-fp32/checkpoints/gan.safetensors; fi
step "faces on $DEVICE vs cpu" bash -c "'$PYTHON' -m bench.device_faces --checkpoint \
'$checkpoint' --device '$DEVICE' --image '$OUT/faces.png' \
--snapshot '$WORK/cross-$DEVICE-to-$OTHER/runs/gan-seed0/snapshot-e001.pt' | tee '$OUT/faces.md'"

step "collect runs" tar -czf "$OUT/runs.tar.gz" -C "$WORK" --exclude='*.pt' \
  --exclude='*.safetensors' --exclude=data .
printf '\n%d failed step(s), %d s in all, device %s, work folder %s\n' "$FAILED" \
  $((SECONDS - START)) "$DEVICE" "$WORK" | tee -a "$SUMMARY"
exit "$FAILED"
