"""`minioptim reproduce scale-free`: the figure's data says what the talk claims."""
import csv
import json

import numpy as np
import pytest

from minioptim import cli


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    import autodiff as ad
    ad.set_backend("numpy")  # host-side experiment; its optimizers are tested on every backend
    out = tmp_path_factory.mktemp("scale_free")
    assert cli.main(["reproduce", "scale-free", "--out", str(out), "--seed", "3"]) == 0
    paths = json.loads((out / "scale_free_paths.json").read_text())["paths"]
    curves = {}
    with open(out / "scale_free_curves.csv") as f:
        for row in csv.DictReader(f):
            curves.setdefault(row["method"], []).append(float(row["f_minus_fstar"]))
    return out, {k: np.array(v) for k, v in paths.items()}, {k: np.array(v) for k, v in curves.items()}


def test_all_files_are_written(outputs):
    out, paths, curves = outputs
    assert (out / "scale_free.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    names = {"GD", "Adam", "AdaGrad", "Lion"}
    expected = names | {n + " + preconditioning" for n in names}
    assert set(paths) == expected and set(curves) == expected
    assert not list(out.glob(".*.part"))           # nothing half-written left behind


@pytest.mark.parametrize("name", ["Adam", "AdaGrad", "Lion"])
def test_scale_free_methods_draw_the_same_path_with_and_without_preconditioning(outputs, name):
    _, paths, curves = outputs
    np.testing.assert_allclose(paths[name], paths[name + " + preconditioning"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(curves[name], curves[name + " + preconditioning"], rtol=1e-9, atol=1e-12)


def test_gd_zigzags_and_crawls_but_runs_straight_when_preconditioned(outputs):
    _, paths, curves = outputs
    gd, pre = paths["GD"], paths["GD + preconditioning"]
    steep = np.diff(gd[:, 1] - 1.0)                  # the steep coordinate (curvature 50)
    assert (np.sign(gd[1:20, 1] - 1.0) != np.sign(gd[:19, 1] - 1.0)).mean() > 0.9   # zig-zag
    assert abs(steep[0]) > 0.5
    # preconditioned: every iterate on the line through x0 and x* = (1, 1)
    d = pre - 1.0
    cross = d[:, 0] * d[0, 1] - d[:, 1] * d[0, 0]
    assert np.abs(cross).max() < 1e-9
    # on the 50-d problem with condition number 1e4, GD is far from done; preconditioned it is
    assert curves["GD"][-1] > 1e-2 and curves["GD + preconditioning"][-1] < 1e-12


def test_help_lists_what_can_be_reproduced(capsys):
    with pytest.raises(SystemExit):
        cli.main(["reproduce", "--help"])
    assert "scale-free" in capsys.readouterr().out
