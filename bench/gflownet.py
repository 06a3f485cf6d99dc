"""Train a GFlowNet sampler on the embedded model and compare it with temperature sampling at the same N.

    python bench/gflownet.py                                    # train with the defaults, then 20 questions
    python bench/gflownet.py --family leg_counting --n 20 --steps 32
    python bench/gflownet.py --adapter gflownet-basic_arithmetic-20261205-064000   # evaluate a trained one

Every question is answered twice with the same prompt, N, temperature and sampling seed: by the
adapter and by the base model with the adapter off (the technique's compare_base). The figures:
accuracy of the majority vote, pass@N (any of the N correct, graded after the fact), distinct
answers and distinct correct chains per question, and seconds. Training time is measured from
the first step to the saved adapter, the model load excluded. Results go to a database in a
temporary folder unless --database is given. Figures depend on the machine, so name it when quoting them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="basic_arithmetic")
    parser.add_argument("--n", type=int, default=20, help="evaluation questions (seeds 0..n-1)")
    parser.add_argument("--samples", type=int, default=8, help="N, chains per question")
    parser.add_argument("--adapter", default="", help="evaluate this trained adapter instead of training one")
    parser.add_argument("--database", default="", help="SQLAlchemy URL (default: a temporary SQLite file)")
    parser.add_argument("--train", default="{}", help='training settings as JSON, e.g. \'{"steps": 32}\'')
    parser.add_argument("--steps", type=int, default=None, help="training steps (shortcut for --train)")
    args = parser.parse_args()

    from lrm_lab.models.loader import load_model
    from lrm_lab.service.gflownet import StoreAdapters, train_gflownet
    from lrm_lab.store import Store
    from lrm_lab.tasks.families import make_question
    from lrm_lab.techniques.gflownet import GFlowNetTrainOptions
    from lrm_lab.techniques.options import parse_options
    from lrm_lab.techniques.recipe import make_recipe, run_recipe
    from lrm_lab.techniques.result import RunContext

    folder = Path(tempfile.mkdtemp(prefix="lrm-gflownet-"))
    store = Store(args.database or f"sqlite:///{folder / 'lab.db'}")
    model = load_model("embedded")
    print(f"model {model.info.display_name} on {model.info.device} ({model.info.dtype})")

    # 1. Train, unless an adapter is named.
    name = args.adapter
    if not name:
        values = json.loads(args.train) | ({"steps": args.steps} if args.steps else {})
        options = parse_options(GFlowNetTrainOptions, values, "train")
        start = time.perf_counter()
        for progress in train_gflownet(store, model, args.family, options, folder_root=folder / "adapters"):
            print(f"  {progress.message}", flush=True)
        name = progress.adapter.name
        print(f"training: {time.perf_counter() - start:.1f} s for {progress.adapter.steps_done} steps "
              f"({json.dumps(values) if values else 'defaults'})")
    adapters = StoreAdapters(store)
    record = store.get_adapter_by_name(name)
    max_new_tokens = record.settings.get("max_new_tokens", 96)

    # 2. The same questions, N chains each, from the adapter and from the base model.
    recipe = make_recipe("gflownet", {"gflownet": {"adapter": name, "n": args.samples,
                                                   "max_new_tokens": max_new_tokens}})
    rows = []
    for seed in range(args.n):
        question = make_question(args.family, None, seed)
        result = run_recipe(recipe, question, RunContext(model=model, seed=0, adapters=adapters))
        details, base = result.details, result.details["base"]
        rows.append({"gflownet": (str(result.verdict), details["any_correct"], details["distinct_answers"],
                                  details["distinct_correct_chains"]),
                     "base": (base["verdict"], base["any_correct"], base["distinct_answers"],
                              base["distinct_correct_chains"]),
                     "seconds": result.seconds})
        print(f"  seed {seed:3d}: gflownet {result.verdict!s:9} {details['distinct_correct_chains']} correct chains, "
              f"base {base['verdict']:9} {base['distinct_correct_chains']} correct chains", flush=True)

    # 3. The table.
    print(f"\n{args.family}, {args.n} questions, N={args.samples}, temperature 1, {max_new_tokens} tokens, "
          f"adapter {name}")
    print(f"{'':24}{'accuracy':>10}{'pass@N':>9}{'distinct answers':>18}{'distinct correct chains':>25}")
    for side in ("gflownet", "base"):
        verdicts = [row[side] for row in rows]
        accuracy = sum(v[0] == "correct" for v in verdicts) / len(verdicts)
        pass_at_n = sum(v[1] for v in verdicts) / len(verdicts)
        label = "GFlowNet adapter" if side == "gflownet" else "temperature sampling"
        print(f"{label:24}{accuracy:>10.0%}{pass_at_n:>9.0%}{statistics.mean(v[2] for v in verdicts):>18.2f}"
              f"{statistics.mean(v[3] for v in verdicts):>25.2f}")
    print(f"seconds per question (both sides): {statistics.mean(row['seconds'] for row in rows):.1f}")


if __name__ == "__main__":
    main()
