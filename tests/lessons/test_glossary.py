"""The course's words: every layer type Build offers says what it is, the glossary has one meaning per term, and
the table of where the parameters live adds up to the model's count, each row's count worked out."""

from __future__ import annotations

import pytest

from explorer.core.layers import LAYER_TYPES
from explorer.core.presets import PRESETS, get_preset
from explorer.core.spec import summarize
from explorer.lessons.glossary import GLOSSARY, LAYER_EXPLAINED, naive_baseline, parameter_places_table


def test_every_layer_type_says_what_it_is():
    assert set(LAYER_EXPLAINED) == set(LAYER_TYPES)
    assert "(k·k·C_in + 1)·C_out" in LAYER_EXPLAINED["Conv2d"] and "summed" in LAYER_EXPLAINED["Conv2d"]
    assert "at test time it is off" in LAYER_EXPLAINED["Dropout"]
    assert "one convolution" in LAYER_EXPLAINED["ReLU"]  # why a nonlinearity
    assert {"kernel", "filter", "channel", "feature map", "unit", "logit", "softmax"} <= set(GLOSSARY)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_the_parameters_table_adds_up_and_each_worked_count_is_right(preset):
    summary = summarize(get_preset(preset))
    rows = parameter_places_table(summary)
    assert sum(r["parameters"] for r in rows) == summary.total_params
    for r in rows:
        worked = r["counted as"].split(" (")[0]
        if "·" in worked:  # e.g. "(5·5·1 + 1)·8": evaluated, it is the row's count
            assert eval(worked.replace("·", "*").replace(",", "")) == r["parameters"], r  # noqa: S307 (our own text)


def test_the_default_cnn_keeps_most_of_its_parameters_in_its_dense_layers():
    rows = parameter_places_table(summarize(get_preset("default")))
    assert [r["counted as"] for r in rows if r["type"] == "Conv2d"] == ["(5·5·1 + 1)·8", "(5·5·8 + 1)·16"]
    assert rows[-2]["counted as"] == "(256 + 1)·64" and rows[-2]["share"] == f"{16448 / 20570:.1%}"


def test_a_guess_scores_chance_or_the_largest_class():
    assert naive_baseline([500] * 10) == (0.1, 0.1)
    assert naive_baseline([30, 10]) == (0.5, 0.75)
    with pytest.raises(ValueError, match="no images"):
        naive_baseline([])


def test_the_words_a_student_reads_in_paths_presets_and_the_glossary_name_no_machinery():
    import re

    from explorer.core.presets import preset_description
    from explorer.lessons.path import load_path

    machinery = re.compile(r"\b\d+(\.\d+)?\s?ms\b|\bCPU\b|(?i:\bserver|\bworkers?\b|unpickl|\bseeds?\b)")
    texts = [f"{s.title} {s.text} {s.goal}" for name in ("lecture", "trust") for s in load_path(name)]
    texts += [preset_description(n) for n in PRESETS] + list(GLOSSARY.values()) + list(LAYER_EXPLAINED.values())
    assert not [t for t in texts if machinery.search(t)]
