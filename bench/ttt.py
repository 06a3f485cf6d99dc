"""Time test-time training on the embedded model: its parts per question, and how fast Stop ends it.

    python bench/ttt.py                          # 5 basic_arithmetic questions, default TTT options
    python bench/ttt.py --family leg_counting --n 3 --steps 8
    python bench/ttt.py --typed "What is 12 + 30?"   # self-generated variants instead of siblings

Stop is pressed at a random moment of training (after the first training report plus a delay of
0 to 1.5 s); the figure is the time from the press until the technique returns, and the check
that no adapter layer is left. Figures depend on the machine: say which one when you quote them.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="basic_arithmetic")
    parser.add_argument("--n", type=int, default=5, help="questions (seeds 0..n-1)")
    parser.add_argument("--steps", type=int, default=None, help="TTT steps (default: the option's default)")
    parser.add_argument("--typed", default=None, help="time a typed question instead of a family")
    parser.add_argument("--stops", type=int, default=3, help="Stop presses to time")
    args = parser.parse_args()

    from lrm_lab.models.loader import load_model
    from lrm_lab.tasks.families import make_question, typed_question
    from lrm_lab.techniques.recipe import make_recipe, run_recipe
    from lrm_lab.techniques.result import RunContext

    model = load_model("embedded")
    recipe = make_recipe("ttt", {"ttt": {"steps": args.steps}} if args.steps else None)
    questions = [typed_question(args.typed)] if args.typed else [make_question(args.family, None, s) for s in range(args.n)]
    print(f"model {model.info.display_name} on {model.info.device} ({model.info.dtype}); recipe {recipe.label}")

    # Seconds per question, split into its parts.
    totals = []
    for question in questions:
        result = run_recipe(recipe, question, RunContext(model=model, seed=0))
        details = result.details
        totals.append(result.seconds)
        print(f"{question.text[:50]!r:55} total {result.seconds:5.1f} s, training {details.get('train_seconds', 0):5.1f} s, "
              f"{details['variations']} variations ({details['variation_source']}), loss {details['train_loss']}, "
              f"before {details.get('answer_before')!r} after {result.answer!r} ({result.verdict})")
    print(f"seconds per question: mean {statistics.mean(totals):.1f}, max {max(totals):.1f}")

    # Stop during training: time from the press to the technique's return.
    latencies = []
    rng = random.Random(0)
    for press in range(args.stops):
        cancel = threading.Event()
        pressed: dict[str, float] = {}

        def report(progress, cancel=cancel, pressed=pressed, delay=rng.uniform(0, 1.5)):
            if progress.message.startswith("Training step") and "at" not in pressed:
                threading.Timer(delay, lambda: (pressed.setdefault("at", time.perf_counter()), cancel.set())).start()

        ctx = RunContext(model=model, seed=press, cancel=cancel, report=report)
        options = {"ttt": {"steps": 50}}
        result = run_recipe(make_recipe("ttt", options), questions[0], ctx)
        latency = time.perf_counter() - pressed.get("at", time.perf_counter())
        left = [name for name, _ in model.model.named_modules() if "lora" in name]
        latencies.append(latency)
        print(f"Stop {press + 1}: returned {latency:.2f} s after the press, verdict {result.verdict}, "
              f"{len(result.details['train_loss'])} steps done, adapter layers left: {len(left)}")
    if latencies:
        print(f"Stop latency: mean {statistics.mean(latencies):.2f} s, max {max(latencies):.2f} s")


if __name__ == "__main__":
    main()
