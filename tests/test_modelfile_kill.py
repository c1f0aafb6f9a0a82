"""kill -9 in the middle of writing a large model file: the old file stays whole, and the
next write removes the temporary file the killed writer left."""

import os
import subprocess
import sys
import textwrap
import time

import numpy as np

import prmlnet
from prmlnet import modelfile
from prmlnet.modelfile import ModelFile

WRITER = textwrap.dedent("""
    import sys
    import numpy as np
    from prmlnet import Network, modelfile
    from prmlnet.modelfile import ModelFile
    net = Network((500, 2000, 1))                       # W = 1,004,001: an 8 MB file
    big = ModelFile("Network", net, np.random.default_rng(1).standard_normal(net.n_weights))
    print("writing", flush=True)
    while True:                                          # always in the middle of a write
        modelfile.save(sys.argv[1], big)
""")


def temporaries(folder, name):
    return sorted(f for f in os.listdir(folder) if f.startswith(f".{name}.") and f.endswith(".tmp"))


def test_kill_9_mid_write_never_corrupts_and_leaves_nothing_after_the_next_write(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "m.npz"
    small_net = prmlnet.Network((2, 3, 1))
    left_behind = []
    for kill in range(5):
        old = ModelFile("Network", small_net, small_net.init_weights(rng))
        modelfile.save(path, old)
        assert temporaries(tmp_path, "m.npz") == []            # the last one was cleaned
        p = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE,
                             text=True)
        assert p.stdout.readline().strip() == "writing"
        p.stdout.close()
        time.sleep(rng.uniform(0.02, 0.3))                     # a random point of the writes
        p.kill()                                               # SIGKILL: no cleanup runs
        p.wait(30)
        back = modelfile.load(path)                            # whole: the old or a new file
        assert back.network in (small_net, prmlnet.Network((500, 2000, 1)))
        if back.network == small_net:
            assert np.array_equal(back.w, old.w)
        left_behind.append(len(temporaries(tmp_path, "m.npz")))
    assert max(left_behind) == 1 and sum(left_behind) >= 1     # the kills did land mid-write
    modelfile.save(path, old)
    assert temporaries(tmp_path, "m.npz") == []
    assert os.listdir(tmp_path) == ["m.npz"]


def test_a_temporary_of_a_running_writer_is_left_alone(tmp_path):
    alive = tmp_path / f".m.npz.{os.getppid()}.abcdefgh.tmp"   # our parent runs: not stale
    dead_pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout.strip()
    dead = tmp_path / f".m.npz.{dead_pid}.abcdefgh.tmp"
    old_style = tmp_path / ".m.npz.abcdefgh.tmp"                # no pid: stale when old
    other = tmp_path / f".n.npz.{dead_pid}.abcdefgh.tmp"       # another file's temporary
    for f in (alive, dead, old_style, other):
        f.write_bytes(b"partial")
    os.utime(old_style, (0, 0))
    modelfile.atomic_write(tmp_path / "m.npz", lambda f: f.write(b"new"))
    assert alive.exists() and other.exists()
    assert not dead.exists() and not old_style.exists()
