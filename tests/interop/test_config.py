"""The config is checked at load: `armature check-config` and `armature serve` refuse a bad
[confirm] table with the file and line, before anything listens or moves."""

import subprocess

import pytest

from conftest import armature_bin

HEAD = 'robot = "builtin:ur5e"\nactions = "builtin:example-cell"\n[backend]\nkind = "sim"\n[confirm]\n'

# (the [confirm] body, its line in the file, what the refusal says after "file:line: ")
BROKEN = [
    ('[confirm.actions]\nmove_joint = "always"', 7,
     'confirm.actions.move_joint = "always": no tool is named move_joint (did you mean move_joints?); '
     'the tools are move_joints, move_to, home,'),
    ("beyond_rad = nan", 6,
     "confirm.beyond_rad = NaN: must be above 0 and at most 12.5664 rad, the widest joint range of UR5e"),
    ("expire_s = -1", 6, "confirm.expire_s = -1: must be above 0 and at most 3600 s (one hour)"),
    ("beyond_speed = 1.5", 6, "confirm.beyond_speed = 1.5: must be in (0, 1]"),
]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([armature_bin(), *args], capture_output=True, text=True, timeout=20)


@pytest.mark.parametrize("body,line,says", BROKEN, ids=[b[0].splitlines()[-1] for b in BROKEN])
def test_a_bad_confirm_table_is_refused_with_file_and_line(tmp_path, body, line, says):
    config = tmp_path / "c.toml"
    config.write_text(HEAD + body + "\n")
    check = run("check-config", "--config", str(config))
    assert check.returncode == 1 and check.stdout == "", check
    assert f"armature: {config}:{line}: {says}" in check.stderr, check.stderr

    serve = run("serve", "--http", "127.0.0.1:0", "--config", str(config), "--state-dir", str(tmp_path / "state"))
    assert serve.returncode == 1, serve
    assert f"{config}:{line}: {says}" in serve.stderr, serve.stderr
    assert "is listening" not in serve.stderr
    assert not (tmp_path / "state").exists()


def test_confirm_actions_may_name_a_custom_action(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(HEAD + 'expire_s = 30\n[confirm.actions]\nmove_joints = "beyond"\npick_and_place = "always"\n')
    check = run("check-config", "--config", str(config))
    assert check.returncode == 0, check.stderr
    assert check.stdout.startswith(f"{config}: ok (UR5e with 6 joints, backend Sim, 5 named positions)"), check.stdout


def test_a_bad_cell_file_is_refused_with_its_field_and_line(tmp_path):
    (tmp_path / "cell.toml").write_text(
        '[cell]\nname = "bench"\n\n[[cell.keep_out]]\nname = "fixture"\n'
        "min = [0.3, 0.3, 0.0]\nmax = [0.2, 0.6, 0.4]\n"
    )
    config = tmp_path / "c.toml"
    config.write_text('robot = "builtin:ur5e"\ncell = "cell.toml"\n[backend]\nkind = "sim"\n')
    check = run("check-config", "--config", str(config))
    assert check.returncode == 1 and check.stdout == "", check
    assert f"cell {tmp_path / 'cell.toml'}: cell.keep_out[0].min (line 6): x min 0.3 m must be below max 0.2 m" in check.stderr, check.stderr
