"""gpa_toy/tools/learning_curves.py: reading metrics.json, the table, the plot, and refusals."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "gpa_toy" / "tools"))
import learning_curves  # noqa: E402


def write_run(folder: Path, losses: list[float]) -> Path:
    folder.mkdir(parents=True)
    lines = [json.dumps({"iteration": 19 + 20 * i, "total_loss": v, "loss_ce": v / 2, "lr": 1e-3})
             for i, v in enumerate(losses)]
    lines.insert(1, json.dumps({"iteration": 30, "gpa_toy_val/sem_seg/mIoU": 40.0}))  # an evaluation row
    (folder / "metrics.json").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_table_and_plot(tmp_path, capsys):
    a = write_run(tmp_path / "a", [10.0, 8.0, 6.0, 5.0, 4.0])
    b = write_run(tmp_path / "b", [9.0, 7.0, 5.0, 4.0, 3.0])
    text = learning_curves.main([f"{a}=high lr", str(b), "--output", str(tmp_path / "curves.png"), "--every", "40"])
    rows = [line for line in text.splitlines() if line.startswith("| high lr")]
    # rows at the logged iterations nearest 39 and 79, then the last (99); iterations shown 1-based
    assert [r.split("|")[2].strip() for r in rows] == ["40", "80", "100"]
    assert rows[0].split("|")[3].strip() == "8.00" and rows[0].split("|")[4].strip() == "4.00"
    assert rows[0].split("|")[5].strip() == "-"  # loss_mask was not logged
    assert any(line.startswith("| b |") for line in text.splitlines())
    assert (tmp_path / "curves.png").stat().st_size > 1000
    assert "plot:" in capsys.readouterr().out


def test_refuses_a_folder_without_metrics(tmp_path):
    with pytest.raises(FileNotFoundError, match="metrics.json does not exist; give the OUTPUT_DIR"):
        learning_curves.main([str(tmp_path), "--output", str(tmp_path / "x.png")])


def test_refuses_a_run_without_training_rows(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps({"iteration": 0, "x": 1}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="holds no training rows"):
        learning_curves.main([str(tmp_path), "--output", str(tmp_path / "x.png")])


def test_names_a_broken_line(tmp_path):
    (tmp_path / "metrics.json").write_text('{"iteration": 0, "total_loss": 1}\n{broken\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"metrics.json, line 2: not JSON"):
        learning_curves.main([str(tmp_path), "--output", str(tmp_path / "x.png")])


def test_latest_run_replaces_what_a_rerun_or_a_resume_repeats():
    first = [{"iteration": i, "total_loss": 10.0} for i in (19, 39, 59, 79)]
    rerun = [{"iteration": i, "total_loss": 1.0} for i in (19, 39)]
    assert learning_curves.latest_run(first + rerun) == rerun  # trained again from scratch: only the new run
    resumed = [{"iteration": i, "total_loss": 2.0} for i in (49, 59, 69)]
    assert learning_curves.latest_run(first + resumed) == first[:2] + resumed  # resumed after iteration 40


def test_reads_the_last_of_two_runs_appended_to_one_metrics_file(tmp_path):
    run = write_run(tmp_path / "run", [10.0, 8.0, 6.0, 5.0, 4.0])
    with (run / "metrics.json").open("a", encoding="utf-8") as f:  # the same OUTPUT_DIR trained again, 3 rows
        for i, v in enumerate([3.0, 2.0, 1.0]):
            f.write(json.dumps({"iteration": 19 + 20 * i, "total_loss": v}) + "\n")
    rows = learning_curves.read_metrics(run)
    assert [(r["iteration"], r["total_loss"]) for r in rows] == [(19, 3.0), (39, 2.0), (59, 1.0)]
