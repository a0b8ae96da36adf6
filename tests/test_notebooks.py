"""The lesson notebooks (``notebooks/*.ipynb``) run top to bottom and show what they claim.

Each notebook is executed afresh with nbclient (the stored file is left untouched), and
both the fresh outputs and the outputs stored in the file (what GitHub renders) are
checked for the lesson's numbers. Needs the ``notebooks`` extra: nbclient, nbformat,
ipykernel and matplotlib; the module is skipped, saying which are missing, without them.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path

import pytest

_NEEDED = ("nbclient", "nbformat", "ipykernel", "matplotlib")
_MISSING = [name for name in _NEEDED if importlib.util.find_spec(name) is None]
if _MISSING:
    pytest.skip(f"the notebook tests need {', '.join(_MISSING)} "
                "(install the 'notebooks' extra: pip install -e '.[notebooks]')",
                allow_module_level=True)

import nbformat  # noqa: E402
from nbclient import NotebookClient  # noqa: E402
from nbclient.exceptions import CellExecutionError  # noqa: E402

pytestmark = pytest.mark.slow

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = ("01_backprop", "02_convolution", "03_pooling", "04_cnn", "05_performance")
CELL_TIMEOUT = 300  # seconds, per cell

_executed: dict[str, object] = {}


def _stored(name: str):
    return nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)


def _execute(name: str):
    """Runs a fresh copy of the notebook in NOTEBOOK_DIR (for its relative data paths),
    once per test session, with a kernel on this interpreter's PATH."""
    if name not in _executed:
        nb = _stored(name)
        env = dict(os.environ)
        env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
        client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                record_timing=False,
                                resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
        try:
            client.execute(env=env)
        except CellExecutionError as e:
            pytest.fail(f"notebooks/{name}.ipynb failed:\n{e}", pytrace=False)
        _executed[name] = nb
    return _executed[name]


def _notebook(name: str, source: str):
    return _stored(name) if source == "stored" else _execute(name)


def _outputs(nb, mime: str) -> list[str]:
    """Every output of the code cells with the given MIME type (streams: 'stream')."""
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if mime == "stream" and out.output_type == "stream":
                found.append(out.text)
            elif mime in out.get("data", {}):
                found.append(out.data[mime])
    return found


def _text(nb) -> str:
    return "\n".join(_outputs(nb, "stream") + _outputs(nb, "text/plain"))


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_top_to_bottom(name):
    nb = _execute(name)
    errors = [out for cell in nb.cells for out in cell.get("outputs", [])
              if out.output_type == "error"]
    assert not errors


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_outputs_are_stored_in_order(name):
    """The files carry their outputs (GitHub renders them), from one clean run."""
    cells = [c for c in _stored(name).cells if c.cell_type == "code"]
    counts = [c.execution_count for c in cells]
    assert counts == list(range(1, len(cells) + 1)), (
        f"notebooks/{name}.ipynb: store the outputs of one top-to-bottom run "
        "(execute it with nbclient or 'Restart & Run All' and save)")
    assert not [o for c in cells for o in c.outputs if o.output_type == "error"]


def _svg_nodes(svg: str) -> dict[str, tuple[str, ...]]:
    """{node name: (value, gradient?)} from draw_graph's SVG: a bold name text, then
    the value (green) and, with show_grads, the gradient (red)."""
    nodes = {}
    for block in svg.split("<rect ")[1:]:
        texts = re.findall(r"<text [^>]*>([^<]*)</text>", block)
        nodes[texts[0]] = tuple(texts[1:])
    return nodes


@pytest.mark.parametrize("source", ["stored", "executed"])
def test_backprop_graph_shows_values_then_gradients(source):
    nb = _notebook("01_backprop", source)
    svgs = [_svg_nodes(s) for s in _outputs(nb, "image/svg+xml")]
    assert len(svgs) == 2, "expected the forward graph, then the graph with gradients"
    forward, backward = svgs
    assert forward == {"x": ("-2",), "y": ("5",), "z": ("-4",), "q": ("3",), "f": ("-12",)}
    assert backward == {"x": ("-2", "-4"), "y": ("5", "-4"), "z": ("-4", "3"),
                        "q": ("3", "-4"), "f": ("-12", "1")}
    text = _text(nb)
    assert "df/dx, df/dy, df/dz = -4.0 -4.0 3.0" in text
    assert "in (f, f, e) }" in text  # make_jaxpr(grad(f)): backward after forward, as JAX
    assert "dW matches X^T delta:   True" in text


@pytest.mark.parametrize("source", ["stored", "executed"])
def test_convolution_shapes_and_edge_maps(source):
    nb = _notebook("02_convolution", source)
    text = _text(nb)
    assert "valid:  (5, 7, 48, 48)" in text
    assert "padded: (5, 7, 50, 50)" in text
    assert "'SAME' is the same padding: True" in text
    for stride, pad, size in [(1, (0, 0), 48), (1, (1, 1), 50), (2, (0, 0), 24),
                              (2, (1, 1), 25), (3, (0, 0), 16)]:
        assert (f"stride {stride}, padding {pad}: formula {size}, "
                f"lax shape (5, 7, {size}, {size})") in text
    assert "equals output channel 0: True" in text
    assert "edge maps: (2, 60, 60)" in text
    assert "lax.conv agrees: True" in text
    assert "each weight's gradient sums the pixels it saw: True" in text
    assert _outputs(nb, "image/png"), "the Sobel edge maps are not plotted"


@pytest.mark.parametrize("source", ["stored", "executed"])
def test_pooling_values_and_gradients(source):
    nb = _notebook("03_pooling", source)
    text = _text(nb)
    assert "max pool: [[5.0, 7.0], [13.0, 15.0]]" in text
    assert "stax MaxPool: [[5.0, 7.0], [13.0, 15.0]]" in text
    assert "gradient is 1 at the values: [5.0, 7.0, 13.0, 15.0]" in text
    assert "max pool: [[3.0, 3.0], [0.0, 4.0]]" in text  # the tie example
    assert "gradient per window: [1.0, 1.0, 1.0, 1.0]" in text
    assert "avg pool: [[2.5, 4.5], [10.5, 12.5]]" in text
    change = re.search(r"shift 1 px: raw pixels change by ([\d.]+), "
                       r"max-pooled maps by ([\d.]+)", text)
    assert change and float(change[2]) < float(change[1]) / 2
    assert len(_outputs(nb, "image/png")) >= 2


@pytest.mark.parametrize("source", ["stored", "executed"])
def test_cnn_vgg16_table_and_training(source):
    nb = _notebook("04_cnn", source)
    text = _text(nb)
    assert re.search(r"^total\s+138,357,544\s", text, re.M)
    assert re.search(r"^dense-4096\s+\(1, 4096\)\s+102,764,544\s", text, re.M)
    accuracy = re.search(r"test accuracy: ([\d.]+)%", text)
    assert accuracy and float(accuracy[1]) > 85
    assert len(_outputs(nb, "image/png")) >= 2  # loss curve, predictions


@pytest.mark.parametrize("source", ["stored", "executed"])
def test_performance_profile_and_roofline(source):
    nb = _notebook("05_performance", source)
    text = _text(nb)
    assert "train: (1500, 28, 28, 1)  test: (297, 28, 28, 1)" in text
    accuracy = re.search(r"test accuracy: ([\d.]+)%", text)
    assert accuracy and float(accuracy[1]) > 85
    # 2 N H W O C K K for the second convolution, derived in the notebook's text
    assert f"second convolution: {2 * 64 * 14 * 14 * 64 * 32 * 9:,} FLOPs" in text
    assert "hand count equals the profile: True" in text
    assert "every step profiled: True" in text
    ceilings = re.search(r"compute: (\d+) GFLOP/s   memory: (\d+) GB/s", text)
    assert ceilings and int(ceilings[1]) > 0 and int(ceilings[2]) > 0
    # the FLOP shares do not depend on timing: the convolutions do nearly all of the work
    conv = re.search(r"^conv\s+5\s+\d+%\s+(\d+)%", text, re.M)
    assert conv and int(conv[1]) >= 85
    assert "conv_grad_filter" in text and "conv_grad_input" in text
    assert _outputs(nb, "image/png"), "the roofline chart is not stored"
