"""Loading models from what a user types, and keeping the old model when a load fails."""

import pytest
from transformers import ViTConfig, ViTModel

from lrm_lab.errors import ModelLoadError
from lrm_lab.models.loader import load_model, pick_device
from lrm_lab.models.slot import ModelSlot

from tiny import tiny_backend, tiny_model, tiny_tokenizer


def test_missing_gguf_file(tmp_path):
    with pytest.raises(ModelLoadError, match="GGUF file not found"):
        load_model(str(tmp_path / "absent.gguf"))


def test_folder_without_config(tmp_path):
    with pytest.raises(ModelLoadError, match="no config.json"):
        load_model(str(tmp_path))


def test_nonsense_id():
    with pytest.raises(ModelLoadError, match="not a hub id"):
        load_model("no such model at all")


def test_unknown_hub_id_offline(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelLoadError, match="not in the local Hugging Face cache"):
        load_model("lrm-lab-tests/does-not-exist")


def test_local_folder_loads(tmp_path):
    tiny_model(len(tiny_tokenizer())).save_pretrained(tmp_path)
    tiny_tokenizer().save_pretrained(tmp_path)
    backend = load_model(str(tmp_path))
    assert backend.info.source == "local"
    assert backend.info.device == pick_device()[0]
    assert backend.info.parameters > 0


def test_not_a_causal_lm(tmp_path):
    ViTModel(ViTConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8)).save_pretrained(tmp_path)
    with pytest.raises(ModelLoadError, match="not a causal language model"):
        load_model(str(tmp_path))


def test_cpu_uses_float32(monkeypatch):
    monkeypatch.setenv("LRM_LAB_DEVICE", "cpu")
    assert pick_device() == ("cpu", "float32")


def test_slot_keeps_old_model_on_failure(tmp_path):
    first = tiny_backend()
    slot = ModelSlot(loader=load_model)
    slot.set(first)
    with pytest.raises(ModelLoadError):
        slot.load(str(tmp_path / "missing.gguf"))
    assert slot.get() is first
