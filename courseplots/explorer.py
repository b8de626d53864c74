"""The interactive momentum explorer: HTML and plain JavaScript, no library, no network, no kernel.

``momentum_explorer()`` returns the widget as ``IPython.display.HTML``; displayed in a notebook or
on a book page it runs the heavy ball on the valley in the reader's browser (momentum_explorer.js).
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

import numpy as np
from IPython.display import HTML

from .valley import VALLEY_START

SCRIPT = Path(__file__).with_name("momentum_explorer.js")
STYLE = """<style>
.momentum-explorer { font-family: sans-serif; font-size: 15px; max-width: 640px; margin: 0.5em 0; }
.momentum-explorer .mx-controls { display: grid; grid-template-columns: auto 1fr 4em; gap: 0.3em 0.8em; align-items: center; }
.momentum-explorer .mx-controls input[type=range] { width: 100%; }
.momentum-explorer .mx-presets { margin: 0.4em 0; display: flex; gap: 0.5em; flex-wrap: wrap; }
.momentum-explorer button { font-size: 14px; padding: 0.2em 0.7em; cursor: pointer; }
.momentum-explorer svg { display: block; width: 100%; height: auto; border: 1px solid #ddd; margin: 0.4em 0; touch-action: none; }
.momentum-explorer table { border-collapse: collapse; margin: 0.3em 0; }
.momentum-explorer td, .momentum-explorer th { padding: 0.15em 0.8em; border-bottom: 1px solid #ddd; text-align: left; }
</style>"""
# (label, alpha, beta): the settings the chapter discusses, one click away.
PRESETS = (
    ("optimal heavy ball", 0.668, 0.403),
    ("gradient descent", 0.476, 0.0),
    ("lr 0.1, momentum 0.9", 0.1, 0.9),
    ("zig-zag", 0.45, 0.05),
)


def explorer_markup(start=VALLEY_START, alpha: float = 0.668, beta: float = 0.403) -> str:
    """The widget's HTML: sliders, presets, the valley, the per-direction plot and the readout."""
    start = [float(x) for x in np.asarray(start, dtype=float)]
    presets = "".join(
        f'<button type="button" data-alpha="{a}" data-beta="{b}">{escape(label)}</button>' for label, a, b in PRESETS
    )
    return f"""<div class="momentum-explorer" data-start="{escape(json.dumps(start))}">
<div class="mx-controls">
<span>step α</span><input type="range" name="alpha" min="0.005" max="1.2" step="0.001" value="{alpha}" aria-label="step alpha"><output name="alpha"></output>
<span>momentum β</span><input type="range" name="beta" min="0" max="0.99" step="0.001" value="{beta}" aria-label="momentum beta"><output name="beta"></output>
</div>
<div class="mx-presets">{presets}</div>
<svg class="mx-valley" viewBox="0 0 600 400" role="img" aria-label="the heavy ball's path on the valley"></svg>
<svg class="mx-directions" viewBox="0 0 600 260" role="img" aria-label="the error along each eigen-direction"></svg>
<div class="mx-readout">(The explorer runs in the browser: open this page in the book or run the cell in Jupyter.)</div>
</div>"""


def momentum_explorer(start=VALLEY_START, alpha: float = 0.668, beta: float = 0.403) -> HTML:
    """The explorer, ready to ``display()``: markup, style and script in one self-contained block."""
    return HTML(f"{STYLE}\n{explorer_markup(start, alpha, beta)}\n<script>\n{SCRIPT.read_text()}\n</script>")
