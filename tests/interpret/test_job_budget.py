"""Every job a student can start is estimated before it starts: a wide layer and all of its channels work in
chunks within the view budget (or are refused with a sentence), and a job has a time limit, as runs do."""

from __future__ import annotations

import time

import pytest
import torch
from torch import nn

from explorer.core.evaluate import activation_bytes, evaluate, fitting_batch, predict_proba
from explorer.core.jobs import Job
from explorer.interpret.featureviz import filter_chunk, top_activating, visualize_filters
from explorer.serve.workspace import Workspace

WIDE = 4096


def wide_model() -> nn.Module:
    """A 4,096-channel convolution on 28×28 (the builder accepts it): all its channels in one batch asked for
    about 52 GB."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, WIDE, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(WIDE, 10)
    ).eval()


def test_activation_bytes_counts_the_input_and_every_layers_output():
    m = wide_model()
    per = 28 * 28 * WIDE * 4
    assert activation_bytes(m, (1, 28, 28)) == 4 * 28 * 28 + 2 * per + 2 * WIDE * 4 + 10 * 4  # by hand


def test_all_channels_of_a_wide_layer_go_in_chunks_that_fit_the_budget(monkeypatch):
    m = wide_model()
    monkeypatch.delenv("EXPLORER_MAX_VIEW_MB", raising=False)  # the default: 256 MB
    chunk = filter_chunk(m, (1, 28, 28), WIDE)
    assert 1 <= chunk < WIDE and chunk * 3 * activation_bytes(m, (1, 28, 28)) <= 256 << 20
    seen: list[int] = []
    real = torch.optim.Adam

    def spy(params, **kw):  # each chunk's optimiser holds one chunk's images, never more
        seen.append(params[0].shape[0])
        return real(params, **kw)

    monkeypatch.setattr(torch.optim, "Adam", spy)
    channels = list(range(0, WIDE, WIDE // (2 * chunk + 1)))[: 2 * chunk + 1]  # three chunks' worth
    res = visualize_filters(m, "0", channels, (1, 28, 28), steps=2)
    assert max(seen) == chunk and sum(seen) == len(channels) and len(seen) == 3
    assert res.images.shape == (len(channels), 1, 28, 28) and res.channels == channels


def test_chunked_filter_images_equal_the_single_batch_ones():
    """Each image is optimised for its own channel, so the chunks change the cost, not the result."""
    torch.manual_seed(1)
    m = nn.Sequential(nn.Conv2d(1, 6, 3), nn.ReLU(), nn.Flatten(), nn.Linear(6 * 26 * 26, 10)).eval()
    one = visualize_filters(m, "1", None, (1, 28, 28), steps=5, regularizer="none")
    per_image = activation_bytes(m, (1, 28, 28)) * 3
    parts = visualize_filters(m, "1", None, (1, 28, 28), steps=5, regularizer="none", max_bytes=2 * per_image)
    torch.testing.assert_close(one.images, parts.images)
    torch.testing.assert_close(one.end, parts.end)


def test_a_model_where_one_image_is_over_the_budget_is_refused_with_a_sentence(monkeypatch):
    monkeypatch.setenv("EXPLORER_MAX_VIEW_MB", "64")
    with pytest.raises(
        ValueError,
        match=r"one image takes 74 MB in this model with its gradients, over the 64 MB "
        r"that one view or job may hold: pick an earlier layer",
    ):
        visualize_filters(wide_model(), "0", [0], (1, 28, 28), steps=1)


def test_top_images_of_a_wide_layer_work_in_batches_and_match_a_reference(monkeypatch):
    m = wide_model()
    x = torch.randn(300, 1, 28, 28)
    monkeypatch.setenv("EXPLORER_MAX_VIEW_MB", "64")
    batch = fitting_batch(m, (1, 28, 28))
    assert batch < 300  # it really takes several batches (batches of 1,000 asked for 12.8 GB)
    got = top_activating(m, "0", x, k=9)
    with torch.no_grad():  # reference: every image's mean activation, all at once, for a few channels
        ref = torch.cat([m[0](x[i : i + 50]).mean((2, 3)) for i in range(0, 300, 50)])
    for c in (0, 17, WIDE - 1):
        assert got.shape == (WIDE, 9)
        assert torch.equal(ref[got[c], c], ref[:, c].topk(9).values)


def test_evaluation_and_predictions_fit_the_view_budget(monkeypatch):
    m = wide_model()
    x = torch.randint(0, 256, (120, 1, 28, 28), dtype=torch.uint8)
    y = torch.randint(0, 10, (120,))
    whole = predict_proba(m, x, [0.5], [0.25], batch_size=120)
    monkeypatch.setenv("EXPLORER_MAX_VIEW_MB", "64")
    calls: list[int] = []
    h = m[0].register_forward_hook(lambda _m, i, o: calls.append(len(o)))
    try:
        torch.testing.assert_close(predict_proba(m, x, [0.5], [0.25]), whole)
        evaluate(m, x, y, [0.5], [0.25])
    finally:
        h.remove()
    assert max(calls) <= (64 << 20) // activation_bytes(m, (1, 28, 28)) and len(calls) > 4


def test_a_job_past_its_time_limit_ends_with_a_sentence():
    def slow(progress):
        for i in range(1000):
            time.sleep(0.01)  # not a synchronisation: the job's own slow work
            progress(i, 1000)
        return "done"

    job = Job("slow", slow, max_seconds=0.2)
    assert job.join(10)
    assert job.result is None and "the time one job may take here" in str(job.error) and "ask for less" in str(job.error)


def test_a_workspace_job_carries_the_servers_time_limit(monkeypatch):
    monkeypatch.setenv("EXPLORER_MAX_JOB_MINUTES", "3")
    job = Workspace().start_job("quick", lambda progress: 7)
    assert job.join(10) and job.result == 7 and job.max_seconds == 180


def test_multiply_adds_measured_by_a_forward_pass_equal_the_summarys_count():
    from explorer.core.evaluate import mult_adds
    from explorer.core.presets import get_preset
    from explorer.core.spec import build_model, summarize

    for name in ("default", "one-conv", "deeper", "wider"):  # the convolutions' and linear layers' rows
        spec = get_preset(name)
        counted = sum(r.mult_adds for r in summarize(spec).layers if r.type in ("Conv2d", "Linear"))
        assert mult_adds(build_model(spec, seed=0), tuple(spec["input_shape"])) == counted


def test_a_filter_job_past_the_time_limit_is_refused_up_front_with_its_estimate_and_a_smaller_choice(monkeypatch):
    import re

    from explorer.core.spec import build_model
    from explorer.interpret.featureviz import plan_filters

    spec = {
        "input_shape": [1, 28, 28],
        "layers": [{"type": "Conv2d", "out_channels": 4096, "kernel_size": 3}, {"type": "ReLU"}],
    }
    wide = build_model(spec, seed=0)
    with pytest.raises(ValueError) as err:
        plan_filters(wide, (1, 28, 28), 4096, 256)
    words = str(err.value)
    assert re.search(r"4,096 channels × 256 steps would take about [\d,]+ minutes, over the 10 minutes", words)
    fit = int(re.search(r"at most ([\d,]+) channels", words).group(1).replace(",", ""))
    assert 1 <= fit < 4096 and plan_filters(wide, (1, 28, 28), fit, 256).seconds <= 600  # the choice it offers fits
    small = plan_filters(build_model(__import__("explorer").get_preset("default"), seed=0), (1, 28, 28), 8, 64)
    assert small.chunks == 1 and small.seconds < 60
    monkeypatch.setenv("EXPLORER_MAX_JOB_MINUTES", "1")  # an operator's tighter limit is read at once
    with pytest.raises(ValueError, match="over the 1 minutes"):
        plan_filters(wide, (1, 28, 28), 4096, 256)
