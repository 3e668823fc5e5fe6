#!/usr/bin/env bash
# GPU smoke check of the trainer on the path the recipes launch: one GPU, a randomly initialised model of
# Qwen2.5-VL-3B's size, bf16 + gradient checkpointing, DeepSpeed ZeRO-3, two steps each of grpo, crpo
# and cdpo on real (generated) video. Prints peak GPU memory, step time and rollout tokens/s per method.
#
#   bash benchmarks/gpu_smoke.sh [WORK_DIR]        (default WORK_DIR: /tmp/dybench_gpu_smoke)
#   SHARDING=fsdp bash benchmarks/gpu_smoke.sh     (torch's FSDP2, fsdp=true, instead of ZeRO-3)
#   SIZE=tiny bash benchmarks/gpu_smoke.sh         (the tiny test model and rollouts: checks the script
#                                                   itself, on a CPU too; tests/test_benchmarks_gpu_smoke.py)
#
# Offline: the model is built from Qwen2.5-VL-3B's published sizes (hidden 2048, 36 layers, 16 heads,
# 2 KV heads, MLP 11008, vision 32 x 1280) with random weights and the tiny model's tokenizer and
# processor, so the numbers measure memory and speed, not answers. The 3B recipes' own rollout sizes
# are used (8 generations, 768 new tokens max, 16 frames, micro-batch 2).
# Status: written on a CPU machine; NOT RUN on a GPU yet.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
WORK=${1:-/tmp/dybench_gpu_smoke}
SHARDING=${SHARDING:-zero3}
SIZE=${SIZE:-3b}
case "$SIZE" in
  3b) rollout=(num_generations=8 micro_batch_size=2 max_new_tokens=768 num_frames=16 max_pixels=100352
               min_pixels=12544) ;;
  tiny) rollout=(num_generations=2 micro_batch_size=2 max_new_tokens=8 num_frames=4 max_pixels=3136 min_pixels=784) ;;
  *) echo "SIZE must be 3b or tiny, not '$SIZE'" >&2; exit 2 ;;
esac
case "$SHARDING" in
  zero3) shard_setting=deepspeed=recipes/deepspeed_zero3.json ;;
  fsdp) shard_setting=fsdp=true ;;
  *) echo "SHARDING must be zero3 or fsdp, not '$SHARDING'" >&2; exit 2 ;;
esac
mkdir -p "$WORK"
export HF_HUB_OFFLINE=1

"$PY" - "$WORK" "$SIZE" <<'EOF'
import json, shutil, sys
from pathlib import Path

import torch
from transformers import AutoModelForImageTextToText, AutoProcessor

from dybench.pairs import build_pairs
from dybench.synth import synthesize
from dybench.testing import build_tiny_model

work, size = Path(sys.argv[1]), sys.argv[2]
if not (work / "pairs" / "manifest.json").is_file():
    synthesize(work / "synth", n=8, size=224, frames=32, categories=["moving_direction"], workers=1, progress=False)
    assert build_pairs(work / "synth", work / "pairs").ok
for name, seed in (("policy", 0), ("bias", 1)):
    out = work / name
    if (out / "model.safetensors.index.json").is_file() or (out / "model.safetensors").is_file():
        continue
    tiny = build_tiny_model("qwen2_5_vl", work / "tiny", seed=seed)
    if size == "tiny":
        shutil.copytree(tiny, out, dirs_exist_ok=True)
        continue
    config = json.loads((tiny / "config.json").read_text())
    text = config.get("text_config", config)
    text.update(hidden_size=2048, num_hidden_layers=36, num_attention_heads=16, num_key_value_heads=2,
                intermediate_size=11008, vocab_size=151936)
    config["vision_config"].update(depth=32, hidden_size=1280, num_heads=16, intermediate_size=3420,
                                   out_hidden_size=2048)
    (tiny / "config.json").write_text(json.dumps(config))
    torch.manual_seed(seed)
    from transformers import AutoConfig
    model = AutoModelForImageTextToText.from_config(AutoConfig.from_pretrained(tiny), dtype=torch.float32)
    model.save_pretrained(out)
    AutoProcessor.from_pretrained(tiny).save_pretrained(out)
    print(f"{name}: {sum(p.numel() for p in model.parameters()) / 1e9:.2f}B parameters", flush=True)
EOF

# The trainer's CLI, plus the peak GPU memory of the process when it exits.
RUN='import atexit, sys, torch
peak = lambda: f"{torch.cuda.max_memory_allocated() / 2**30:.1f}" if torch.cuda.is_available() else "(no GPU)"
atexit.register(lambda: print(f"peak_gpu_memory_gib {peak()}", flush=True))
from dybench.cli import app
app(["train", *sys.argv[1:]])'

for method in grpo crpo cdpo; do
  out="$WORK/run_${SHARDING}_$method"
  rm -rf "$out"
  extra=()
  [ "$method" = cdpo ] && extra=("bias_model=$WORK/bias")
  log="$WORK/${SHARDING}_$method.log"
  "$PY" -m torch.distributed.run --nproc_per_node 1 --no-python "$PY" -c "$RUN" "$method" \
    --model "$WORK/policy" --data "$WORK/pairs" --output-dir "$out" --max-steps 2 \
    "$shard_setting" dtype=bfloat16 gradient_checkpointing=true "${rollout[@]}" save_every=2 "${extra[@]}" \
    >"$log" 2>&1 || { tail -40 "$log"; exit 1; }
  "$PY" - "$method" "$out/metrics.jsonl" "$log" "$SHARDING" <<'EOF'
import json, sys
method, metrics, log, sharding = sys.argv[1:]
rows = [json.loads(line) for line in open(metrics)]
peak = [line.split(None, 1)[1].strip() for line in open(log) if line.startswith("peak_gpu_memory_gib")]
for r in rows:
    print(f"{method} step {r['step']}: step {r['step_s']:.1f} s, rollout {r['rollout_tokens']} tokens in "
          f"{r['rollout_s']:.1f} s = {r['rollout_tokens'] / max(r['rollout_s'], 1e-9):.0f} tokens/s, "
          f"sampler_logprob_gap {r['sampler_logprob_gap']}, loss {r['loss']:+.4f}")
print(f"{method} ({sharding}): peak GPU memory {peak[-1] if peak else '?'} GiB")
EOF
done
