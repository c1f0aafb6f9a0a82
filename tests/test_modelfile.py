"""Model files: round trips, refusal of pickles, version checks, corruption, atomic writes."""

import json
import os
import pickle
import zipfile

import numpy as np
import pytest

import prmlnet
from prmlnet import modelfile
from prmlnet.modelfile import ModelFile, ModelFileError


def _model(rng, output="softmax", **kw):
    net = prmlnet.Network((3, 5, 4, 2), hidden=["tanh", "relu"], output=output)
    return ModelFile("Network", net, net.init_weights(rng), **kw)


def test_round_trip_reproduces_everything_bit_for_bit(tmp_path, rng):
    mf = _model(rng, x_mean=rng.standard_normal(3), x_scale=rng.random(3) + 0.5,
                classes=np.array(["cat", "dog"], dtype=object),
                params={"alpha": 0.1, "hidden_layer_sizes": (5, 4)},
                training={"n_samples": np.int64(20), "error": np.float64(1.5)},
                arrays={"L": np.tril(rng.standard_normal((4, 4))), "flags": np.array([True, False]),
                        "names": np.array(["a", "bc"])},
                meta={"alpha_history": [1.0, 2.0], "note": "x"})
    path = tmp_path / "m.npz"
    modelfile.save(path, mf)
    back = modelfile.load(path)
    assert back.network == mf.network
    assert back.w.dtype == np.float64 and np.array_equal(back.w, mf.w)
    assert np.array_equal(back.x_mean, mf.x_mean) and np.array_equal(back.x_scale, mf.x_scale)
    assert back.classes.dtype == object and back.classes.tolist() == ["cat", "dog"]
    for k, a in mf.arrays.items():
        assert np.array_equal(back.arrays[k], a) and back.arrays[k].dtype == a.dtype
    assert back.params == {"alpha": 0.1, "hidden_layer_sizes": [5, 4]}
    assert back.training == {"n_samples": 20, "error": 1.5}
    assert back.meta == mf.meta
    assert back.kind == "Network" and back.format_version == modelfile.FORMAT_VERSION
    X = rng.standard_normal((6, 3))
    assert np.array_equal(back.network.predict(back.w, X), mf.network.predict(mf.w, X))
    assert os.listdir(tmp_path) == ["m.npz"]          # no temporary file left behind


@pytest.mark.parametrize("output", ["linear", "logistic", "softmax"])
def test_network_config_round_trip(output):
    net = prmlnet.Network((2, 3, 3, 4), hidden=["logistic", "softplus"], output=output)
    assert modelfile.network_from_config(modelfile.network_config(net)) == net
    json.dumps(modelfile.network_config(net))


def test_a_crafted_pickle_is_refused_and_never_executed(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.npz"
    path.write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(ModelFileError, match="pickle"):
        modelfile.load(path)
    assert not marker.exists()


def test_an_archive_holding_pickled_objects_is_refused(tmp_path, rng):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.npz"
    np.savez(path, header=np.array([Exploit()], dtype=object), w=np.zeros(3))
    with pytest.raises(ModelFileError, match="pickle"):
        modelfile.load(path)
    assert not marker.exists()


def test_saving_python_objects_is_refused(tmp_path, rng):
    mf = _model(rng, arrays={"bad": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(ValueError, match="Python objects"):
        modelfile.save(tmp_path / "m.npz", mf)
    assert not list(tmp_path.iterdir())


def _rewrite_header(path, edit):
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads(bytes(arrays["header"]).decode())
    edit(header)
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(path, **arrays)


def test_a_newer_format_version_is_refused(tmp_path, rng):
    path = tmp_path / "m.npz"
    modelfile.save(path, _model(rng))
    _rewrite_header(path, lambda h: h.update(format_version=modelfile.FORMAT_VERSION + 1))
    with pytest.raises(ModelFileError, match="newer than this prmlnet"):
        modelfile.load(path)


def test_not_a_model_file(tmp_path):
    p = tmp_path / "x.npz"
    np.savez(p, a=np.zeros(3))
    with pytest.raises(ModelFileError, match="not a prmlnet model file"):
        modelfile.load(p)
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ModelFileError, match="not a prmlnet model file"):
        modelfile.load(tmp_path / "t.csv")
    (tmp_path / "e.npz").write_bytes(b"")
    with pytest.raises(ModelFileError, match="empty"):
        modelfile.load(tmp_path / "e.npz")
    with pytest.raises(FileNotFoundError):
        modelfile.load(tmp_path / "missing.npz")


def test_truncated_files_are_reported(tmp_path, rng):
    path = tmp_path / "m.npz"
    modelfile.save(path, _model(rng))
    raw = path.read_bytes()
    for cut in (10, len(raw) // 3, len(raw) // 2, len(raw) - 30, len(raw) - 1):
        path.write_bytes(raw[:cut])
        with pytest.raises(ModelFileError, match="truncated or corrupted"):
            modelfile.load(path)


def test_corrupted_weights_are_reported(tmp_path, rng):
    path = tmp_path / "m.npz"
    modelfile.save(path, _model(rng))
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("w.npy")
    # flip one bit in the middle of the weight vector's data
    at = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.file_size // 2
    raw[at] ^= 0x10
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="corrupted"):
        modelfile.load(path)


def test_a_swapped_weight_vector_fails_its_checksum(tmp_path, rng):
    # a well-formed archive whose 'w' was replaced: the zip CRC is fine, the digest is not
    path = tmp_path / "m.npz"
    modelfile.save(path, _model(rng))
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["w"] = arrays["w"] + 1.0
    np.savez(path, **arrays)
    with pytest.raises(ModelFileError, match="checksum"):
        modelfile.load(path)


def test_a_failure_mid_write_leaves_the_old_file_intact(tmp_path, rng, monkeypatch):
    path = tmp_path / "m.npz"
    old = _model(rng)
    modelfile.save(path, old)
    before = path.read_bytes()

    def broken_savez(f, **arrays):
        f.write(b"PK\x03\x04 half a model")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(modelfile.np, "savez", broken_savez)
    with pytest.raises(OSError, match="simulated"):
        modelfile.save(path, _model(rng))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]
    monkeypatch.undo()
    assert np.array_equal(modelfile.load(path).w, old.w)


def test_an_interrupt_mid_write_leaves_the_old_file_intact(tmp_path, rng, monkeypatch):
    path = tmp_path / "m.npz"
    modelfile.save(path, _model(rng))
    before = path.read_bytes()

    def interrupted_fsync(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(modelfile.os, "fsync", interrupted_fsync)
    with pytest.raises(KeyboardInterrupt):
        modelfile.save(path, _model(rng))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]


def test_atomic_write_to_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        modelfile.atomic_write(tmp_path / "nope" / "m.npz", lambda f: f.write(b"x"))


def test_bad_extra_array_name(tmp_path, rng):
    with pytest.raises(ValueError, match="letters, digits"):
        modelfile.save(tmp_path / "m.npz", _model(rng, arrays={"a/b": np.zeros(2)}))


# -- property: any dense network round-trips ---------------------------------------------------
from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from prmlnet.activations import ACTIVATIONS  # noqa: E402


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(1, 6), min_size=2, max_size=5),
       acts=st.lists(st.sampled_from(sorted(ACTIVATIONS)), min_size=3, max_size=3),
       output=st.sampled_from(["linear", "logistic", "softmax"]),
       seed=st.integers(0, 2**31 - 1))
def test_any_dense_network_round_trips_bit_for_bit(tmp_path_factory, sizes, acts, output, seed):
    assume(output != "softmax" or sizes[-1] >= 2)     # one softmax output is refused
    rng = np.random.default_rng(seed)
    net = prmlnet.Network(sizes, hidden=acts[: len(sizes) - 2], output=output)
    w = net.init_weights(rng) * rng.choice([1e-300, 1.0, 1e300], size=net.n_weights)
    w[0] = np.nextafter(1.0, 2.0)
    path = tmp_path_factory.mktemp("h") / "m.npz"
    modelfile.save(path, ModelFile("Network", net, w))
    back = modelfile.load(path)
    assert back.network == net and back.w.tobytes() == w.tobytes()


# -- data files (the command line's reader) ----------------------------------------------------
from prmlnet.cli.datafiles import read_table  # noqa: E402


@settings(max_examples=25, deadline=None)
@given(data=st.lists(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64),
                              min_size=3, max_size=3), min_size=1, max_size=20))
def test_csv_numbers_read_back_exactly(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("csv") / "t.csv"
    path.write_text("a,b,c\n" + "".join(",".join(repr(v) for v in row) + "\n" for row in data))
    t = read_table(path)
    assert t.columns == ["a", "b", "c"] and t.n_rows == len(data)
    assert np.array_equal(t.numeric(["a", "b", "c"]), np.array(data, dtype=float))
    assert t.lines.tolist() == list(range(2, len(data) + 2))


def test_reader_messages(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("a,b,label\n1,2,x\n\n3,,y\n4,5,\n")
    t = read_table(p)
    assert t.lines.tolist() == [2, 4, 5]               # blank lines skipped, lines as in an editor
    with pytest.raises(ValueError, match=r"column 'b' \(line 4\)"):
        t.numeric(["a", "b"])
    with pytest.raises(ValueError, match="empty labels on line 5"):
        t.labels("label")
    assert t.labels("a").dtype == np.int64              # whole numbers become integer labels
    p.write_text("a,a\n1,2\n")
    with pytest.raises(ValueError, match="more than once"):
        read_table(p)
    p.write_text("a,\n1,2\n")
    with pytest.raises(ValueError, match="empty name"):
        read_table(p)
    p.write_bytes(b"\xff\xfe\x00a,b\n")
    with pytest.raises(ValueError, match="UTF-8"):
        read_table(p)
    with pytest.raises(ValueError, match="folder"):
        read_table(tmp_path)
    np.savez(tmp_path / "bad.npz", a=np.zeros(3), b=np.zeros(4))
    with pytest.raises(ValueError, match="one length"):
        read_table(tmp_path / "bad.npz")
    np.savez(tmp_path / "obj.npz", a=np.array([{}], dtype=object))
    with pytest.raises(ValueError, match="pickled"):
        read_table(tmp_path / "obj.npz")
    (tmp_path / "t.tsv").write_text("a\tb\n1\t2\n")
    assert read_table(tmp_path / "t.tsv").numeric(["a", "b"]).tolist() == [[1.0, 2.0]]


def test_data_archives_are_bounded_before_they_are_read(tmp_path):
    import io

    from numpy.lib import format as npy_format

    def crafted(name, shape, payload=b""):
        head = io.BytesIO()
        npy_format.write_array_header_1_0(head, {"descr": "<f8", "fortran_order": False,
                                                 "shape": shape})
        with zipfile.ZipFile(tmp_path / name, "w") as z:
            z.writestr("x.npy", head.getvalue() + payload)
            z.writestr("y.npy", head.getvalue() + payload)
        return tmp_path / name

    # a column of 2**40 floats declared in a few bytes: refused from its header alone
    with pytest.raises(ValueError, match="more than this machine's"):
        read_table(crafted("huge.npz", (2 ** 40,)))
    # a member whose data does not match its header: refused, one line
    with pytest.raises(ValueError, match="corrupted or crafted|truncated"):
        read_table(crafted("short.npz", (1000,), b"\0" * 80))
    ok = crafted("ok.npz", (3,), np.arange(3.0).tobytes())
    assert read_table(ok).numeric(["x", "y"]).tolist() == [[0, 0], [1, 1], [2, 2]]
