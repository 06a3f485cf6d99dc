"""Time sampling on the embedded model: one answer, N batched, N one after another, cold start.

    python bench/generation.py              # N=8, 128 tokens per answer
    python bench/generation.py --n 4 --tokens 64

Every answer is forced to the same length (ignore_eos), so batched and sequential runs generate
the same number of tokens. Figures depend on the machine: say which one when you quote them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

QUESTION = "What is 17 + 25? Think step by step."
COLD_START = """
import time
from lrm_lab.models.base import SamplingParams
from lrm_lab.models.loader import load_model
model = load_model("embedded")
model.generate([{"role": "user", "content": %r}], SamplingParams(n=1, temperature=0.7, max_new_tokens=%d, seed=0))
print("FIRST_ANSWER", flush=True)
"""


def cold_start_seconds(tokens: int) -> float:
    """Seconds from spawning a fresh Python process to its first generated answer."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", COLD_START % (QUESTION, tokens)],
        check=True,
        capture_output=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    return time.perf_counter() - start


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8, help="samples for the batched and sequential runs")
    parser.add_argument("--tokens", type=int, default=128, help="generated tokens per answer")
    args = parser.parse_args()

    import torch

    from lrm_lab.models.base import SamplingParams
    from lrm_lab.models.loader import load_model

    model = load_model("embedded")
    chat = [{"role": "user", "content": QUESTION}]

    def sample(n: int, seed: int = 0) -> None:
        params = SamplingParams(n=n, temperature=0.7, max_new_tokens=args.tokens, seed=seed, ignore_eos=True)
        model.generate(chat, params)

    sample(1)  # warm-up: the first call pays for lazy initialisation
    one = timed(lambda: sample(1))
    batched = timed(lambda: sample(args.n))
    sequential = timed(lambda: [sample(1, seed) for seed in range(args.n)])
    cold = cold_start_seconds(args.tokens)

    print(f"machine: {os.cpu_count()} CPUs, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"device {model.info.device}, dtype {model.info.dtype}")
    print(f"model: {model.info.display_name}; {args.tokens} tokens per answer")
    print(f"one sampled answer:            {one:7.2f} s  ({args.tokens / one:5.1f} tokens/s)")
    print(f"N={args.n} batched (one call):       {batched:7.2f} s  ({args.n * args.tokens / batched:5.1f} tokens/s)")
    print(f"N={args.n} one after another:        {sequential:7.2f} s  ({args.n * args.tokens / sequential:5.1f} tokens/s)")
    print(f"batched / one answer:          {batched / one:7.2f}x")
    print(f"sequential / batched:          {sequential / batched:7.2f}x")
    print(f"cold start to first answer:    {cold:7.2f} s  (new process: imports, model load, one answer)")


if __name__ == "__main__":
    main()
