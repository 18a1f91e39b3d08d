"""What a page says, as its reader sees it, for the Arabic tests: every text of every
element AppTest drew (headings, Markdown, alerts, metrics, widget labels and options,
help, table headers and cells, chart titles, axes and legends), and the English words
left in it outside the left-to-right islands (ops.i18n.ltr)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from google.protobuf.message import Message
from streamlit.testing.v1 import AppTest

from ops.i18n import LEFT_TO_RIGHT_ISOLATE, POP_DIRECTIONAL_ISOLATE

# Proto fields that hold no text a person reads: ids, keys, icons, types, styles, raw data.
_NOT_TEXT = frozenset({"id", "form_id", "key", "icon", "type", "format", "data", "spec",
                       "config", "theme", "dataframe_spec", "url", "src", "selection_mode",
                       "width", "height", "default", "value", "sizes", "style", "name",
                       "element_hash", "fragment_id", "widget_id", "column_config",
                       "editing_mode", "height_config", "width_config", "delta_color",
                       "anchor", "label_visibility", "color", "page_script_hash",
                       "url_pathname", "icon_position", "html", "unsafe_allow_javascript"})
_ISLAND = re.compile(f"{LEFT_TO_RIGHT_ISOLATE}[^{POP_DIRECTIONAL_ISOLATE}]*"
                     f"{POP_DIRECTIONAL_ISOLATE}")
_WORD = re.compile(r"[A-Za-z]{2,}")
_MARKDOWN_ICON = re.compile(r":material/[a-z_]+:|:[a-z]+-badge\[|:[a-z]+\[")


def _proto_texts(message: Message) -> Iterator[str]:
    for field, value in message.ListFields():
        if field.name in _NOT_TEXT:
            continue
        repeated = not isinstance(value, str | bytes | Message) and hasattr(value, "__len__")
        values = value if repeated else [value]
        for item in values:
            if isinstance(item, Message):
                yield from _proto_texts(item)
            elif isinstance(item, str):
                yield item


def _chart_texts(spec: str) -> Iterator[str]:
    """A Plotly figure's titles, axis titles, legend title and trace names."""
    figure = json.loads(spec)
    layout = figure.get("layout", {})
    for key, part in layout.items():
        if key == "title" or key.startswith(("xaxis", "yaxis", "legend")):
            title = part.get("title") if isinstance(part, dict) else None
            if key == "title":
                title = part
            if isinstance(title, dict):
                yield str(title.get("text") or "")
            elif isinstance(title, str):
                yield title
    for annotation in layout.get("annotations", []):
        yield str(annotation.get("text") or "")
    for trace in figure.get("data", []):
        if trace.get("showlegend", True) and trace.get("name"):
            yield str(trace["name"])


def _frame_texts(node: Any) -> Iterator[str]:
    frame = node.value
    yield from (str(column) for column in frame.columns)
    for column in frame.columns:
        yield from (cell for cell in frame[column] if isinstance(cell, str))


def texts(app: AppTest) -> list[str]:
    """Every text the reader of the page sees (see the module's docstring)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        proto = getattr(node, "proto", None)
        kind = type(node).__name__
        if kind == "PlotlyChart" or type(proto).__name__ == "PlotlyChart":
            found.extend(_chart_texts(proto.spec))
        elif kind == "Dataframe":
            found.extend(_frame_texts(node))
        elif kind == "Html":
            pass  # scripts and styles (the document's direction), no text
        elif isinstance(proto, Message):
            found.extend(_proto_texts(proto))
        children = getattr(node, "children", {})
        for child in (children.values() if isinstance(children, dict) else children):
            walk(child)

    walk(app._tree)
    return [text for text in found if text.strip()]


def english_outside_islands(app: AppTest) -> list[str]:
    """The texts of the page with an English word outside a left-to-right island."""
    left = []
    for text in texts(app):
        bare = _MARKDOWN_ICON.sub("", _ISLAND.sub("", text))
        if _WORD.search(bare):
            left.append(text)
    return left
