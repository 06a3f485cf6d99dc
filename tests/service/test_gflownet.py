"""Training GFlowNet samplers through the service on the tiny random Llama, with the real SQLite store."""

import threading

import pytest
import torch

from lrm_lab.errors import InputError
from lrm_lab.models.fake import FakeBackend
from lrm_lab.models.gflownet import LAB_FILE
from lrm_lab.service.gflownet import TRAIN_SEED_HIGH, TRAIN_SEED_LOW, train_gflownet, training_problems
from lrm_lab.techniques.gflownet import GFlowNetTrainOptions

# Shrunk from the defaults (16 steps, 8 problems, 4 chains of 96 tokens) so a run takes a second.
QUICK = GFlowNetTrainOptions(steps=3, problems=2, batch_size=2, max_new_tokens=8)


def train(store, model, tmp_path, options=QUICK, name="quick", cancel=None):
    return list(train_gflownet(store, model, "basic_arithmetic", options, name=name, cancel=cancel,
                               folder_root=tmp_path / "adapters"))


def test_training_stores_the_adapter_row_curves_and_files(store, tiny, tmp_path):
    fractions = []
    for progress in train_gflownet(store, tiny, "basic_arithmetic", QUICK, name="quick",
                                   folder_root=tmp_path / "adapters"):
        fractions.append(round(progress.fraction, 3))

    record = store.get_adapter_by_name("quick")
    assert record.status == "finished"
    assert record.steps_done == 3
    assert [len(record.curves[key]) for key in ("loss", "log_z", "mean_reward")] == [3, 3, 3]
    assert record.family == "basic_arithmetic"
    assert record.base_model_id == tiny.info.model_id
    assert record.settings["steps"] == 3
    assert (tmp_path / "adapters" / "quick" / LAB_FILE).is_file()
    assert progress.done
    assert progress.message.startswith("Trained quick")
    assert fractions == [0.0, 0.333, 0.667, 1.0, 1.0]


def test_training_problems_use_seeds_outside_the_evaluation_ranges():
    problems = training_problems("basic_arithmetic", 8, seed=0)
    assert len({problem.text for problem in problems}) == 8
    assert all(TRAIN_SEED_LOW <= problem.seed < TRAIN_SEED_HIGH for problem in problems)
    assert [p.seed for p in training_problems("basic_arithmetic", 8, seed=0)] == [p.seed for p in problems]
    assert [p.seed for p in training_problems("basic_arithmetic", 8, seed=1)] != [p.seed for p in problems]


def test_training_leaves_the_base_weights_and_lock_as_they_were(store, tiny, tmp_path):
    base = {name: tensor.clone() for name, tensor in tiny.model.state_dict().items()}
    train(store, tiny, tmp_path)
    after = tiny.model.state_dict()
    assert after.keys() == base.keys()
    assert all(torch.equal(after[name], base[name]) for name in base)
    assert not hasattr(tiny.model, "peft_config")
    assert tiny.lock.acquire(blocking=False)
    tiny.lock.release()


def test_sub_trajectory_balance_trains_through_the_service(store, tiny, tmp_path):
    options = GFlowNetTrainOptions(steps=2, problems=1, batch_size=2, max_new_tokens=6, objective="subtb")
    train(store, tiny, tmp_path, options, name="subtb")
    record = store.get_adapter_by_name("subtb")
    assert record.status == "finished"
    assert len(record.curves["loss"]) == 2


def test_stop_after_a_step_keeps_the_adapter_trained_so_far(store, tiny, tmp_path):
    cancel = threading.Event()
    steps = []
    for progress in train_gflownet(store, tiny, "basic_arithmetic", GFlowNetTrainOptions(
            steps=10, problems=2, batch_size=2, max_new_tokens=8), name="stopped", cancel=cancel,
            folder_root=tmp_path / "adapters"):
        steps.append(len(progress.curves["loss"]))
        if steps[-1] == 2:
            cancel.set()
    record = store.get_adapter_by_name("stopped")
    assert record.status == "stopped"
    assert record.steps_done == 2
    assert (tmp_path / "adapters" / "stopped" / LAB_FILE).is_file()
    assert progress.message.startswith("Stopped after 2 of 10 steps")


def test_stop_before_the_first_step_saves_nothing(store, tiny, tmp_path):
    cancel = threading.Event()
    cancel.set()
    train(store, tiny, tmp_path, name="never", cancel=cancel)
    record = store.get_adapter_by_name("never")
    assert record.status == "stopped"
    assert record.steps_done == 0
    assert not (tmp_path / "adapters" / "never").exists()


@pytest.mark.parametrize(("name", "message"), [("../x", "adapter name"), (".hidden", "adapter name"),
                                               ("a/b", "adapter name")])
def test_bad_names_rejected_before_storing(store, tiny, tmp_path, name, message):
    with pytest.raises(InputError, match=message):
        train(store, tiny, tmp_path, name=name)
    assert store.list_adapters() == []
    assert not (tmp_path / "adapters").exists()


def test_taken_name_rejected(store, tiny, tmp_path):
    train(store, tiny, tmp_path, name="twice")
    with pytest.raises(InputError, match="exists already"):
        train(store, tiny, tmp_path, name="twice")
    assert len(store.list_adapters()) == 1


def test_unknown_family_and_layers_rejected(store, tiny, tmp_path):
    with pytest.raises(InputError, match="Unknown family"):
        list(train_gflownet(store, tiny, "no_such_family", QUICK, folder_root=tmp_path))
    with pytest.raises(InputError, match="no linear layers named mlp"):
        train(store, tiny, tmp_path, GFlowNetTrainOptions(steps=1, target_modules="mlp"))
    assert store.list_adapters() == []


def test_backend_without_adapters_rejected(store, tmp_path):
    with pytest.raises(InputError, match="cannot train adapters"):
        train(store, FakeBackend([]), tmp_path)
    assert store.list_adapters() == []


def test_bad_target_module_text_rejected():
    with pytest.raises(InputError, match="target_modules"):
        GFlowNetTrainOptions(target_modules="q_proj;drop table")


def test_compare_rejects_a_missing_adapter_before_storing(store, tiny):
    from lrm_lab.service.compare import CompareRequest, run_comparison
    from lrm_lab.tasks.families import make_question

    request = CompareRequest(make_question("leg_counting", {}, 1), ("baseline", "gflownet"),
                             {"gflownet": {"adapter": "nope", "n": 2}}, seed=0)
    with pytest.raises(InputError, match="No gflownet adapter is called 'nope'"):
        list(run_comparison(request, tiny, store))
    assert store.list_runs() == []
    assert store.list_attempts() == []
