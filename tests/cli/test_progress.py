"""Progress of `vsray up` on a pseudo-terminal of a given size, and without escape codes.

stderr is a pty whose size is set with TIOCSWINSZ (stdout stays a pipe, as when the table is
piped on). A small terminal emulation follows the cursor row through the output: the redrawn
block must never grow past the terminal's height (else it scrolls and redraws pile up).
"""

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time

import pytest

from simharness import start_vsray_sim, stop_vsray_sim, vsray_binary

WORKERS = 12


@pytest.fixture
def sim12(tmp_path):
    cluster = start_vsray_sim(tmp_path, workers=WORKERS)
    yield cluster
    stop_vsray_sim(cluster)


def run_on_pty(args, home, rows, cols=100, env=None, timeout=180):
    """Runs vsray with stderr on a rows x cols pty; returns (exit code, stdout, pty bytes)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "TERM": "xterm"}
    full_env.update(env or {})
    proc = subprocess.Popen([vsray_binary(), *map(str, args)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=slave, env=full_env)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1.0)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the pty
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    stdout = proc.communicate(timeout=max(1, deadline - time.monotonic()))[0]
    return proc.returncode, stdout.decode(), out.decode("utf-8", "replace")


def rows_spanned(text):
    """The rows the output spans (the cursor's lowest row minus its highest, plus one), following
    newlines and the cursor-up-N-lines sequence (ESC [ N F) that progress uses."""
    row = top = bottom = 0
    for match in re.finditer(r"\x1b\[(\d*)([A-Za-z])|\n", text):
        if match.group(0) == "\n":
            row += 1
        elif match.group(2) in "FA":
            row -= int(match.group(1) or 1)
        top, bottom = min(top, row), max(bottom, row)
    return bottom - top + 1


def test_many_nodes_on_a_short_terminal_stay_within_it(sim12, tmp_path):
    code, stdout, screen = run_on_pty(["up", sim12.config, "--yes", "--no-wait"], tmp_path, rows=8)
    assert code == 0, screen
    assert f"{WORKERS + 1} VM(s): " in screen and " \u00b7 " in screen  # counts per state
    assert re.search(r"cloning \d+", screen) and re.search(r"created \d+", screen), screen
    assert rows_spanned(screen) <= 8, screen
    assert re.search(r"vsray \[\d+s\]", screen)  # elapsed time
    assert "connecting to vCenter https://127.0.0.1:" in screen
    assert stdout.count("ray-clitest-worker") == WORKERS  # the table still lists every node


def test_nodes_that_fit_get_a_line_each(sim12, tmp_path):
    code, _, screen = run_on_pty(["up", sim12.config, "--yes", "--no-wait"], tmp_path, rows=40)
    assert code == 0, screen
    assert " \u00b7 " not in screen  # no counts: every node has its line
    last = screen[screen.rindex("\x1b[J"):]  # the last frame
    lines = [line for line in last.splitlines() if "ray-clitest-" in line]
    assert len(lines) == WORKERS + 1 and all(line.rstrip().endswith("created") for line in lines), last
    assert rows_spanned(screen) <= 40


def test_lines_never_wrap_on_a_narrow_terminal(sim12, tmp_path):
    code, _, screen = run_on_pty(["up", sim12.config, "--yes", "--no-wait"], tmp_path, rows=40,
                                 cols=24)
    assert code == 0, screen
    frames = re.sub(r"\x1b\[\d*[A-Za-z]", "", screen)
    assert max(len(line) for line in re.split(r"[\r\n]", frames)) <= 23, frames  # \r: column 0


@pytest.mark.parametrize("env", [{"TERM": "dumb"}, {"NO_COLOR": "1"}], ids=["TERM=dumb", "NO_COLOR"])
def test_no_escape_codes_when_told(sim12, tmp_path, env):
    code, _, screen = run_on_pty(["up", sim12.config, "--yes", "--no-wait"], tmp_path, rows=8,
                                 env=env)
    assert code == 0, screen
    assert "\x1b" not in screen, screen
    assert re.search(r"vsray: ray-clitest-head-\S+: cloning \(\d+s\)", screen), screen
    assert "connecting to vCenter https://127.0.0.1:" in screen
