from __future__ import annotations

import math

import pytest
import torch

from explorer.core.presets import get_preset
from explorer.core.spec import build_model
from explorer.interpret.featureviz import channel_activation, load_pretrained, to_display, top_activating, visualize_filters
from explorer.interpret.inspect import (
    capture_activations,
    conv_layers,
    dead_sentence,
    diagnose,
    forward_hooks,
    hook_count,
    kernels,
    layer_stats,
    named_layers,
)


def test_captured_activations_equal_the_model_prefix_output():
    model = build_model(get_preset("preact-resnet"), seed=0)
    x = torch.randn(3, 3, 32, 32)
    acts = capture_activations(model, x)
    model.eval()
    with torch.no_grad():
        h = x
        for i, layer in enumerate(model):
            h = layer(h)
            torch.testing.assert_close(acts[str(i)], h)
        inner = model[1].body[0](model[0](x))  # inside a residual block
        torch.testing.assert_close(acts["1.body.0"], inner)
    assert hook_count(model) == 0


def test_capture_keeps_mode_and_leaves_no_hooks_even_when_it_raises():
    model = build_model(get_preset("default"), seed=0).train()
    with pytest.raises(RuntimeError):
        capture_activations(model, torch.randn(2, 3, 28, 28))  # wrong channel count: the forward raises
    assert hook_count(model) == 0 and model.training
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        with forward_hooks(model, ["0", "nope"], {}):
            pass
    assert hook_count(model) == 0
    capture_activations(model, torch.randn(2, 1, 28, 28))
    assert hook_count(model) == 0 and model.training


def test_kernel_grid_is_the_weight_tensor():
    model = build_model(get_preset("default"), seed=0)
    assert [n for n, _ in conv_layers(model)] == ["0", "4"]
    k = kernels(model, "4")
    assert torch.equal(k, model[4].weight.detach()) and k.shape == (16, 8, 5, 5)
    k[0, 0, 0, 0] = 99.0  # a copy: editing it does not touch the model
    assert model[4].weight[0, 0, 0, 0] != 99.0
    with pytest.raises(ValueError, match="is not a Conv2d"):
        kernels(model, "1")


def test_layer_stats_find_dead_relus():
    spec = {"input_shape": [1, 8, 8], "layers": [{"type": "Conv2d", "out_channels": 4, "kernel_size": 3}, {"type": "ReLU"}]}
    model = build_model(spec, seed=0)
    with torch.no_grad():
        model[0].weight.zero_()
        model[0].bias.copy_(torch.tensor([-1.0, -1.0, -1.0, 1.0]))  # three channels never fire
    stats = layer_stats(model, torch.randn(16, 1, 8, 8))
    relu = next(s for s in stats if s.type == "ReLU")
    assert relu.dead_fraction == pytest.approx(0.75)
    notes = diagnose(stats)
    assert any("75% of layer 1's channels are zero on every one" in n for n in notes)
    assert any("batch norm before the ReLU" in n for n in notes)  # no batch norm there yet: it is advised


def test_a_channel_that_fires_only_in_the_middle_is_alive_and_one_planted_dead_channel_counts_one():
    # a channel that is zero on the empty border of every image but fires on the ink is not dead: units are
    # whole channels, not channel x position
    spec = {"input_shape": [1, 8, 8], "layers": [{"type": "Conv2d", "out_channels": 4, "kernel_size": 1}, {"type": "ReLU"}]}
    model = build_model(spec, seed=0)
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([1.0, 1.0, 1.0, -1.0]).view(4, 1, 1, 1))
        model[0].bias.zero_()
    x = torch.zeros(16, 1, 8, 8)
    x[:, :, 3:5, 3:5] = 1.0  # ink in the middle only: the border is 0 everywhere
    stats = layer_stats(model, x)
    relu = next(s for s in stats if s.type == "ReLU")
    assert relu.dead_fraction == pytest.approx(0.25)  # channel 3 (weight -1) is the only dead one: 1 of 4
    assert "1 of 1 ReLU layers have dead channels" in dead_sentence(stats) and "25%" in dead_sentence(stats)
    with torch.no_grad():
        model[0].weight[3] = 1.0
    healthy = layer_stats(model, x)
    assert next(s for s in healthy if s.type == "ReLU").dead_fraction == 0
    assert "no dead units" in dead_sentence(healthy) and not diagnose(healthy)


def test_dead_relu_advice_leaves_out_batch_norm_where_the_relu_already_follows_one():
    spec = {
        "input_shape": [1, 8, 8],
        "layers": [{"type": "Conv2d", "out_channels": 4, "kernel_size": 3}, {"type": "BatchNorm2d"}, {"type": "ReLU"}],
    }
    model = build_model(spec, seed=0).eval()
    with torch.no_grad():
        model[1].bias.copy_(torch.tensor([-50.0, -50.0, -50.0, 1.0]))  # three channels pushed far below zero
    notes = diagnose(layer_stats(model, torch.randn(16, 1, 8, 8)))
    assert notes and "dead ReLUs" in notes[0] and "batch norm" not in notes[0]


def test_named_layers_cover_residual_blocks_without_skips():
    names = [n for n, _ in named_layers(build_model(get_preset("preact-resnet")))]
    assert "1" in names and "1.body.2" in names and not any("skip" in n for n in names)


@pytest.mark.parametrize("regularizer", ["none", "l2", "blur", "jitter", "fourier"])
def test_filter_images_raise_their_channel_well_above_random(regularizer, trained_default):
    model, _, _ = trained_default
    grads = [None if p.grad is None else p.grad.clone() for p in model.parameters()]
    res = visualize_filters(model, "4", channels=[0, 3, 7], steps=64, lr=0.1, regularizer=regularizer)
    assert res.images.shape == (3, 1, 28, 28)
    # "well above random": far outside the spread the channel shows on 64 random inputs of the same scale
    noise = torch.randn(64, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 0.1
    with torch.no_grad():
        rand = torch.stack([channel_activation(model.eval(), "4", noise, [c] * 64) for c in (0, 3, 7)])  # (3, 64)
    z = (res.end - rand.mean(1)) / rand.std(1).clamp_min(1e-6)
    assert (z > 5).all() and (res.end > res.start).all(), (res.end, rand.mean(1), z)
    assert hook_count(model) == 0
    assert all((g is None and p.grad is None) or torch.equal(g, p.grad) for g, p in zip(grads, model.parameters()))


def test_filter_images_batch_equals_one_by_one():
    model = build_model(get_preset("default"), seed=0)
    both = visualize_filters(model, "0", channels=[1, 2], steps=5, seed=3)
    assert both.images.shape == (2, 1, 28, 28)
    for i, c in enumerate([1, 2]):  # each image of the batch optimises its own channel only
        alone = visualize_filters(model, "0", channels=[c], steps=5, seed=3)
        assert torch.allclose(alone.end[0], both.end[i], rtol=0.2) and both.end[i] > both.start[i]
        assert channel_activation(model, "0", both.images[i : i + 1], [c]) > channel_activation(
            model, "0", both.images[1 - i : 2 - i], [c]
        )  # its own image excites it more than the other's
    with pytest.raises(ValueError, match="channels must lie in 0..7"):
        visualize_filters(model, "0", channels=[8])
    with pytest.raises(ValueError, match="regularizer must be one of"):
        visualize_filters(model, "0", regularizer="magic")


def test_top_activating_finds_the_maximisers():
    model = build_model(get_preset("default"), seed=0)
    x = torch.randn(50, 1, 28, 28)
    top = top_activating(model, "4", x, k=9, batch_size=16)
    assert top.shape == (16, 9)
    acts = capture_activations(model, x, ["4"])["4"].flatten(2).mean(2)  # (N, C)
    assert torch.equal(top[5], acts[:, 5].topk(9).indices)


def test_to_display_stretches_to_full_range():
    img = to_display(torch.tensor([[[[-1.0, 0.0], [1.0, 3.0]]]]), [0.5], [0.25])
    assert img.dtype == torch.uint8 and img.min() == 0 and img.max() == 255


def test_pretrained_weights_come_from_a_local_file_only(tmp_path, monkeypatch):
    import torchvision

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(ValueError, match="not on this server") as e:
        load_pretrained("resnet18")
    assert str(tmp_path) not in str(e.value)  # a student's message names no server path
    (tmp_path / "checkpoints").mkdir()
    good = torchvision.models.resnet18(weights=None).state_dict()
    torch.save(good, tmp_path / "checkpoints" / "resnet18-f37072fd.pth")
    model = load_pretrained("resnet18")
    assert torch.equal(model.state_dict()["fc.weight"], good["fc.weight"]) and not model.training
    torch.save({"fc.weight": torch.zeros(3)}, tmp_path / "checkpoints" / "resnet18-f37072fd.pth")
    with pytest.raises(ValueError, match="does not hold resnet18's weights"):
        load_pretrained("resnet18")
    (tmp_path / "evil.pth").write_bytes(b"\x80\x04cos\nsystem\n(S'touch pwned'\ntR.")
    with pytest.raises(ValueError, match="refused"):
        load_pretrained("resnet18", tmp_path / "evil.pth")
    assert not (tmp_path / "pwned").exists()


def test_layer_stats_in_chunks_equal_the_whole_batch_at_once():
    model = build_model(get_preset("default"), seed=0)
    x = torch.randn(64, 1, 28, 28)
    whole = layer_stats(model, x, max_bytes=1 << 30)
    per_image = sum(a.numel() for a in capture_activations(model, x[:1]).values()) * 4
    chunked = layer_stats(model, x, max_bytes=per_image * 5)  # 5 images at a time
    for a, b in zip(whole, chunked):
        assert a.layer == b.layer
        assert a.mean == pytest.approx(b.mean, rel=1e-5, abs=1e-6) and a.std == pytest.approx(b.std, rel=1e-4)
        assert a.zero_fraction == pytest.approx(b.zero_fraction)
        assert (math.isnan(a.dead_fraction) and math.isnan(b.dead_fraction)) or a.dead_fraction == b.dead_fraction


def test_layer_stats_of_a_4096_channel_layer_hold_at_most_the_view_budget():
    from tests.test_hostile import peak_rss_mb

    grew, out = peak_rss_mb("""
        import torch
        from explorer.interpret.inspect import layer_stats
        from explorer.core.spec import build_model
        spec = {"input_shape": [1, 28, 28], "layers": [{"type": "Conv2d", "out_channels": 4096, "kernel_size": 1},
                                                       {"type": "ReLU"}]}
        model = build_model(spec, seed=0)
        x = torch.randn(32, 1, 28, 28)  # all at once: 32 x 2 x 4096 x 784 floats = 822 MB
        stats = layer_stats(model, x, max_bytes=64 << 20)
        print(len(stats), round(stats[1].zero_fraction, 2))
    """)
    n, zeros = out.split()
    assert n == "2" and 0.3 < float(zeros) < 0.7
    assert grew < 400, f"peak memory grew {grew} MB"
    model = build_model(
        {
            "input_shape": [1, 28, 28],
            "layers": [{"type": "Conv2d", "out_channels": 4096, "kernel_size": 1}, {"type": "ReLU"}],
        },
        seed=0,
    )
    with pytest.raises(ValueError, match="one image's activations take 24 MB in this model, over the 16 MB"):
        layer_stats(model, torch.randn(4, 1, 28, 28), max_bytes=16 << 20)


def test_batch_statistics_of_a_wide_model_use_fewer_images_not_more_time():
    from explorer.interpret.inspect import stats_images

    wide = build_model(
        {
            "input_shape": [1, 28, 28],
            "layers": [{"type": "Conv2d", "out_channels": 4096, "kernel_size": 1}, {"type": "ReLU"}],
        },
        seed=0,
    )
    x = torch.randn(256, 1, 28, 28)
    per_image = 2 * 4096 * 28 * 28
    assert stats_images(wide, x, max_values=20_000_000) == 20_000_000 // per_image  # 3 images
    assert stats_images(build_model(get_preset("default"), seed=0), x, max_values=20_000_000) == 256


def test_feature_map_views_take_their_ranges_by_the_scale_and_name_their_kernels():
    import torch
    from torch import nn

    from explorer.interpret import capture_activations, feature_map_views

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 2))
    acts = capture_activations(model, torch.randn(1, 1, 6, 6))
    out = acts["0"][0]
    local = feature_map_views(model, acts, "0", "local")
    assert [v.channel for v in local] == [0, 1, 2]
    assert local[1].lo == float(out[1].min()) and local[1].hi == float(out[1].max())
    assert torch.allclose(local[2].kernel, model[0].weight[2].detach().mean(0))
    assert {(v.lo, v.hi) for v in feature_map_views(model, acts, "0", "layer")} == {(float(out.min()), float(out.max()))}
    every = feature_map_views(model, acts, "0", "global")[0]
    assert every.lo == min(float(a.min()) for a in acts.values())
    relu = feature_map_views(model, acts, "1", "local", limit=2)
    assert len(relu) == 2 and relu[0].kernel is None
    with pytest.raises(ValueError, match="vector"):
        feature_map_views(model, acts, "3")
    with pytest.raises(ValueError, match="scale"):
        feature_map_views(model, acts, "0", "loud")
