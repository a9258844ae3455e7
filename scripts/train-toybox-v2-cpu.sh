#!/usr/bin/env bash
# One training run of toybox-v2 on a 2-core CPU, end to end: continue models/toybox-v2 on new scenes, write the
# model folder back (EMA weights to ship, raw fp32 weights and progress to continue from), bench it, and add
# the run's row to the learning curve in docs/toybox-v2.md. Run it again for the next run; commit the model
# folder and the card after each. Resumable: rerun after an interruption and finished steps are kept.
#
# The first run also trains the codecs (once; `duetto bench toybox --through-codecs` gates them) and, beside
# the fused transformer on one core, its no-fusion ablation on the other, on the same samples.
#
#   scripts/train-toybox-v2-cpu.sh                 # MINUTES=125 of transformer training, about 2.5 h in all
set -euo pipefail
cd "$(dirname "$0")/.."
DUETTO=${DUETTO:-.venv/bin/duetto}
PY=${PYTHON:-.venv/bin/python}
TORCHRUN=${TORCHRUN:-.venv/bin/torchrun}
CFG=configs/train/toybox-v2-cpu.yaml
ABLATION_CFG=configs/train/toybox-v2-cpu-nofusion.yaml
MODEL=${MODEL:-models/toybox-v2}
CARD=${CARD:-docs/toybox-v2.md}
RUNS=${RUNS:-runs/toybox-v2}
MINUTES=${MINUTES:-125}       # the transformer's share of the run; cache, assembly and bench take ~20 min more
BENCH_N=${BENCH_N:-64}
export OMP_NUM_THREADS=1      # two processes of one thread: two threads in one process collapse under load

# CPU seconds of every finished child process so far, into CPU_SECONDS: the second line of bash's `times` (user,
# system). Called as a plain command: inside $(...) it would be a subshell with no children of its own, which is
# how run 2 recorded 0.0 CPU hours.
child_cpu_seconds() {
    local file; file=$(mktemp); times > "$file"
    CPU_SECONDS=$(tail -1 "$file" | awk '{ for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); s += t[1] * 60 + t[2] } } END { print s + 0 }')
    rm -f "$file"
}
on_two_cores() { "$TORCHRUN" --standalone --nproc_per_node 2 -m duetto.training.cli "$@"; }
resume_flag() { [[ -e $1/checkpoint.pt ]] && echo --resume || true; }

# 1. The codecs, once: trained, written as a codec-only folder, and gated on held-out renders through them.
if [[ -f $MODEL/model_index.json ]]; then
    codecs=(--init-from "$MODEL")
    run=$("$PY" -c "import sys; from duetto.training.assemble import read_history; print(len(read_history(sys.argv[1])) + 1)" "$MODEL")
else
    [[ -d $RUNS/video_codec/final ]] || on_two_cores video-codec -c "$CFG" --out "$RUNS" $(resume_flag "$RUNS/video_codec")
    [[ -d $RUNS/mel_codec/final ]] || "$DUETTO" train mel-codec -c "$CFG" --out "$RUNS"
    [[ -d $RUNS/codecs ]] || "$DUETTO" train codecs -c "$CFG" --out "$RUNS"
    [[ -f $RUNS/codec-gate/report.json ]] || "$DUETTO" bench toybox --through-codecs "$RUNS/codecs" --n 32 \
        --out "$RUNS/codec-gate"
    codecs=(--codecs "$RUNS/codecs")
    run=1
fi

# 2. This run's scenes: new ones every run (run k trains on clips (k − 1)·num_clips …), cached once on both cores.
out=$RUNS/run-$run
clips=$("$PY" -c "import sys; from duetto.training.config import load_config; print(load_config(sys.argv[1]).data.num_clips)" "$CFG")
data=(--set "data.first_clip=$(( (run - 1) * clips ))" --set "twin.max_minutes=$MINUTES")
mkdir -p "$out"
on_two_cores cache -c "$CFG" --out "$out" "${codecs[@]}" "${data[@]}"

# 3. The transformer: both cores for a fused run; the first run puts the ablation on the second core.
child_cpu_seconds; cpu_before=$CPU_SECONDS
if [[ $run == 1 ]]; then
    single=(--set twin.batch_size=16)  # one process: the same 16 samples a step as two processes of 8
    "$DUETTO" train twin -c "$CFG" --out "$out" "${codecs[@]}" "${data[@]}" "${single[@]}" \
        $(resume_flag "$out/twin") >> "$out/twin.log" 2>&1 &
    fused=$!
    mkdir -p "$out/ablation" && ln -sfn "$(realpath "$out/latents")" "$out/ablation/latents"
    "$DUETTO" train twin -c "$ABLATION_CFG" --out "$out/ablation" "${codecs[@]}" "${data[@]}" "${single[@]}" \
        $(resume_flag "$out/ablation/twin") >> "$out/ablation/twin.log" 2>&1 &
    ablated=$!
    wait "$fused"; wait "$ablated"
else
    on_two_cores twin -c "$CFG" --out "$out" "${codecs[@]}" "${data[@]}" $(resume_flag "$out/twin") \
        >> "$out/twin.log" 2>&1
fi
child_cpu_seconds
cpu_hours=$("$PY" -c "import sys; print(round((float(sys.argv[2]) - float(sys.argv[1])) / 3600, 2))" \
    "$cpu_before" "$CPU_SECONDS")

# 4. The model folder (codecs kept from the last one, or the run's own on the first run), and the ablation's.
codec_source=$MODEL; [[ $run == 1 ]] && codec_source=$RUNS/codecs
"$DUETTO" train assemble -c "$CFG" --out "$out" --codecs "$codec_source" --model-out "$MODEL" "${data[@]}"
if [[ $run == 1 ]]; then
    "$DUETTO" train assemble -c "$ABLATION_CFG" --out "$out/ablation" --codecs "$RUNS/codecs" \
        --model-out "$RUNS/ablation-model" "${data[@]}"
    "$DUETTO" bench toybox --model "$RUNS/ablation-model" --n "$BENCH_N" --out "$out/bench-ablation"
fi

# 5. Bench and record the run in the learning curve.
"$DUETTO" bench toybox --model "$MODEL" --n "$BENCH_N" --out "$out/bench"
note=""; [[ $run == 1 ]] && note="(one core; the ablation on the other)"
"$DUETTO" train record-run --model "$MODEL" --report "$out/bench/report.json" --card "$CARD" \
    --cpu-hours "$cpu_hours" --note "$note"
