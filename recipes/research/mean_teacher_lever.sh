#!/usr/bin/env bash
# One lever of the mean teacher tried on all three tasks at the shipped schedule, then scored on
# each target's TRAINING split (docs/adaptation-research.md says why that split, and no other).
#
#   bash recipes/research/mean_teacher_lever.sh NAME SEED [FLAGS...]
#   bash recipes/research/mean_teacher_lever.sh texture 0 --source-texture 0.5
#
# Each run starts from the task's shipped source-only checkpoint (linked into runs/research/
# NAME/seedSEED/digits), as the shipped mean teacher did; with SOURCE_FLAGS set (for example
# SOURCE_FLAGS=--standardize, a lever of the input that the source model must share), from its
# own source-only model instead: the shipped source-only command (--augment, seed 0) plus
# SOURCE_FLAGS, trained into the same folder first. TASKS picks tasks (default: all three, as
# usps-mnistm mnistm-svhn svhn-usps). The training logs keep every line
# except the target test accuracy that train.mean_teacher prints at the end: the test split is
# read once, after a recipe is chosen, with python -m hw3lab.predict and hw3lab.evaluate.
# About 25 minutes of one CPU core per task (one thread). Set DATA to the course's hw3_data.
set -euo pipefail
cd "$(dirname "$0")/../.."
name=${1:?usage: mean_teacher_lever.sh NAME SEED [FLAGS...]}
seed=${2:?usage: mean_teacher_lever.sh NAME SEED [FLAGS...]}
shift 2
data=${DATA:-/work/shared/hw3_data}
out=runs/research/$name/seed$seed
mkdir -p "$out/digits"
for task in ${TASKS:-usps-mnistm mnistm-svhn svhn-usps}; do
  if [ -z "${SOURCE_FLAGS:-}" ]; then
    ln -sf "$PWD/checkpoints/digits/$task-source_only.safetensors" \
           "$PWD/checkpoints/digits/$task-source_only.json" "$out/digits/"
  elif [ ! -f "$out/digits/$task-source_only.safetensors" ]; then
    # shellcheck disable=SC2086 # SOURCE_FLAGS is a list of options
    python -m train.source_only --data "$data" --source "${task%-*}" --target "${task#*-}" \
        --seed 0 --augment --out "$out" --state-dir "$out/state" --threads 1 --no-progress \
        $SOURCE_FLAGS 2>&1 | grep -v target_test_accuracy > "$out/$task-source_only.log"
  fi
  python -m train.mean_teacher --data "$data" --source "${task%-*}" --target "${task#*-}" \
      --seed "$seed" --out "$out" --state-dir "$out/state" --threads 1 --no-progress "$@" 2>&1 \
    | grep -v target_test_accuracy > "$out/$task.log"
done
python -m bench.adaptation_dev "$out" --data "$data"
