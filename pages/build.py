"""Build: a CNN from widgets, with the summary and the shape diagram after every edit."""

from __future__ import annotations

import copy
import json
from typing import Any

import streamlit as st

from explorer import PRESETS, get_preset, summarize
from explorer.core import LAYER_TYPES, MAX_NAME_CHARS, MAX_SPEC_BYTES, Arg, Summary, parse_spec_bytes, preset_description
from explorer.i18n import N_
from explorer.lessons import LAYER_EXPLAINED, export_refusal, parameter_places_table, to_python
from explorer.plots import describe_flow, shape_flow, summary_rows
from pages._keys import DRAFT, TRAIN_CFG
from pages._lang import file_upload, fixed_labels, reason, tr, tr_n, translate
from pages._server import leave_legacy_pages_routing  # noqa: E402
from pages._sidebar import no_export_sentence, notebook_download, spec_download
from pages._state import current_dataset, flash, workspace

leave_legacy_pages_routing()  # its address typed into a freshly started server: run it through app.py

REV = "build_rev"  # bumped on structural edits so every layer widget is rebuilt from the draft
st.session_state.setdefault(REV, 0)
ws = workspace()
ds = current_dataset()
draft: dict[str, Any] = st.session_state[DRAFT]

st.title(tr("Build"))
t = translate()


def _new_layer(t: str) -> dict[str, Any]:
    """A layer of type ``t`` with its record's starting values (a new Linear gives one output per class)."""
    starter = copy.deepcopy(LAYER_TYPES[t].starter)
    if t == "Linear":
        starter["out_features"] = ds.num_classes
    return {"type": t, **starter}


def _bump() -> None:
    st.session_state[REV] += 1


def _set_draft(spec: dict[str, Any]) -> None:
    st.session_state[DRAFT] = spec
    st.session_state["build_name"] = spec.get("name") or "my-cnn"  # the name field shows the new draft's name
    _bump()


SPEC_UPLOAD = "spec_upload"  # the uploader's key: the Import callback reads the file from it
IMPORT_ERROR = "build_import_error"  # the import's sentence, shown once under the uploader


def _import_spec() -> None:
    """The Import button's callback. It runs before the page is drawn, so the new draft and its name reach the
    widgets of this very run (a write to ``build_name`` after its field is drawn is refused by Streamlit)."""
    up = st.session_state.get(SPEC_UPLOAD)
    if up is None:
        return
    try:
        spec = parse_spec_bytes(up.getvalue())
        spec.setdefault("name", up.name.rsplit(".", 1)[0][:MAX_NAME_CHARS] or "imported")
    except ValueError as e:  # SpecError and the like: all ValueErrors with a sentence
        st.session_state[IMPORT_ERROR] = tr("Not imported: {error}. Your layers are unchanged.", error=reason(e))
        return
    _set_draft(spec)
    flash(
        tr_n("Imported **{name}**: {n} layer.", "Imported **{name}**: {n} layers.", len(spec["layers"]), name=spec["name"])
    )


def _container(path: list[int]) -> list[dict[str, Any]]:
    """The list holding the layer at ``path`` (a path into nested Residual blocks)."""
    layers = st.session_state[DRAFT]["layers"]
    for i in path[:-1]:
        layers = layers[i]["layers"]
    return layers


def _move(path: list[int], d: int) -> None:
    layers, i = _container(path), path[-1]
    if 0 <= i + d < len(layers):
        layers[i], layers[i + d] = layers[i + d], layers[i]
        _bump()


def _remove(path: list[int]) -> None:
    _container(path).pop(path[-1])
    _bump()


def _duplicate(path: list[int]) -> None:
    layers = _container(path)
    layers.insert(path[-1] + 1, copy.deepcopy(layers[path[-1]]))
    _bump()


def _insert(path: list[int], key: str) -> None:
    _container(path).insert(path[-1], _new_layer(st.session_state[key]))
    _bump()


def _change_type(path: list[int], key: str) -> None:
    if not key.startswith(f"L{st.session_state[REV]}-"):
        # a type picker of a draft that was replaced (a preset loaded): the browser can send its last value once
        # more with the next click, and it would turn this draft's layer at the same place into that type
        return
    _container(path)[path[-1]] = _new_layer(st.session_state[key])
    _bump()


def _fmt(v: Any) -> str:
    return ",".join(map(str, v)) if isinstance(v, (list, tuple)) else "" if v is None else str(v)


def _parse(text: str, arg: Arg) -> Any:
    """Text of a size argument -> int, [h, w], None or 'same'/'valid'; anything else stays text for the
    engine to reject with its message."""
    t = text.strip().lower()
    if t == "" and arg.kind == "opt_pair":
        return None
    if t in arg.choices:
        return t
    parts = [p.strip() for p in t.replace("x", ",").split(",")]
    try:
        nums = [int(p) for p in parts]
    except ValueError:
        return text
    return nums[0] if len(nums) == 1 else nums


# each argument's label, in the course's words (its PyTorch name is in the widget's help)
LABELS = {
    "out_channels": N_("channels"),
    "kernel_size": N_("kernel"),
    "out_features": N_("units"),
    "output_size": N_("output"),
    "negative_slope": N_("slope"),
    "padding_mode": N_("pad mode"),
    "track_running_stats": N_("running stats"),
    "count_include_pad": N_("count pad"),
    "stride": N_("stride"),
    "padding": N_("padding"),
    "dilation": N_("dilation"),
    "groups": N_("groups"),
    "bias": N_("bias"),
    "affine": N_("affine"),
    "eps": N_("eps"),
    "momentum": N_("momentum"),
    "ceil_mode": N_("ceil mode"),
    "p": N_("p"),
    "alpha": N_("alpha"),
    "approximate": N_("approximate"),
    "start_dim": N_("start dim"),
    "end_dim": N_("end dim"),
}


def _arg_widget(layer: dict[str, Any], name: str, arg: Arg, key: str) -> None:
    """One argument's widget; writes the value back into ``layer`` (defaults are left out of the spec)."""
    v = layer.get(name, arg.default)
    label = tr(LABELS[name]) if name in LABELS else name.replace("_", " ")
    torch_name = tr("In PyTorch: `{name}`", name=name)
    if arg.kind == "int":
        new = st.number_input(
            label,
            value=int(v) if isinstance(v, int) else 1,
            step=1,
            help=torch_name,
            min_value=int(arg.minimum) if arg.minimum is not None else None,
            key=key,
        )
    elif arg.kind == "float":
        step = 0.05 if arg.maximum == 1.0 else 0.01
        new = st.number_input(
            label,
            value=float(v),
            step=step,
            format="%g",
            key=key,
            help=torch_name,
            min_value=arg.minimum,
            max_value=arg.maximum,
        )
    elif arg.kind == "bool":
        new = st.checkbox(label, value=bool(v), key=key, help=torch_name)
    elif arg.kind == "choice":
        new = st.selectbox(
            label, arg.choices, index=arg.choices.index(v) if v in arg.choices else 0, key=key, help=torch_name
        )
    elif arg.kind == "pair" and isinstance(v, int) and name != "padding":
        new = st.number_input(label, value=v, step=1, min_value=int(arg.minimum or 0), key=key, help=torch_name)
    else:
        hint = (
            tr("e.g. 1, 2,3 (h,w), same or valid")
            if arg.kind == "padding"
            else tr("empty = same as kernel")
            if arg.kind == "opt_pair"
            else tr("e.g. 3 or 3,5")
        )
        new = _parse(st.text_input(label, value=_fmt(v), key=key, help=f"{hint}. {torch_name}"), arg)
    if new == arg.default and not arg.required:
        layer.pop(name, None)
    else:
        layer[name] = new


# The arguments shown on the layer's card; the others sit behind its "more" popover.
MAIN_ARGS = {
    "Conv2d": ("out_channels", "kernel_size", "stride", "padding"),
    "MaxPool2d": ("kernel_size", "stride"),
    "AvgPool2d": ("kernel_size", "stride"),
    "AdaptiveAvgPool2d": ("output_size",),
    "Linear": ("out_features",),
    "Dropout": ("p",),
    "Dropout2d": ("p",),
    "LeakyReLU": ("negative_slope",),
    "ELU": ("alpha",),
    "GELU": ("approximate",),
}


def _layer_actions(where: Any, key: str, spath: str, path: list[int], off: tuple[bool, bool, bool]) -> None:
    """A layer's four actions as icons on screen, each with its purpose in the button's name (read by a screen
    reader; the words are hidden by _nav.ICON_BUTTONS inside a container keyed "icons-…"). ``off``: whether up,
    down and remove are disabled."""
    b = where.container(key=f"icons-{key}").columns(4, gap="small")
    actions = (
        (tr("Move layer {layer} up", layer=spath), "arrow_upward", "up", _move, (path, -1), tr("move up"), off[0]),
        (tr("Move layer {layer} down", layer=spath), "arrow_downward", "dn", _move, (path, 1), tr("move down"), off[1]),
        (tr("Duplicate layer {layer}", layer=spath), "content_copy", "dup", _duplicate, (path,), tr("duplicate"), False),
        (tr("Remove layer {layer}", layer=spath), "delete", "rm", _remove, (path,), tr("remove"), off[2]),
    )
    for col, (label, icon, suffix, act, args, hint, disabled) in zip(b, actions):
        col.button(
            label, icon=f":material/{icon}:", key=f"{key}-{suffix}", on_click=act, args=args, help=hint, disabled=disabled
        )


def _layer_args(
    layer: dict[str, Any], schema: dict[str, Any], names: tuple[list[str], list[str]], key: str, spath: str
) -> None:
    """A layer's arguments in a row: its main ones, and the rest behind a "more" icon."""
    main, more = names
    row = st.columns([1, 1, 1, 1, 0.55], vertical_alignment="bottom")
    for j, name in enumerate(main):
        with row[j]:
            _arg_widget(layer, name, schema[name], f"{key}-{name}")
    if layer.get("type") == "Residual":
        row[0].caption(tr("block + skip"))
    if more:
        with (
            row[4]
            .container(key=f"icons-{key}-more")
            .popover(tr("More arguments of layer {layer}", layer=spath), icon=":material/tune:", help=tr("more arguments"))
        ):
            for name in more:
                _arg_widget(layer, name, schema[name], f"{key}-{name}")


def _layer_editor(layers: list[dict[str, Any]], prefix: list[int], slots: dict[str, Any], depth: int = 0) -> None:
    rev = st.session_state[REV]
    types = list(LAYER_TYPES) if depth == 0 else [t for t in LAYER_TYPES if t != "Residual"]
    for i, layer in enumerate(layers):
        path = prefix + [i]
        spath = ".body.".join(map(str, path))
        key = f"L{rev}-{'-'.join(map(str, path))}"
        with st.container(border=True):
            t = layer.get("type")
            schema = LAYER_TYPES[t].args if t in LAYER_TYPES else {}
            main = [n for n in MAIN_ARGS.get(t, ()) if n in schema]
            more = [n for n in schema if n not in main]
            # Two rows, so that a projector's 1280 px keeps whole words: the type and the actions, then arguments
            top = st.columns([0.35, 2.6, 2.0], vertical_alignment="center")
            top[0].markdown(f"**{spath}**")
            top[1].selectbox(
                tr("Type of layer {layer}", layer=spath),
                types,
                index=types.index(t) if t in types else 0,
                key=f"{key}-type",
                on_change=_change_type,
                args=(path, f"{key}-type"),
                label_visibility="collapsed",
            )
            _layer_actions(top[2], key, spath, path, (i == 0, i == len(layers) - 1, depth > 0 and len(layers) == 1))
            if main or more or t == "Residual":
                _layer_args(layer, schema, (main, more), key, spath)
            slots[spath] = st.empty()
            if t == "Residual" and isinstance(layer.get("layers"), list):
                _layer_editor(layer["layers"], path, slots, depth + 1)
                _add_row(path + [len(layer["layers"])], f"{key}-add", tr("Add to block"), types)
    if depth == 0:
        _add_row(prefix + [len(layers)], f"L{rev}-add", tr("Add layer"), types)


def what_is_this(summary: Any) -> None:
    """Each layer type of the draft in words, and where its parameters live, layer by layer, counted out."""
    with st.expander(tr("What is each layer? Where do the parameters live?")):
        kinds = list(dict.fromkeys(r.type for r in summary.layers))
        st.markdown("\n".join(f"- **{k}**: {tr(LAYER_EXPLAINED[k])}" for k in kinds if k in LAYER_EXPLAINED))
        st.dataframe(
            parameter_places_table(summary, tr=t),
            hide_index=True,
            column_config={
                "layer": tr("layer"),
                "type": tr("type"),
                "parameters": tr("parameters"),
                "share": tr("share"),
                "counted as": tr("counted as"),
            },
        )
        st.page_link(
            "pages/glossary.py",
            label=tr("The glossary: kernel, filter, channel, feature map, unit"),
            icon=":material/menu_book:",
        )


def _add_row(path: list[int], key: str, label: str, types: list[str]) -> None:
    a, b = st.columns([3, 1], vertical_alignment="bottom")
    a.selectbox(label, types, key=f"{key}-t", index=types.index("Conv2d"))
    b.button(label, icon=":material/add:", key=f"{key}-b", on_click=_insert, args=(path, f"{key}-t"))


def start_panel() -> None:
    """Start from a preset (fitted to the current dataset) or from scratch."""
    with st.container(border=True):
        c1, c2, c3 = st.columns([3, 1, 1], vertical_alignment="bottom")
        c1.selectbox(
            tr("Start from a preset"),
            list(PRESETS),
            key="build_preset",
            format_func=fixed_labels(lambda n: f"{n} — {tr(preset_description(n))}"),
        )
        # the callback reads the selectbox's key: a preset picked just before the click is the one loaded
        c2.button(
            tr("Load preset"),
            on_click=lambda: _set_draft(
                get_preset(st.session_state["build_preset"], num_classes=ds.num_classes, input_shape=ds.input_shape)
            ),
            type="primary",
        )
        c3.button(
            tr("From scratch"),
            on_click=lambda: _set_draft(
                {
                    "name": "my-cnn",
                    "input_shape": ds.input_shape,
                    "num_classes": ds.num_classes,
                    "layers": [_new_layer("Conv2d"), {"type": "ReLU"}, {"type": "Flatten"}, _new_layer("Linear")],
                }
            ),
        )
        st.caption(
            tr(
                "Presets are fitted to the current dataset, **{dataset}** ({shape}, {k} classes).",
                dataset=ds.name,
                shape="×".join(map(str, ds.input_shape)),
                k=ds.num_classes,
            )
        )


start_panel()
draft["input_shape"] = list(ds.input_shape)
draft["num_classes"] = ds.num_classes

left, right = st.columns([3, 2])
with left:
    st.subheader(tr("Layers"))
    st.caption(tr("input: {shape} · output: {k} classes", shape="×".join(map(str, ds.input_shape)), k=ds.num_classes))
    slots: dict[str, Any] = {}
    _layer_editor(draft["layers"], [], slots)

try:
    summary = summarize(draft)
except ValueError as e:  # SpecError and the like: all ValueErrors with a sentence
    summary = None
    (slots.get(e.layer or "") or left).error(f"⛔ {reason(e)}")


def summary_panel(summary: Summary | None) -> None:
    """The draft's summary: its parameters, cost and output, the shape flow and the layer table."""
    if summary is None:
        st.warning(
            tr("This network cannot be built as it is: fix the layer marked in red.")
            + " "
            + (tr("Your current model, **{name}**, stays usable.", name=ws.current) if ws.current else "")
        )
        return
    m = st.columns([1.5, 1.2, 0.8])  # wide enough for "1,234,567" on a 1280 px projector
    m[0].metric(tr("Parameters"), t.number(summary.total_params))
    m[1].metric(tr("Mult-adds"), tr("{n} M", n=t.number(summary.total_mult_adds / 1e6, 2)))
    m[2].metric(tr("Output"), "×".join(map(str, summary.output_shape)))
    st.plotly_chart(shape_flow(summary), key="flow", alt=describe_flow(summary, tr=t))
    st.dataframe(
        summary_rows(summary, tr=t),
        hide_index=True,
        height=min(38 * (len(summary.layers) + 1), 560),
        column_config={
            "layer": tr("layer"),
            "type": tr("type"),
            "output shape": tr("output shape"),
            "params": st.column_config.NumberColumn(tr("params"), format="localized"),
            "mult-adds": st.column_config.NumberColumn(tr("mult-adds"), format="localized"),
            "receptive field": tr("receptive field"),
        },
    )
    what_is_this(summary)


def create_panel(summary: Summary | None) -> str:
    """The model's name and the button that makes the draft the current model; returns the name."""
    with st.container(border=True):
        st.session_state.setdefault("build_name", draft.get("name") or "my-cnn")
        draft["name"] = name = st.text_input(tr("Model name"), key="build_name")
        exists = name in ws.models
        if st.button(
            tr("Replace model") if exists else tr("Create model"),
            type="primary",
            disabled=summary is None,
            help=tr("Makes this network the current model (fresh weights)."),
        ):
            try:
                if exists:
                    ws.remove(name)
                ws.add_model(copy.deepcopy(draft), name)
                flash(tr("**{name}** is the current model: train it on the Train page.", name=name))
                st.rerun()
            except ValueError as e:  # the workspace keeps the most models the server allows
                st.error(tr("Not created: {error}.", error=reason(e)))
    return name


def import_export_panel(summary: Summary | None, name: str) -> None:
    """The draft as a spec file, a PyTorch script or a notebook, and a spec file imported."""
    st.subheader(tr("Import / export"))
    if summary is not None:
        with st.container(horizontal=True):  # each button as wide as its words, wrapping in the narrow column
            spec_download(draft)
            if export_refusal(ds.name):
                st.caption(no_export_sentence(ds.name))
            else:  # written at the click (the spec on screen is valid: the summary above read it)
                cfg = st.session_state[TRAIN_CFG]
                st.download_button(
                    tr("PyTorch script (.py)"),
                    lambda: to_python(draft, cfg, ds.name),
                    icon=":material/download:",
                    file_name=f"{name or 'model'}.py",
                    mime="text/x-python",
                    on_click="ignore",
                )
            notebook_download(
                {**draft, "name": name or draft.get("name", "model")},
                st.session_state[TRAIN_CFG],
                ds.name,
                key="build-notebook",
            )
    up = file_upload(tr("Import a spec (JSON)"), ["json"], SPEC_UPLOAD, MAX_SPEC_BYTES)
    if up is not None:
        st.caption(tr("Ready: {file} ({n} bytes). Import replaces your layers with it.", file=up.name, n=t.number(up.size)))
    st.button(tr("Import"), on_click=_import_spec, disabled=st.session_state.get(SPEC_UPLOAD) is None)
    if st.session_state.get(IMPORT_ERROR):
        st.error(st.session_state.pop(IMPORT_ERROR))
    with st.expander(tr("Spec as JSON")):
        st.code(json.dumps(draft, indent=2), language="json")


with right:
    st.subheader(tr("Summary"))
    summary_panel(summary)
    name = create_panel(summary)
    import_export_panel(summary, name)
