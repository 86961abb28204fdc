#!/usr/bin/env bash
# GPU check of gpa on one CUDA GPU, in under 8 minutes; figures go to docs/benchmarks.md by hand.
#
#   bash tools/gpu_check.sh            (PYTHON=... to choose the interpreter, OUT=... for the JSON files)
#
# 1. the CUDA-vs-CPU agreement test (tests/inference/test_predictor.py::test_cuda_predictions_match_the_cpu)
# 2. tools/benchmark.py: GPA (configs/coco/gpa_convnext_large.yaml) and the frozen-CLIP baseline
#    (configs/coco/ablations/frozen_clip.yaml) at 1024x1024, bf16 autocast, batch 2, training and inference:
#    s/iteration, images/s, peak memory, each stage, and the ratios against the baseline
# 3. GPA inference images/s at the ADE20K test size (configs/coco/eval/ade20k_150_panoptic.yaml: short side
#    800, so a 4:3 image is 800x1066), fp32 and bf16 autocast, batch 1
# 4. the post-processing's peak memory at 2048x2048 with 250 queries and 150 classes
# Random-init weights (MODEL.CLIP.PRETRAINED ""): nothing is downloaded. Each step has a time limit so the
# whole check stays under 8 minutes; a step that hits it is reported and the others still run.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
OUT=${OUT:-output/gpu_check}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
failed=()

step() {  # step NAME SECONDS COMMAND...
    local name=$1 limit=$2
    shift 2
    echo "=== $name (limit ${limit}s) $(date -u +%H:%M:%S)"
    timeout "$limit" "$@"
    local rc=$?
    if [ $rc -ne 0 ]; then
        echo "=== $name FAILED (exit code $rc$([ $rc -eq 124 ] && echo ', time limit'))"
        failed+=("$name")
    fi
}

if ! "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "no CUDA device visible to $PYTHON; this check needs one GPU" >&2
    exit 2
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PYTHON" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"

step "CUDA-vs-CPU agreement" 90 \
    "$PYTHON" -m pytest -q tests/inference/test_predictor.py -k test_cuda_predictions_match_the_cpu

step "train+inference 1024x1024 bf16 batch 2" 210 \
    "$PYTHON" tools/benchmark.py --device cuda --amp bf16 --size 1024 --batch 2 --iters 5 --warmup 2 --no-flops \
    --config-file configs/coco/gpa_convnext_large.yaml configs/coco/ablations/frozen_clip.yaml \
    --json "$OUT/coco_1024_bf16_batch2.json" --opts MODEL.CLIP.PRETRAINED ""

for amp in none bf16; do
    step "inference ADE20K size 800x1066 amp $amp" 60 \
        "$PYTHON" tools/benchmark.py --device cuda --amp "$amp" --size 800 1066 --batch 1 --iters 10 --warmup 3 \
        --tasks inference --no-flops --config-file configs/coco/eval/ade20k_150_panoptic.yaml \
        --json "$OUT/ade20k_inference_$amp.json" --opts MODEL.CLIP.PRETRAINED ""
done

step "post-processing 2048x2048, 250 queries" 30 \
    "$PYTHON" tools/benchmark_postprocess.py --device cuda --size 2048 --queries 250 --classes 150

if [ ${#failed[@]} -ne 0 ]; then
    echo "failed steps: ${failed[*]}"
    exit 1
fi
echo "all steps passed; JSON in $OUT"
