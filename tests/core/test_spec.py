from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from explorer.core.presets import PRESETS, get_preset, preset_names
from explorer.core.spec import SpecError, build_model, format_summary, parse_spec, summarize

SEED_COUNTS = {
    "linear": 36_895,
    "one-conv": 31_863,
    "wider": 63_679,
    "deeper": 23_143,  # seed 000 (EMNIST)
    "mnist-features": 55_744,
    "mnist-flatten": 93_322,
    "mnist-gap": 56_394,  # seed 004 (MNIST)
    "cats-vs-dogs": 307_393,  # seed 004
}


@pytest.mark.parametrize("name,count", SEED_COUNTS.items())
def test_seed_architectures_have_their_published_parameter_counts(name, count):
    spec = get_preset(name)
    assert summarize(spec).total_params == count
    assert sum(p.numel() for p in build_model(spec).parameters()) == count


def test_mult_adds_follow_torchinfo_convention():
    # seed 004 prints 2.79 M (features), 2.82 M (flatten), 234.16 M (cats vs dogs)
    assert round(summarize(get_preset("mnist-features")).total_mult_adds / 1e6, 2) == 2.79
    assert round(summarize(get_preset("mnist-flatten")).total_mult_adds / 1e6, 2) == 2.82
    assert round(summarize(get_preset("cats-vs-dogs")).total_mult_adds / 1e6, 2) == 234.16


@pytest.mark.parametrize("name", [n for n in PRESETS if n != "cats-vs-dogs"])
def test_every_layer_output_shape_matches_the_real_forward(name):
    spec = get_preset(name)
    model = build_model(spec).eval()
    rows = {r.path: r for r in summarize(spec).layers}
    seen = {}
    hooks = [
        m.register_forward_hook(lambda m, i, o, n=n: seen.__setitem__(n, tuple(o.shape[1:])))
        for n, m in model.named_modules()
        if n in rows
    ]
    try:
        model(torch.zeros(2, *spec["input_shape"]))
    finally:
        for h in hooks:
            h.remove()
    assert seen == {p: r.output_shape for p, r in rows.items()}


def test_spec_model_equals_hand_written_sequential_with_same_weights():
    spec = get_preset("one-conv")
    spec_model = build_model(spec, seed=3)
    hand = nn.Sequential(
        nn.Conv2d(1, 4, 3, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(676, 47)
    )
    hand.load_state_dict(spec_model.state_dict())  # same keys and shapes, strict
    x = torch.randn(8, 1, 28, 28)
    for mode in (True, False):
        spec_model.train(mode)
        hand.train(mode)
        torch.testing.assert_close(spec_model(x), hand(x), rtol=0, atol=0)


def test_residual_block_matches_hand_written_preact_block():
    spec = {
        "input_shape": [16, 8, 8],
        "layers": [
            {
                "type": "Residual",
                "layers": [
                    {"type": "BatchNorm2d"},
                    {"type": "ReLU"},
                    {"type": "Conv2d", "out_channels": 32, "kernel_size": 3, "stride": 2, "padding": 1, "bias": False},
                    {"type": "BatchNorm2d"},
                    {"type": "ReLU"},
                    {"type": "Conv2d", "out_channels": 32, "kernel_size": 3, "padding": 1, "bias": False},
                ],
            }
        ],
    }
    model = build_model(spec, seed=0).eval()
    block = model[0]
    x = torch.randn(4, 16, 8, 8)
    b = block.body
    expected = b[5](b[4](b[3](b[2](b[1](b[0](x)))))) + nn.functional.conv2d(x, block.skip.weight, stride=2)
    torch.testing.assert_close(model(x), expected)
    assert summarize(spec).output_shape == (32, 4, 4)
    assert summarize(spec).total_params == sum(p.numel() for p in model.parameters())


def test_identity_residual_adds_input():
    spec = {
        "input_shape": [4, 6, 6],
        "layers": [{"type": "Residual", "layers": [{"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1}]}],
    }
    model = build_model(spec, seed=0)
    x = torch.randn(2, 4, 6, 6)
    torch.testing.assert_close(model(x), model[0].body(x) + x)
    assert isinstance(model[0].skip, nn.Identity)


def test_receptive_field_matches_gradient_footprint():
    spec = get_preset("mnist-features")
    model = build_model(spec, seed=0)
    rf = summarize(spec).layers[-1].receptive_field
    x = torch.randn(1, 1, 28, 28, requires_grad=True)
    out = model(x)
    out[0, :, 1, 1].sum().backward()  # one output position of the last conv
    nz = x.grad[0, 0].abs() > 0
    rows, cols = nz.any(1).nonzero(), nz.any(0).nonzero()
    assert (int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)) == rf


def test_build_model_is_seeded_and_one_module_per_layer():
    spec = get_preset("default")
    a, b = build_model(spec, seed=1), build_model(spec, seed=1)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)
    relus = [m for m in a.modules() if isinstance(m, nn.ReLU)]
    assert len(relus) == len({id(m) for m in relus}) == 3


def test_presets_listed_default_first_and_summary_text():
    assert preset_names()[0] == "default"
    text = format_summary(summarize(get_preset("mnist-features")))
    assert "55,744" in text and "64x3x3" in text


def test_preset_retargets_to_other_classes_and_shapes():
    spec = get_preset("default", num_classes=47)
    assert summarize(spec).output_shape == (47,)
    spec = get_preset("preact-resnet", num_classes=10, input_shape=[1, 28, 28])
    assert summarize(spec).input_shape == (1, 28, 28)


BAD = [
    (
        {"input_shape": [1, 4, 4], "layers": [{"type": "Conv2d", "out_channels": 2, "kernel_size": 7}]},
        "layer 0 Conv2d: input is 1x4x4, smaller than its 7x7 kernel",
        "0",
    ),
    ({"input_shape": [1, 28, 28], "layers": [{"type": "Conv3d"}]}, "unknown type 'Conv3d'", "0"),
    ({"input_shape": [1, 28, 28], "layers": [{"type": "ReLU", "inplace": True}]}, "unknown argument 'inplace'", "0"),
    (
        {"input_shape": [1, 28, 28], "layers": [{"type": "Conv2d", "out_channels": "8", "kernel_size": 3}]},
        "out_channels must be an integer",
        "0",
    ),
    (
        {"input_shape": [1, 28, 28], "layers": [{"type": "Conv2d", "out_channels": 0, "kernel_size": 3}]},
        "out_channels must be an integer >= 1",
        "0",
    ),
    (
        {"input_shape": [1, 28, 28], "layers": [{"type": "Conv2d", "out_channels": 4, "kernel_size": True}]},
        "kernel_size must be",
        "0",
    ),
    (
        {"input_shape": [1, 28, 28], "layers": [{"type": "Conv2d", "out_channels": 4}]},
        "missing required argument 'kernel_size'",
        "0",
    ),
    (
        {
            "input_shape": [1, 28, 28],
            "layers": [{"type": "Flatten"}, {"type": "Conv2d", "out_channels": 4, "kernel_size": 3}],
        },
        "layer 1 Conv2d: needs an image-shaped input",
        "1",
    ),
    ({"input_shape": [1, 28, 28], "layers": [{"type": "Dropout", "p": 1.5}]}, "p must be between", "0"),
    ({"input_shape": [0, 28, 28], "layers": []}, "input_shape must be", None),
    (
        {"input_shape": [1, 28, 28], "num_classes": 10, "layers": [{"type": "Flatten"}]},
        "ends with shape 784 but num_classes is 10",
        "0",
    ),
    (
        {"input_shape": [3, 1024, 1024], "layers": [{"type": "Conv2d", "out_channels": 4096, "kernel_size": 3}]},
        "This model needs 120 billion multiply-adds per image; at most 1 billion are allowed here. Layer 0 Conv2d",
        "0",
    ),
    (
        {
            "input_shape": [1, 28, 28],
            "layers": [
                {"type": "Flatten"},
                {"type": "Linear", "out_features": 100000},
                {"type": "Linear", "out_features": 1000},
            ],
        },
        "needs 179 million parameters; at most 10 million are allowed here. Layer 2 Linear has 100 million",
        "2",
    ),
    # the beginner's mistake of the lecture notes: Flatten straight after the convolutions, no pooling
    (
        {
            "input_shape": [1, 28, 28],
            "num_classes": 10,
            "layers": [
                {"type": "Conv2d", "out_channels": 64, "kernel_size": 3, "padding": 1},
                {"type": "ReLU"},
                {"type": "Flatten"},
                {"type": "Linear", "out_features": 1000},
                {"type": "Linear", "out_features": 10},
            ],
        },
        "Layer 3 Linear has 50.2 million of them: it reads all 50,176 values of a 64x28x28 map. A MaxPool2d(2) "
        "before Flatten would cut it about 4×",
        "3",
    ),
    (
        {
            "input_shape": [1, 28, 28],
            "layers": [{"type": "Conv2d", "out_channels": 64, "kernel_size": 999, "padding": "same"}],
        },
        "Layer 0 Conv2d has 63.9 million of them: a smaller kernel or fewer channels would cut it",
        "0",
    ),
    (
        {"input_shape": [1, 28, 28], "layers": [{"type": "Residual", "layers": [{"type": "Flatten"}]}]},
        "keep the number of dimensions",
        "0",
    ),
    ({"input_shape": [1, 28, 28], "layers": [{"type": "Residual", "layers": []}]}, "non-empty list", "0"),
    (
        {
            "input_shape": [1, 28, 28],
            "layers": [
                {
                    "type": "Residual",
                    "layers": [
                        {"type": "Conv2d", "out_channels": 4, "kernel_size": 3},
                        {"type": "Conv2d", "out_channels": 4, "kernel_size": 30},
                    ],
                }
            ],
        },
        "layer 0.body.1 Conv2d: input is 4x26x26, smaller than its 30x30 kernel",
        "0.body.1",
    ),
    ({"input_shape": [1, 28, 28], "layers": "Conv2d"}, "layers must be a list", None),
    ({"input_shape": [1, 28, 28], "layers": [], "exec": "rm -rf /"}, "unknown key 'exec'", None),
    ([1, 2, 3], "must be a JSON object", None),
    (
        {"input_shape": [1, 28, 28], "layers": [{"type": "MaxPool2d", "kernel_size": 2}] * 6},
        "layer 4 MaxPool2d: input is 1x1x1, smaller than its 2x2 window",
        "4",
    ),
]


@pytest.mark.parametrize("spec,message,layer", BAD)
def test_invalid_specs_are_rejected_with_a_message_naming_the_layer(spec, message, layer):
    with pytest.raises(SpecError) as err:
        summarize(spec)
    assert message in str(err.value)
    assert err.value.layer == layer


def test_the_budget_comes_from_the_environment_and_a_bad_value_is_a_sentence(monkeypatch):
    from explorer.core.budget import Budget

    spec = get_preset("cats-vs-dogs")  # 234 million multiply-adds per image
    summarize(spec)
    monkeypatch.setenv("EXPLORER_MAX_MULT_ADDS", "100_000_000")
    with pytest.raises(SpecError, match="needs 234 million multiply-adds per image; at most 100 million are allowed here"):
        summarize(spec)
    summarize(spec, Budget(mult_adds=300_000_000))  # a GPU server's own budget, given to the library
    monkeypatch.setenv("EXPLORER_MAX_MULT_ADDS", "lots")
    with pytest.raises(ValueError, match="EXPLORER_MAX_MULT_ADDS must be a positive whole number"):
        Budget.from_env()


def test_every_preset_fits_the_default_budget():
    from explorer.core.budget import Budget

    for name in PRESETS:
        s = summarize(get_preset(name), Budget())
        assert s.total_params <= Budget.params and s.total_mult_adds <= Budget.mult_adds


def test_malformed_json_names_line_and_column():
    with pytest.raises(SpecError, match=r"not valid JSON: .* line 2 column"):
        parse_spec('{"input_shape": [1, 28, 28],\n "layers": [}')


def test_spec_is_never_evaluated():
    evil = json.dumps({"input_shape": [1, 28, 28], "layers": [{"type": "__import__('os').system('x')"}]})
    with pytest.raises(SpecError, match="unknown type"):
        parse_spec(evil)


def test_feature_extractor_spec_without_classes_is_valid():
    s = summarize(get_preset("mnist-features"))
    assert s.num_classes is None and s.output_shape == (64, 3, 3)


def test_summary_json_shape():
    d = summarize(get_preset("default")).to_dict()
    json.dumps(d)
    assert d["output_shape"] == [10] and isinstance(d["total_params"], int)
    assert d["layers"][0]["receptive_field"] is not None and d["layers"][-1]["receptive_field"] is None


def test_a_new_layer_type_is_one_record(monkeypatch):
    """One entry in LAYER_TYPES and the type is checked, summarised, built and exported (the Build page lists
    LAYER_TYPES too): nothing else in the code names it."""
    from explorer.core.layers import LAYER_TYPES, Arg, LayerType
    from explorer.lessons.export import to_python

    same = LAYER_TYPES["ReLU"].rule
    monkeypatch.setitem(
        LAYER_TYPES, "Hardtanh", LayerType({"min_val": Arg("float", -1.0), "max_val": Arg("float", 1.0)}, same)
    )
    spec = get_preset("default")
    spec["layers"].insert(3, {"type": "Hardtanh", "max_val": 2.0})
    s = summarize(spec)
    assert s.layers[3].type == "Hardtanh" and s.layers[3].args == {"min_val": -1.0, "max_val": 2.0}
    model = build_model(spec, seed=0)
    assert isinstance(model[3], torch.nn.Hardtanh) and model[3].max_val == 2.0
    assert "nn.Hardtanh(max_val=2.0)" in to_python(spec)
    with pytest.raises(SpecError, match="max_val must be a number"):
        summarize({**spec, "layers": [{"type": "Hardtanh", "max_val": "x"}]})
