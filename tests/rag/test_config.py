"""Settings: precedence, validation, and the one rule for the API key (environment only, never recorded)."""
from __future__ import annotations

import json

import pytest

from rag.config import load_settings, settings_record
from rag.errors import ConfigError


def test_file_then_environment_then_flags_in_rising_precedence(tmp_path):
    config = tmp_path / "regcite.toml"
    config.write_text('top_k = 3\nfusion = "rrf"\ndense_weight = 0.7\n')
    s = load_settings(config, env={"REGCITE_TOP_K": "5"}, overrides={"dense_weight": 0.2})
    assert (s.top_k, s.fusion, s.dense_weight) == (5, "rrf", 0.2)


def test_the_api_key_comes_from_regcites_own_variable_only():
    assert load_settings(env={"REGCITE_LLM_API_KEY": "sk-regcite"}).llm_api_key == "sk-regcite"
    assert load_settings(env={"OPENAI_API_KEY": "sk-other-product"}).llm_api_key == ""


def test_a_key_in_the_settings_file_is_refused_with_where_it_belongs(tmp_path):
    config = tmp_path / "regcite.toml"
    config.write_text('llm_api_key = "sk-in-a-file"\n')
    with pytest.raises(ConfigError, match="REGCITE_LLM_API_KEY"):
        load_settings(config, env={})


def test_the_key_stays_out_of_repr_and_of_every_record_of_the_settings():
    s = load_settings(env={"REGCITE_LLM_API_KEY": "sk-secret-123"})
    record = settings_record(s)
    assert "sk-secret-123" not in repr(s) and "sk-secret-123" not in json.dumps(record)
    assert "llm_api_key" not in record and record["top_k"] == s.top_k
    assert s.replace(top_k=2).llm_api_key == "sk-secret-123"  # a replaced copy still answers with it


def test_downloads_are_off_unless_settings_say_so():
    assert load_settings(env={}).allow_model_downloads is False
    assert load_settings(env={"REGCITE_ALLOW_MODEL_DOWNLOADS": "1"}).allow_model_downloads is True
    with pytest.raises(ConfigError, match="expected true/false"):
        load_settings(env={"REGCITE_ALLOW_MODEL_DOWNLOADS": "maybe"})
