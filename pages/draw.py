"""Draw a digit: the prediction and why, after every stroke."""

from __future__ import annotations

import time
from typing import Any, NamedTuple

import streamlit as st

from explorer import Dataset, EmptyImageError, normalize
from explorer.core import (
    DEFAULT_DATASET,
    MAX_CLASS_NAME,
    MAX_DRAWING_PIXELS,
    MAX_IMAGE_FILE_BYTES,
    decode_image,
    load_image_file,
    occlude,
    prepare_image,
)
from explorer.i18n import N_, said
from explorer.interpret import (
    METHOD_MEANINGS,
    METHODS,
    MISSING_INK,
    NOT_A_DIGIT,
    NOT_A_DIGIT_LABEL,
    attribute,
    capture_activations,
    conv_layers,
    features_of,
    learned_map,
    predict_and_explain,
    randomization_check,
)
from explorer.plots import (
    as_picture,
    describe_attribution,
    describe_image,
    describe_images,
    describe_learned_map,
    image_grid,
    learned_map_figure,
    overlay,
    upscale,
)
from explorer.serve import ModelEntry, shown_code
from pages._answer import answer_html, pixel_img, prob_bars
from pages._canvas import drawing_pad
from pages._class import class_code, member
from pages._guide import did
from pages._inspect import inspect_context, layer_strip, view_while_training
from pages._keys import CONFIDENCE, DEFAULT_CONFIDENCE, DRAWING, TRAIN_ERROR
from pages._lang import file_upload, fixed_labels, reason, tr, translate
from pages._live import live_run, train_default
from pages._server import (
    leave_legacy_pages_routing,
    workspace_store,
)
from pages._state import get_dataset, workspace

leave_legacy_pages_routing()  # its address typed into a freshly started server: run it through app.py

DRAWING_PNG = "drawing_png"  # the pad's last drawing as PNG: shown again when the user comes back
SANITY = "draw_sanity"
ADDED = "draw_added"  # what adding the drawing to the class's set said
LEARNED = "draw_learned_map"  # (model state, LearnedMap): fitted once per model state, not per stroke
LEARNED_REFIT_S = 10  # while the model trains, the map is fitted again at most this often
UPDATES = "draw_updates"  # answers shown so far (the browser test times strokes by it)
METHOD_NAMES = {
    "saliency": N_("Saliency"),
    "integrated_gradients": N_("Integrated Gradients"),
    "guided_backprop": N_("Guided Backprop"),
    "gradcam": "Grad-CAM",
    "occlusion": N_("Occlusion"),
}
ws = workspace()
t = translate()  # this session's language: the page's words, its numbers and its images' text alternatives
st.title(tr("Draw a digit"))


def method_name(method: str) -> str:
    return tr(METHOD_NAMES[method])


def training_note(entry: ModelEntry) -> None:
    """A line over the pad says which weights answer. While the model trains, only this line is redrawn, every few
    seconds (the pad, perhaps mid-stroke, is left alone); once the run has ended, the page once more, the drawing
    answered with the final weights, and no more redraws (:func:`view_while_training`). The line is there in both
    states, so that last redraw leaves the pad where it was: a pad that moved up, or was drawn anew in another
    place of the page, would lose the stroke under the student's pen."""

    @view_while_training(entry)
    def _note() -> None:
        if entry.active_run is not None:
            st.caption(tr("**{model}** is training; the page answers with its latest weights.", model=entry.name))
        else:
            st.caption(tr("**{model}** answers with the weights its last run ended with.", model=entry.name))

    _note()


entry = ws.entry()
if entry is None or (not entry.runs and entry.source != "loaded"):
    st.info(
        tr(
            "Drawing needs a trained model. One click trains the default CNN on the embedded digits, and the "
            "page carries on when it is ready."
        )
    )
    st.button(
        tr("Train the default CNN"),
        type="primary",
        icon=":material/play_arrow:",
        on_click=train_default,
        args=(get_dataset(DEFAULT_DATASET),),
    )
    if err := st.session_state.pop(TRAIN_ERROR, None):
        st.error(err)
    st.stop()
if entry.active_run is not None:
    if entry.test_accuracy is None:  # not one epoch yet: wait here, the page carries on when it ends
        st.caption(tr("Training **{model}**; drawing opens after its first epoch.", model=entry.name))
        live_run(entry.active_run, key="draw")
        st.stop()
if entry.runs:
    training_note(entry)
ctx = inspect_context()
if ctx is None:
    st.stop()
entry, _, ds = ctx
c_in, h_in, w_in = ds.input_shape
if c_in == 3:
    st.warning(
        tr(
            "**{model}** was trained on colour photos ({dataset}). A line drawing looks nothing like them, so "
            "its answers mean little: upload a photo below instead, or pick a digits model in the sidebar.",
            model=entry.name,
            dataset=ds.name,
        )
    )
elif (h_in, w_in) != (28, 28):
    st.caption(tr("The drawing is prepared at this model's input size, {h}×{w}.", h=h_in, w=w_in))


def learned_map_panel(entry: ModelEntry, model: Any, ds: Dataset, x_u8: Any) -> None:
    """The test images on a 2-D map of the model's features (PCA), the drawing as a star that moves as you draw,
    and the training images nearest to it."""
    run = entry.runs[-1] if entry.runs else None
    # fitted once per model state; while the model trains (its state changes every step), once per 10 s at most
    state = (
        f"training {int(time.time() // LEARNED_REFIT_S)}" if entry.active_run else (run.current().get("step") if run else 0)
    )
    key = (entry.uid, len(entry.runs), state, ds.name)
    cached = st.session_state.get(LEARNED)
    try:
        if cached is None or cached[0] != key:
            cached = (key, learned_map(model, ds.test_x, ds.test_y, ds.train_x, ds.mean, ds.std))
            st.session_state[LEARNED] = cached
    except ValueError as err:  # no Linear layer to read features before
        st.caption(str(err))
        return
    the_map = cached[1]
    feats = features_of(model, the_map, x_u8[None], ds.mean, ds.std)
    left, right = st.columns([3, 2])
    here = the_map.place(feats)[0]
    left.plotly_chart(
        learned_map_figure(the_map.points, the_map.labels, ds.classes, here, tr("your drawing"), tr=t),
        key="draw-learned-map",
        alt=describe_learned_map(the_map.points, the_map.labels, ds.classes, here, tr=t),
    )
    left.caption(
        tr(
            "Each dot is a test image, placed by what layer {layer} (the features the last layer reads) "
            "makes of it, squeezed to two directions (PCA, {share} of the spread). Images the model finds "
            "alike sit together; the star is your drawing. Dots that overlap here may still differ in the "
            "directions this picture leaves out.",
            layer=the_map.layer,
            share=t.percent(the_map.explained, 0),
        )
    )
    near = the_map.nearest(feats[0], 8)
    right.markdown("**" + tr("The training images nearest to your drawing") + "**")
    names = [ds.classes[int(ds.train_y[i])] for i in near]
    right.image(
        upscale(image_grid(ds.train_x[near], ncols=4, pad=2), 320),
        caption=" · ".join(names),
        alt=describe_images(ds.train_x[near], tr("training images nearest to your drawing"), names, tr=t),
    )


def _add_to_class(class_code: str) -> None:
    """The Add button's callback: the drawing as the model sees it (28x28), with the label and name on screen."""
    store = workspace_store()
    x = st.session_state.get(DRAWING)
    if store is None or x is None:
        st.session_state[ADDED] = tr("Nothing to add: draw a digit first (and the class's set must be available).")
        return
    try:
        store.add_digit(class_code, int(st.session_state["draw_add_label"]), x, st.session_state.get("draw_add_name", ""))
        label = int(st.session_state["draw_add_label"])
        st.session_state[ADDED] = (
            tr("Added as “{what}”: the class's set is on “Can we trust it?”.", what=tr(NOT_A_DIGIT))
            if label == NOT_A_DIGIT_LABEL
            else tr("Added as a {digit}: the class's set is on “Can we trust it?”.", digit=label)
        )
    except ValueError as e:
        st.session_state[ADDED] = tr("Not added: {reason}.", reason=reason(e))


class Drawn(NamedTuple):
    """The drawing being answered: its prepared pixels, the model's answer and the picture the maps go on."""

    x_u8: Any  # (C, H, W) uint8 tensor, as the model sees it (the occluder applied)
    x: Any  # (1, C, H, W) normalised
    model: Any
    ex: Any  # the prediction and its saliency (attribution.Explained)
    order: list[int]  # classes, most likely first
    img: Any  # (H, W) or (H, W, 3) uint8 array
    gray: Any  # (H, W) in 0..255: what the maps are overlaid on


def _pad_input() -> tuple[Any, bool, Any, int]:
    """What the user gave: the pad's drawing (or an uploaded image) as pixels or None, whether the pad has
    just been mounted with nothing drawn, the upload, and the drawing's version."""
    # the last drawing goes to the browser only when the pad is new (back on the page), not every stroke
    restore = None if "draw_pad" in st.session_state else st.session_state.get(DRAWING_PNG)
    png, version = drawing_pad("draw_pad", restore, t)
    raw, fresh = None, png is None and version == 0  # a pad just mounted: nothing drawn on it yet
    if png is not None:
        try:
            raw = decode_image(png, said("the drawing"), MAX_DRAWING_PIXELS).convert("L")
            st.session_state[DRAWING_PNG] = png
        except ValueError as err:
            st.error(reason(err))
    up = file_upload(tr("…or upload an image"), ["png", "jpg", "jpeg", "bmp", "webp"], "draw_up", MAX_IMAGE_FILE_BYTES)
    if up is not None:
        try:
            raw = load_image_file(up.getvalue())
        except ValueError as err:
            st.error(reason(err))
    return raw, fresh, up, version


def _prepared(raw: Any, keep_last: bool, mid: Any) -> Any:
    """The drawing at the model's input size, or None (with a line saying why) when there is nothing to answer.
    A fresh pad (back on the page) keeps the last drawing."""
    try:
        if raw is None:
            raise EmptyImageError(said("draw a digit first"))
        return prepare_image(raw, ds.input_shape)
    except EmptyImageError:
        if DRAWING in st.session_state and keep_last:
            return st.session_state[DRAWING]
        st.session_state.pop(DRAWING, None)
        st.session_state.pop(DRAWING_PNG, None)
        mid.info(tr("Draw a digit on the black square (or upload one): the answer appears here after each stroke."))
        # warm up (captum's first import takes about a second) so the first stroke answers at once
        predict_and_explain(entry.inference_model(), normalize(ds.test_x[:1], ds.mean, ds.std))
        return None
    except ValueError as err:
        mid.error(reason(err))
        return None


def _occluded(x_u8: Any) -> Any:
    """The drawing with the occluder's black square on it, when the Occluder is on."""
    if not st.toggle(tr("Occluder"), key="draw_occ", help=tr("Cover part of the input with a black square")):
        return x_u8
    o1, o2, o3 = st.columns(3)
    size = o1.slider(tr("size"), 2, h_in // 2, 8, key="occ_s")
    oy = o2.slider(tr("row"), 0, h_in - size, h_in // 2 - size // 2, key="occ_y")
    ox = o3.slider(tr("col"), 0, w_in - size, w_in // 2 - size // 2, key="occ_x")
    return occlude(x_u8, oy, ox, size)


def _answer(x_u8: Any) -> Drawn:
    """The model's answer and saliency for the drawing: one forward and one backward pass."""
    model = entry.inference_model()
    x = normalize(x_u8[None], ds.mean, ds.std)
    ex = predict_and_explain(model, x)
    return Drawn(x_u8, x, model, ex, ex.probs.argsort(descending=True).tolist(), as_picture(x_u8, 0), x_u8.float().mean(0))


def _explain_controls(d: Drawn) -> tuple[str, str | None]:
    """The probabilities, the threshold, the method and class to explain, and that map; returns the method and
    the Grad-CAM layer the other sections use."""
    probs, top = d.ex.probs, d.order[0]
    st.html(prob_bars(list(ds.classes), probs.tolist(), top))  # plain HTML: redraws in no time
    st.slider(
        tr("Say “not sure” below this confidence"),
        0.0,
        0.99,
        st.session_state[CONFIDENCE],
        0.01,
        key="draw_threshold",
        help=tr(
            "0 = always answer. The confidence is the largest of the class probabilities (the softmax of "
            "the scores). The page “Can we trust it?” uses the same threshold and shows how often the model "
            "is right at each confidence."
        ),
    )
    m1, m2 = st.columns([3, 2])
    method = m1.selectbox(tr("Explain with"), METHODS, format_func=fixed_labels(method_name), key="draw_method")
    target = m2.selectbox(
        tr("for class"), range(len(ds.classes)), index=top, format_func=lambda i: ds.classes[i], key=f"draw_target_{top}"
    )
    convs = [n for n, _ in conv_layers(d.model)]
    layer = convs[-1] if convs else None
    if method == "gradcam" and convs:
        layer = st.selectbox(tr("Grad-CAM layer"), convs, index=len(convs) - 1, key="draw_layer")
    same = method == "saliency" and target == top  # the answer's own saliency: computed once per stroke
    amap = shown_map(d.ex.saliency if same else attribute(d.model, d.x, target, method, layer), method)
    meaning = METHOD_MEANINGS[method]
    name = tr("{method} for {cls}", method=method_name(method), cls=ds.classes[target])
    st.html(
        pixel_img(
            overlay(d.gray, amap, 28),
            200,
            f"{name} ({t.percent(float(probs[target]), 0)}): {tr(meaning.legend)}",
            describe_attribution(amap, name, tr=t),
        )
    )
    st.caption(
        tr("{method} shows {meaning}.", method=method_name(method), meaning=tr(meaning.shows))
        + (f" {tr(MISSING_INK)}" if meaning.black_baseline else "")
    )
    if method != "saliency":
        did("explain:method")  # the guided path: a second method, read
    return method, layer


def shown_map(a: Any, method: str) -> Any:
    """A method's map ``(C, H, W)`` as drawn ``(H, W)``: summed over the channels, and as a size for the methods
    whose sign means nothing (saliency, guided backprop) or that keep only what raises the score (Grad-CAM)."""
    m = a.sum(0)
    return m if METHOD_MEANINGS[method].signed else m.abs()


def _compare_classes(d: Drawn, method: str, layer: str | None) -> None:
    """The top classes' maps side by side, and the difference of two: each class's map is computed once."""
    maps: dict[int, Any] = {}

    def amap(cls: int) -> Any:
        if cls not in maps:
            maps[cls] = shown_map(attribute(d.model, d.x, cls, method, layer), method)
        return maps[cls]

    k = min(3, len(ds.classes))
    cols = st.columns(k + 1)
    for col, cls in zip(cols, d.order[:k]):
        col.image(
            overlay(d.gray, amap(cls), 150),
            caption=f"{ds.classes[cls]} {t.percent(float(d.ex.probs[cls]), 0)}",
            alt=describe_attribution(
                amap(cls), tr("{method} for {cls}", method=method_name(method), cls=ds.classes[cls]), tr=t
            ),
        )
    with cols[k]:
        d1, d2 = st.columns(2)
        ca = d1.selectbox(
            tr("Why"), range(len(ds.classes)), index=d.order[0], format_func=lambda i: ds.classes[i], key="diff_a"
        )
        cb = d2.selectbox(
            tr("and not"), range(len(ds.classes)), index=d.order[1], format_func=lambda i: ds.classes[i], key="diff_b"
        )
        diff = shown_map(attribute(d.model, d.x, ca, method, layer, versus=cb), method) if ca != cb else None
        if diff is None:
            st.caption(tr("Pick two different classes."))
            return
        did("explain:compare")  # the guided path: "why this and not that", asked
        a, b = ds.classes[ca], ds.classes[cb]
        legend = (
            tr("red: raises {a}'s score over {b}'s, blue: the other way", a=a, b=b)
            if METHOD_MEANINGS[method].signed
            else tr("red: where the difference between {a}'s and {b}'s scores is decided (a size)", a=a, b=b)
        )
        st.image(
            overlay(d.gray, diff, 150),
            caption=tr("the score of {a} minus the score of {b}", a=a, b=b) + f"; {legend}",
            alt=describe_attribution(diff, tr("why {a} and not {b}", a=a, b=b), tr=t),
        )


def _add_section(top: int) -> None:
    """In a class: add this drawing, labelled, to the class's handwriting."""
    code = class_code()
    if not code or c_in != 1 or (h_in, w_in) != (28, 28):
        return
    with st.expander(tr("Add this drawing to our class's handwriting ({code})", code=shown_code(code))):
        a1, a2, a3 = st.columns([1, 2, 1], vertical_alignment="bottom")
        a1.selectbox(
            tr("It is a"),
            range(NOT_A_DIGIT_LABEL + 1),
            index=top if top < 10 else 0,
            key="draw_add_label",
            format_func=fixed_labels(lambda i: tr(NOT_A_DIGIT) if i == NOT_A_DIGIT_LABEL else str(i)),
            help=tr(
                "“{label}” for a letter or a doodle: the page “Can we trust it?” shows what the model makes of those.",
                label=tr(NOT_A_DIGIT),
            ),
        )
        a2.text_input(tr("Your name"), key="draw_add_name", max_chars=MAX_CLASS_NAME, value=(member() or {}).get("name", ""))
        a3.button(tr("Add it"), key="draw_add", on_click=_add_to_class, args=(code,))
        if msg := st.session_state.pop(ADDED, None):
            st.caption(msg)


def _sanity_section(d: Drawn, method: str) -> None:
    with st.expander(tr("Sanity check: does the explanation depend on the weights?")):
        st.caption(
            tr(
                "Randomise the weights layer by layer, from the output down, and recompute the map. A map that "
                "stays the same explains the input's edges, not what the model learned (Adebayo et al., 2018)."
            )
        )
        if st.button(tr("Run the check"), key="draw_sanity_btn"):
            st.session_state[SANITY] = (method, randomization_check(d.model, d.x, d.order[0], method))
        if SANITY in st.session_state:
            meth, steps = st.session_state[SANITY]
            cols = st.columns(len(steps))
            for col, (name, amap, corr) in zip(cols, steps):
                trained = name == "original"
                col.image(
                    overlay(d.gray, amap.sum(0), 110),
                    caption=(tr("trained") if trained else tr("random from {layer}", layer=name))
                    + f" · ρ={t.number(corr, 2)}",
                    alt=describe_attribution(
                        amap.sum(0),
                        tr("the map with trained weights") if trained else tr("the map with random weights"),
                        tr=t,
                    ),
                )
            st.caption(tr("{method}; ρ: rank correlation with the trained model's map.", method=method_name(meth)))


@st.fragment
def panel() -> None:
    """The pad and everything that answers it: a stroke reruns this fragment only, not the page."""
    left, mid, right = st.columns([1.2, 1, 1.4])
    with left:
        raw, fresh, up, version = _pad_input()
    x_u8 = _prepared(raw, fresh and up is None, mid)
    if x_u8 is None:
        return
    st.session_state[DRAWING] = x_u8
    with mid:
        x_u8 = _occluded(x_u8)
    d = _answer(x_u8)
    did("drew")  # the guided path: a drawing answered
    st.session_state[UPDATES] = st.session_state.get(UPDATES, 0) + 1
    threshold = float(st.session_state.get("draw_threshold", st.session_state.get(CONFIDENCE, DEFAULT_CONFIDENCE)))
    st.session_state[CONFIDENCE] = threshold
    with mid:  # one HTML block: prediction, the input, saliency, in one message with no image requests
        st.html(
            answer_html(
                d.img,
                overlay(d.gray, d.ex.saliency.abs().amax(0), 28),
                ds.classes,
                d.ex.probs,
                d.order,
                h_in,
                w_in,
                version,
                threshold,
                (
                    describe_image(d.x_u8, tr("what the model sees"), tr=t),
                    describe_attribution(d.ex.saliency.sum(0), tr("saliency of the prediction"), tr=t),
                ),
            )
        )
    with right:
        method, layer = _explain_controls(d)
    if st.toggle(tr("Compare classes: the top 3 side by side, and why one and not another"), key="draw_compare"):
        _compare_classes(d, method, layer)
    if st.toggle(tr("Show the feature maps of every layer for this drawing"), key="draw_maps"):
        layer_strip(d.model, capture_activations(d.model, d.x))
    if st.toggle(tr("Show the map of what it learned, with this drawing on it"), key="draw_learned"):
        learned_map_panel(entry, d.model, ds, d.x_u8)
        did("learned_map")  # the guided path: the learned map, with the drawing on it
    _add_section(d.order[0])
    _sanity_section(d, method)


panel()
