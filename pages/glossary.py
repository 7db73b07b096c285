"""Glossary: the course's words, one meaning each, and what every layer type does."""

from __future__ import annotations

import streamlit as st

from explorer.lessons import GLOSSARY, LAYER_EXPLAINED
from pages._lang import tr
from pages._server import leave_legacy_pages_routing  # noqa: E402

leave_legacy_pages_routing()  # its address typed into a freshly started server: run it through app.py

st.title(tr("Glossary"))
st.caption(tr("One meaning per word, as every page of this app uses it."))
for term, meaning in GLOSSARY.items():
    st.markdown(f"**{tr(term)}**: {tr(meaning)}")
st.subheader(tr("The layers"))
for kind, meaning in LAYER_EXPLAINED.items():
    st.markdown(f"**{kind}**: {tr(meaning)}")
