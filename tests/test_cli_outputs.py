"""Outputs never destroy a file: links, named pipes, devices and inputs named as outputs.

The command line runs in subprocesses on files made here, in a temporary
folder: symbolic links, named pipes (``os.mkfifo``), a Unix socket, and a link
to ``/dev/null`` as the stand-in for a device (only ever written through, and
checked to be a character device still afterwards). Nothing is created under
the real ``/dev``.
"""

import os
import socket
import stat
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from prmlnet import modelfile

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def cli(*args, stdout=subprocess.PIPE):
    return subprocess.Popen([sys.executable, "-m", "prmlnet.cli", *map(str, args)], text=False,
                            stdout=stdout, stderr=subprocess.PIPE)


def finish(p, timeout=60):
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out, err.decode()


def run(*args):
    return finish(cli(*args))


def one_line_error(rc, err, *fragments):
    assert rc != 0, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("prmlnet: error:"), err
    for f in fragments:
        assert f in lines[0], lines[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A regression CSV and a model file fitted on it (in this process: quicker)."""
    from prmlnet import MLPRegressor

    d = tmp_path_factory.mktemp("outputs")
    rng = np.random.default_rng(3)
    X = rng.standard_normal((30, 2))
    rows = "".join(f"{float(a)!r},{float(b)!r},{float(np.sin(a))!r}\n" for a, b in X)
    (d / "v.csv").write_text("a,b,y\n" + rows)
    est = MLPRegressor(hidden_layer_sizes=(3,), max_iter=5, random_state=0).fit(X, np.sin(X[:, 0]))
    mf = est.to_model_file()
    mf.meta["cli"] = {"train_file": "v.csv", "targets": ["y"], "features": ["a", "b"],
                      "task": "regression"}
    modelfile.save(d / "m.npz", mf)
    return d


def snapshot(path):
    return path.read_bytes()


def test_an_output_onto_a_link_replaces_the_links_target_and_keeps_the_link(files, tmp_path):
    target = tmp_path / "real.npz"
    target.write_bytes(b"old")
    link = tmp_path / "link.npz"
    link.symlink_to(target)
    rc, _, err = run("predict", files / "m.npz", files / "v.csv", "-o", link)
    assert rc == 0, err
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text().splitlines()[0] == "y"
    modelfile.save(link, modelfile.load(files / "m.npz"))
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert modelfile.load(target).kind == "MLPRegressor"


def test_a_link_to_a_character_device_is_written_through_never_replaced(files, tmp_path):
    before = os.stat("/dev/null")
    assert stat.S_ISCHR(before.st_mode)
    link = tmp_path / "sink"
    link.symlink_to("/dev/null")
    rc, _, err = run("fit", files / "v.csv", "-t", "y", "--max-iter", "3", "-q", "-o", link)
    assert rc == 0, err
    modelfile.save(link, modelfile.load(files / "m.npz"))      # the Python API too
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev
    assert link.is_symlink() and os.readlink(link) == "/dev/null"


def _reader(path, into):
    with open(path, "rb") as f:
        into.append(f.read())


def test_a_named_pipe_with_a_reader_receives_the_output_and_stays_a_pipe(files, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=_reader, args=(fifo, got), daemon=True)
    reader.start()
    rc, _, err = run("predict", files / "m.npz", files / "v.csv", "-o", fifo)
    reader.join(30)
    assert rc == 0, err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    lines = got[0].decode().splitlines()
    assert lines[0] == "y" and len(lines) == 31


def test_a_model_streamed_into_a_named_pipe_arrives_whole(files, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=_reader, args=(fifo, got), daemon=True)
    reader.start()
    mf = modelfile.load(files / "m.npz")
    for _ in range(200):                 # until the reader thread has opened its end
        try:
            modelfile.save(fifo, mf)
            break
        except ValueError as e:
            assert "no process is reading" in str(e)
            time.sleep(0.02)
    reader.join(30)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    copy = tmp_path / "copy.npz"
    copy.write_bytes(got[0])
    assert np.array_equal(modelfile.load(copy).w, mf.w)    # a complete archive, streamed


def test_a_named_pipe_nobody_reads_is_refused_without_hanging(files, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    rc, _, err = run("predict", files / "m.npz", files / "v.csv", "-o", fifo)
    one_line_error(rc, err, "named pipe", "no process is reading")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_socket_or_a_folder_is_refused_before_any_work(files, tmp_path):
    sock_path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(sock_path))
        folder_link = tmp_path / "dirlink"
        folder_link.symlink_to(tmp_path)
        r1 = cli("fit", files / "v.csv", "-t", "y", "-o", sock_path)
        r2 = cli("predict", files / "m.npz", files / "v.csv", "-o", folder_link)
        rc, _, err = finish(r1)
        one_line_error(rc, err, "socket")
        assert "training" not in err
        rc, _, err = finish(r2)
        one_line_error(rc, err, "folder")
        assert stat.S_ISSOCK(os.lstat(sock_path).st_mode)


def test_standard_output_appended_by_the_shell_keeps_what_was_there(files, tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("kept\n")
    with open(log, "ab") as f:
        rc, _, err = finish(cli("predict", files / "m.npz", files / "v.csv", "-o", "/dev/stdout",
                                stdout=f))
    assert rc == 0, err
    lines = log.read_text().splitlines()
    assert lines[:2] == ["kept", "y"] and len(lines) == 32


# -- an output that is an input ---------------------------------------------------
def test_fit_refuses_to_write_the_model_over_its_training_data(files, tmp_path):
    data = tmp_path / "v.csv"
    data.write_bytes(snapshot(files / "v.csv"))
    hard = tmp_path / "hard.csv"
    os.link(data, hard)
    soft = tmp_path / "soft.csv"
    soft.symlink_to(data)
    before = snapshot(data)
    procs = [cli("fit", data, "-t", "y", "-o", data),
             cli("fit", data, "-t", "y", "-o", hard),          # the same inode, another name
             cli("fit", soft, "-t", "y", "-o", data),          # through a link
             cli("fit", data, "-t", "y", "-o", tmp_path / "." / "v.csv")]
    for p in procs:
        rc, _, err = finish(p)
        one_line_error(rc, err, "is the input file", "destroy the input")
        assert "training" not in err                       # refused before any work
    assert snapshot(data) == before and snapshot(hard) == before and soft.is_symlink()


def test_predict_refuses_to_write_over_the_model_or_the_data(files, tmp_path):
    model, data = tmp_path / "m.npz", tmp_path / "v.csv"
    model.write_bytes(snapshot(files / "m.npz"))
    data.write_bytes(snapshot(files / "v.csv"))
    m0, d0 = snapshot(model), snapshot(data)
    procs = [cli("predict", model, data, "-o", model), cli("predict", model, data, "-o", data)]
    for p in procs:
        rc, _, err = finish(p)
        one_line_error(rc, err, "is the input file")
    assert snapshot(model) == m0 and snapshot(data) == d0


def test_output_plan_of_each_kind_of_path(tmp_path):
    plan = modelfile.output_plan
    regular = tmp_path / "r"
    regular.write_text("x")
    assert plan(regular) == ("replace", str(regular))
    assert plan(tmp_path / "new") == ("replace", str(tmp_path / "new"))
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "later")
    assert plan(dangling) == ("replace", str(tmp_path / "later"))
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    assert plan(fifo) == ("direct", str(fifo))
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(ValueError, match="cannot write"):
        plan(loop)
    with pytest.raises(ValueError, match="is the input file"):
        plan(regular, inputs=[tmp_path / ".." / tmp_path.name / "r"])
    with pytest.raises(ValueError, match="does not exist"):
        plan(tmp_path / "no" / "such")


def test_tour_refuses_an_out_that_is_a_file_or_holds_a_linked_index(tmp_path):
    victim = tmp_path / "notes.txt"
    victim.write_text("mine")
    folder = tmp_path / "report"
    folder.mkdir()
    (folder / "index.html").symlink_to(victim)
    procs = [cli("tour", "--quick", "--out", victim), cli("tour", "--quick", "--out", folder)]
    rc, _, err = finish(procs[0])
    one_line_error(rc, err, "is a file")
    rc, _, err = finish(procs[1])
    one_line_error(rc, err, "not a regular file")
    assert victim.read_text() == "mine" and (folder / "index.html").is_symlink()
