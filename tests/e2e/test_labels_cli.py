"""``claimd labels RESULTS``: label sheets from an import's result file, as a user runs it — every QR
code printed decodes to its row, failed rows are skipped with exit code 1, bad input is exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from label_decoding import decoded_pages
from pngread import decode_qr_png


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "claimd", "labels", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def results(count: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for n in range(1, count + 1):
        link = f"https://claimd.example/claim?deviceName=meter-{n:04d}&secretKey=KEY{n:04d}XYZ"
        rows.append(
            {"row": n, "name": f"meter-{n:04d}", "claimKey": f"KEY{n:04d}XYZ", "claimLink": link, "error": None}
        )
    if count >= 5:
        rows[4] = {"row": 5, "name": "meter-0005", "error": "a device with this name exists"}
    return rows


def test_a_jsonl_result_file_prints_every_good_row_and_says_what_it_skipped(tmp_path: Path) -> None:
    rows = results(32)
    (tmp_path / "run.results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    done = run("run.results.jsonl", "--sheet", "letter-3x10", "--out", "sheet.pdf", cwd=tmp_path)
    assert done.returncode == 1, done.stderr  # one row failed in the import: nothing to print for it
    assert "31 labels on letter-3x10" in done.stdout and "1 rows skipped" in done.stdout
    pages = decoded_pages((tmp_path / "sheet.pdf").read_bytes())
    expected = [r["claimLink"] for r in rows if not r.get("error")]
    assert [len(p) for p in pages] == [30, 1]
    assert set().union(*pages) == set(expected)


def test_a_csv_result_file_and_the_fields_choice(tmp_path: Path) -> None:
    lines = ["row,name,claimCode,qrText,error"] + [
        f"{n},lw-{n},C0DE{n:04d},LW:D0:70B3D57ED0000000:A0000000000000{n:02d}:0000000{n}:OC0DE{n:04d},"
        for n in range(1, 4)
    ]
    (tmp_path / "lw.csv").write_text("\n".join(lines) + "\n")
    done = run("lw.csv", "--sheet", "roll-2x1", "--out", "roll.pdf", "--fields", "name", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [len(p) for p in decoded_pages((tmp_path / "roll.pdf").read_bytes())] == [1, 1, 1]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["missing.jsonl"], "missing.jsonl"),
        (["ok.jsonl", "--sheet", "a5-1x1"], "--sheet is one of"),
        (["ok.jsonl", "--fields", "secret"], "--fields of"),
        (["bad.jsonl"], "line 1"),
    ],
)
def test_bad_input_is_exit_code_2_with_what_to_fix(tmp_path: Path, args: list[str], says: str) -> None:
    (tmp_path / "ok.jsonl").write_text(json.dumps(results(1)[0]) + "\n")
    (tmp_path / "bad.jsonl").write_text("[1, 2]\n")
    done = run(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert says in done.stderr
    assert not (tmp_path / "labels.pdf").exists()


def test_a_reprint_of_some_rows_and_one_label_as_png_or_svg(tmp_path: Path) -> None:
    rows = results(40)
    (tmp_path / "run.results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    done = run("run.results.jsonl", "--rows", "31-40", "--out", "reprint.pdf", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "10 labels on a4-3x8" in done.stdout
    assert decoded_pages((tmp_path / "reprint.pdf").read_bytes()) == [{r["claimLink"] for r in rows[30:]}]
    assert (tmp_path / "reprint.pdf").stat().st_mode & 0o777 == 0o600  # labels carry claim keys

    done = run("run.results.jsonl", "--rows", "7", "--out", "one.png", cwd=tmp_path)
    assert done.returncode == 0 and "1 label on PNG" in done.stdout, done.stderr
    assert decode_qr_png((tmp_path / "one.png").read_bytes()) == [rows[6]["claimLink"]]
    done = run("run.results.jsonl", "--rows", "7", "--out", "one.svg", "--json", cwd=tmp_path)
    assert json.loads(done.stdout) == {"labels": 1, "skipped": 0, "sheet": "SVG", "out": "one.svg"}
    svg = (tmp_path / "one.svg").read_text()
    assert done.returncode == 0 and "<svg" in svg[:200] and "meter-0007" in svg and "KEY0007XYZ" in svg

    for args, says in (
        (["--rows", "7-9", "--out", "many.png"], "holds one label, but 3 rows have one"),
        (["--rows", "9-7"], "--rows is a row number or a range"),
        (["--out", "labels.txt"], "--out ends in .pdf, .png or .svg"),
    ):
        done = run("run.results.jsonl", *args, cwd=tmp_path)
        assert done.returncode == 2 and says in done.stderr, (args, done.stderr)
