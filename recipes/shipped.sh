#!/usr/bin/env bash
# The exact command that made each shipped file in checkpoints/: every `python -m ...` line
# below is, verbatim, the `command` field of that file's JSON record (checkpoints/*.json,
# checkpoints/digits/*.json, and checkpoints/manifest.json), which tests/test_recipes.py
# checks. Where a file came from several processes (a run stopped and resumed), the earlier
# commands are listed before it, in order, as comments, from the record's `earlier_runs`.
#
# Run from anywhere, with the project's Python first on PATH (. .venv/bin/activate):
# bash recipes/shipped.sh. The commands name the data folder where it was
# when they ran (../shared/hw3_data or /work/shared/hw3_data): put the course's hw3_data there,
# or edit --data. Each command writes into its own --out folder under runs/; `ship` then
# copies the file into checkpoints/ (which is what happened to the shipped files).
# Everything was trained on a CPU with one thread per run: the digits take minutes to half an
# hour each, the face models hours (see each JSON's training_seconds).
set -euo pipefail
cd "$(dirname "$0")/.."

ship() {  # ship OUT NAME: copy OUT's NAME (weights, JSON, timeline) into checkpoints/, list it
  python -m hw3lab.devtools.ship "$1" "$2"
}
start_from() {  # start_from FROM TO TASK: put TASK's source-only model into TO before ADDA
  mkdir -p "$2/digits"  # or the mean teacher, which start from it
  cp "$1/digits/$3-source_only.safetensors" "$1/digits/$3-source_only.json" "$2/digits/"
}

# -- digits: source-only (the lower bound, and where ADDA and the mean teacher start)
python -m train.source_only --data /work/shared/hw3_data --source usps --target mnistm --out runs/exp/so_um_z_s0 --state-dir runs/exp/so_um_z_s0/state --threads 1 --no-progress --augment --seed 0
ship runs/exp/so_um_z_s0 digits/usps-mnistm-source_only
python -m train.source_only --data /work/shared/hw3_data --source mnistm --target svhn --out runs/exp/so_ms_z --state-dir runs/exp/so_ms_z/state --threads 1 --no-progress --augment
ship runs/exp/so_ms_z digits/mnistm-svhn-source_only
python -m train.source_only --data /work/shared/hw3_data --source svhn --target usps --out runs/exp/so_su_z_s0 --state-dir runs/exp/so_su_z_s0/state --threads 1 --no-progress --augment --seed 0
ship runs/exp/so_su_z_s0 digits/svhn-usps-source_only

# -- digits: DANN
python -m train.dann --data /work/shared/hw3_data --source usps --target mnistm --out runs/timelines/dann-um --state-dir runs/timelines/dann-um/state --threads 1 --no-progress --augment --seed 0
ship runs/timelines/dann-um digits/usps-mnistm-dann
python -m train.dann --data /work/shared/hw3_data --source mnistm --target svhn --out runs/timelines/dann-ms --state-dir runs/timelines/dann-ms/state --threads 1 --no-progress --augment
ship runs/timelines/dann-ms digits/mnistm-svhn-dann
python -m train.dann --data /work/shared/hw3_data --source svhn --target usps --out runs/timelines/dann-su --state-dir runs/timelines/dann-su/state --threads 1 --no-progress --augment --max-lambda 0.3 --seed 0
ship runs/timelines/dann-su digits/svhn-usps-dann

# -- digits: ADDA (from the source-only model)
start_from runs/exp/so_um_z_s0 runs/exp/adda_um_z_s0 usps-mnistm
python -m train.adda --data /work/shared/hw3_data --source usps --target mnistm --out runs/exp/adda_um_z_s0 --state-dir runs/exp/adda_um_z_s0/state --threads 1 --no-progress --augment --seed 0
ship runs/exp/adda_um_z_s0 digits/usps-mnistm-adda
start_from runs/exp/so_ms_z runs/exp/adda_ms_z_iwnobs_lr4 mnistm-svhn
python -m train.adda --data /work/shared/hw3_data --source mnistm --target svhn --out runs/exp/adda_ms_z_iwnobs_lr4 --state-dir runs/exp/adda_ms_z_iwnobs_lr4/state --threads 1 --no-progress --augment --lr 1e-4 --class-weighted --no-source-batch-stats
ship runs/exp/adda_ms_z_iwnobs_lr4 digits/mnistm-svhn-adda
start_from runs/exp/so_su_z_s0 runs/exp/adda_su_z_iwnobs svhn-usps
python -m train.adda --data /work/shared/hw3_data --source svhn --target usps --out runs/exp/adda_su_z_iwnobs --state-dir runs/exp/adda_su_z_iwnobs/state --threads 1 --no-progress --augment --class-weighted --no-source-batch-stats
ship runs/exp/adda_su_z_iwnobs digits/svhn-usps-adda

# -- digits: the mean teacher, from its own source-only model: the shipped source-only command
# plus --standardize (per-image standardised input, which the mean teacher inherits; the
# source-only files shipped above stay the lab's baseline without it, and ADDA's start)
python -m train.source_only --data /work/shared/hw3_data --source usps --target mnistm --seed 0 --augment --out runs/research/std/seed0 --state-dir runs/research/std/seed0/state --threads 1 --no-progress --standardize
python -m train.mean_teacher --data /work/shared/hw3_data --source usps --target mnistm --seed 0 --out runs/research/std/seed0 --state-dir runs/research/std/seed0/state --threads 1 --no-progress
ship runs/research/std/seed0 digits/usps-mnistm-mean_teacher
python -m train.source_only --data /work/shared/hw3_data --source mnistm --target svhn --seed 0 --augment --out runs/research/std/seed0 --state-dir runs/research/std/seed0/state --threads 1 --no-progress --standardize
python -m train.mean_teacher --data /work/shared/hw3_data --source mnistm --target svhn --seed 0 --out runs/research/std/seed0 --state-dir runs/research/std/seed0/state --threads 1 --no-progress
ship runs/research/std/seed0 digits/mnistm-svhn-mean_teacher
python -m train.source_only --data /work/shared/hw3_data --source svhn --target usps --seed 0 --augment --out runs/research/std/seed0 --state-dir runs/research/std/seed0/state --threads 1 --no-progress --standardize
python -m train.mean_teacher --data /work/shared/hw3_data --source svhn --target usps --seed 0 --out runs/research/std/seed0 --state-dir runs/research/std/seed0/state --threads 1 --no-progress
ship runs/research/std/seed0 digits/svhn-usps-mean_teacher

# -- digits: target-only (the upper bound)
python -m train.target_only --data /work/shared/hw3_data --source usps --target mnistm --augment --seed 0 --out runs/fair/to-seed0 --state-dir runs/fair/to-seed0/state --threads 1 --no-progress
ship runs/fair/to-seed0 digits/usps-mnistm-target_only
python -m train.target_only --data /work/shared/hw3_data --source mnistm --target svhn --augment --seed 0 --out runs/fair/to-seed0 --state-dir runs/fair/to-seed0/state --threads 1 --no-progress
ship runs/fair/to-seed0 digits/mnistm-svhn-target_only
python -m train.target_only --data /work/shared/hw3_data --source svhn --target usps --augment --seed 0 --out runs/fair/to-seed0 --state-dir runs/fair/to-seed0/state --threads 1 --no-progress
ship runs/fair/to-seed0 digits/svhn-usps-target_only

# -- the VAE (width 0.25, fp32: train.vae's default recipe), one run from scratch with its timeline
python -m train.vae --data ../shared/hw3_data --threads 1 --state-dir runs/vae-timeline --out runs/vae-timeline/out --no-progress --time-budget 9000
ship runs/vae-timeline/out vae

# -- the face-attribute classifier (judges generated faces; the lab's attribute readings)
python -m train.attributes --data ../shared/hw3_data --threads 1 --out runs/out-attr --no-progress
ship runs/out-attr attributes

# -- the DCGAN: trained in continuations, each resuming a copy of the previous run's state
# (cp runs/A/gan-seed0.state.pt runs/A/gan-seed0.jsonl runs/B/ before each --resume; the
# first two runs keep theirs in runs/), and some stopped by hand; the last command writes the
# epoch-64 snapshot's averaged generator of runs/gan-const into checkpoints/. Its recipe
# (R1 0.01, mode seeking 1.0, lr 2e-4) is now train.gan's default, so one run from scratch,
# `python -m train.gan --data DIR`, trains the same recipe in one process (not the same bits).
# python -m train.gan --data ../shared/hw3_data --threads 1 --epochs 30 --snapshot-every 3 --time-budget 6000 --out runs/out-gan --no-progress
# python -m train.gan --data ../shared/hw3_data --threads 1 --epochs 29 --snapshot-every 3 --time-budget 2100 --out runs/out-gan --no-progress --resume
# python -m train.gan --data ../shared/hw3_data --threads 1 --epochs 45 --r1 0.01 --snapshot-every 2 --time-budget 3600 --state-dir runs/gan-r1 --out runs/gan-r1/out --no-progress --resume
# python -m train.gan --data ../shared/hw3_data --threads 2 --epochs 45 --r1 0.01 --snapshot-every 2 --state-dir runs/gan-r1 --out runs/gan-r1/out --no-progress --resume
# python -m train.gan --data ../shared/hw3_data --threads 1 --epochs 60 --r1 0.01 --mode-seeking 1.0 --snapshot-every 2 --time-budget 6000 --state-dir runs/gan-r1-ms --out runs/gan-r1-ms/out --no-progress --resume
# python -m train.gan --data ../shared/hw3_data --threads 1 --epochs 52 --decay-from 42 --r1 0.01 --mode-seeking 1.0 --snapshot-every 2 --time-budget 4500 --state-dir runs/gan-r1-msdecay --out runs/gan-r1-msdecay/out --no-progress --resume
# python -m train.gan --data ../shared/hw3_data --threads 1 --snapshot-every 2 --state-dir runs/gan-long --out runs/gan-long/out --no-progress --resume --lr 2e-4 --epochs 74 --decay-from 62 --r1 0.01 --mode-seeking 1.0
# python -m train.gan --data ../shared/hw3_data --threads 1 --snapshot-every 2 --state-dir runs/gan-const --out runs/gan-const/out --no-progress --resume --lr 2e-4 --epochs 80 --r1 0.01 --mode-seeking 1.0
python -m train.gan --data ../shared/hw3_data --threads 1 --lr 2e-4 --epochs 80 --r1 0.01 --mode-seeking 1.0 --snapshot-every 2 --state-dir runs/gan-const --ship-epoch 64 --out checkpoints --no-progress

# -- derived files (they read the checkpoints above)
python -m hw3lab.analysis.latents --data /work/shared/hw3_data
python -m hw3lab.analysis.gan_directions
# the precomputed default t-SNE views in checkpoints/tsne/ (no JSON of their own):
python -m hw3lab.lab.tsne_rebuild --data ../shared/hw3_data
