"""Crafted model files: refused before they are decompressed, parsed into the wrong
meaning, or turned into a traceback.

Each case crafts a file from a real one (``crafted_models``). In this process
the Python API must raise :class:`ModelFileError`; on the command line
(``prmlnet info``, run by one child process over every file, under a memory
limit set with ``resource.setrlimit``) each must end in one line on standard
error and exit status 2. The zip bombs declare gigabytes; the child's address
space is limited to well below that, so reading them would fail with
MemoryError instead of a refusal.
"""

import json
import os
import stat
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest

from crafted_models import deflate, header_of, npy_bytes, npy_header, raw_zip, rewrite
from prmlnet import modelfile
from prmlnet.estimators import (BayesianMLPRegressor, MDNRegressor, MLPClassifier, MLPRegressor,
                                load)
from prmlnet.modelfile import ModelFileError

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

GiB = 2 ** 30
#: the child's address-space limit: the interpreter with NumPy and scikit-learn
#: takes about 0.4 GiB; every bomb below declares more than 1 GiB
CHILD_LIMIT = int(1.25 * GiB)


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    return make_real(tmp_path_factory.mktemp("real"))


def make_real(d):
    """One small fitted file of each estimator kind, in folder ``d``."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((24, 3))
    y = X[:, 0] - X[:, 1]
    fits = {
        "reg": MLPRegressor((3,), max_iter=5, standardize=True, random_state=0).fit(X, y),
        "clf2": MLPClassifier((3,), max_iter=5, random_state=0).fit(X, y > 0),
        "clf3": MLPClassifier((3,), max_iter=5, random_state=0).fit(X, np.digitize(y, [-1, 1])),
        "bayes": BayesianMLPRegressor((2,), n_outer=2, max_iter=20, random_state=0).fit(X, y),
        "mdn": MDNRegressor(2, (3,), max_iter=5, random_state=0).fit(X, y),
    }
    paths = {}
    for name, est in fits.items():
        paths[name] = d / f"{name}.npz"
        est.save(paths[name])
    return paths


def edit(src, fn):
    return lambda real, dst: rewrite(real[src], dst, edit=fn)


def with_arrays(src, **arrays):
    """Replace arrays (a value may be a function of the real files' paths)."""
    return lambda real, dst: rewrite(real[src], dst, arrays={
        k: v(real) if callable(v) else v for k, v in arrays.items()})


def setter(path, value):
    """An edit that sets header[path[0]][path[1]]... = value (or deletes it for ...)."""
    def fn(h):
        obj = h
        for k in path[:-1]:
            obj = obj[k]
        if value is ...:
            del obj[path[-1]]
        else:
            obj[path[-1]] = value
    return fn


def _w(real, src="reg"):
    return np.load(real[src])["w"]


# name -> (builder(real, dst), fragment of the one-line message)
HEADER_CASES = {
    "sizes_infinity": (edit("reg", setter(["network", "sizes"], [3, float("inf"), 1])),
                       "network.sizes"),
    "sizes_float": (edit("reg", setter(["network", "sizes"], [3, 2.7, 1])), "network.sizes"),
    "sizes_true": (edit("reg", setter(["network", "sizes"], [3, True, 1])), "network.sizes"),
    "sizes_one_layer": (edit("reg", setter(["network", "sizes"], [3])), "network.sizes"),
    "meta_not_object": (edit("reg", setter(["meta"], [1, 2])), "meta"),
    "training_not_object": (edit("reg", setter(["training"], "fast")), "training"),
    "params_not_object": (edit("reg", setter(["params"], 7)), "params"),
    "bayes_without_groups": (edit("bayes", setter(["meta", "groups"], ...)), "meta.groups"),
    "one_class_label": (with_arrays("clf2", classes=np.array([1])), "classes"),
    "x_scale_missing": (with_arrays("reg", x_scale=None), "x_mean and x_scale"),
    "x_mean_string": (with_arrays("reg", x_mean=np.array(["a", "b", "c"])), "x_mean"),
    "hidden_unknown": (edit("reg", setter(["network", "hidden"], ["sine"])), "network.hidden"),
    "hidden_count": (edit("reg", setter(["network", "hidden"], ["tanh", "tanh"])),
                     "network.hidden"),
    "output_not_object": (edit("reg", setter(["network", "output"], "linear")),
                          "network.output"),
    "output_unknown": (edit("reg", setter(["network", "output"], {"name": "poisson"})),
                       "network"),
    "mdn_bad_components": (edit("mdn", setter(["network", "output", "n_components"], "2")),
                           "network"),
    "network_dtype": (edit("reg", setter(["network", "dtype"], "float16")), "network.dtype"),
    "kind_unknown": (edit("reg", setter(["kind"], "Pickler")), "not an estimator"),
    "kind_number": (edit("reg", setter(["kind"], 3)), "kind"),
    "arrays_not_object": (edit("reg", setter(["arrays"], [])), "arrays"),
    "array_without_digest": (edit("reg", setter(["arrays", "w", "sha256"], ...)), "sha256"),
    "array_negative_shape": (edit("reg", setter(["arrays", "w", "shape"], [-41])), "shape"),
    "array_odd_name": (edit("reg", lambda h: h["arrays"].update({"../x": h["arrays"]["w"]})),
                       "unknown array"),
    "training_error_string": (edit("reg", setter(["training", "error"], "low")),
                              "training.error"),
    "cli_features_string": (edit("reg", setter(["meta", "cli"], {"features": "a,b,c"})),
                            "meta.cli.features"),
    "feature_names_count": (edit("reg", setter(["training", "feature_names"], ["a"])),
                            "input names"),
    "params_out_of_range": (edit("reg", setter(["params", "max_iter"], -3)), "max_iter"),
    "params_bool": (edit("reg", setter(["params", "alpha"], True)), "alpha"),
    "header_not_json": (lambda real, dst: rewrite(real["reg"], dst, header_text=b"\xff{"),
                        "not JSON"),
    "header_deeply_nested": (lambda real, dst: rewrite(real["reg"], dst,
                                                       header_text=b"[" * 200_000),
                             "not JSON"),
    "header_not_an_object": (lambda real, dst: rewrite(real["reg"], dst, header_text=b"[1]"),
                             "not a prmlnet model file"),
}

MEANING_CASES = {   # files that used to load and predict NaN or the wrong thing
    "w_boolean": (with_arrays("reg", w=lambda r: _w(r) > 0), "arrays.w.dtype"),
    "w_structured": (with_arrays("reg", w=lambda r: np.zeros(_w(r).size, "f8,f8")),
                     "arrays.w.dtype"),
    "w_complex": (with_arrays("reg", w=lambda r: _w(r).astype(complex)), "arrays.w.dtype"),
    "w_nan": (with_arrays("reg", w=lambda r: np.where(np.arange(_w(r).size) == 2, np.nan, _w(r))),
              "NaN"),
    "w_too_short": (with_arrays("reg", w=lambda r: _w(r)[:-1]), "inconsistent"),
    "x_mean_length_one": (with_arrays("reg", x_mean=np.zeros(1)), "x_mean"),
    "x_scale_zero": (with_arrays("reg", x_scale=np.zeros(3)), "standardisation"),
    "five_labels_binary": (with_arrays("clf2", classes=np.arange(5)), "classes"),
    "repeated_labels": (with_arrays("clf3", classes=np.array([0, 1, 1])), "repeat"),
    "classes_on_regressor": (with_arrays("reg", classes=np.array([0])), "classes"),
    "format_version_true": (edit("reg", setter(["format_version"], True)), "format version"),
    "format_version_string": (edit("reg", setter(["format_version"], "1")), "format version"),
    "bayes_nan_cholesky": (with_arrays("bayes", **{"extra.bayes_chol": lambda r: np.full(
        (np.load(r["bayes"])["w"].size,) * 2, np.nan)}), "bayes_chol"),
    "bayes_negative_beta": (edit("bayes", setter(["meta", "beta"], -1.0)), "meta.beta"),
    "bayes_upper_cholesky": (with_arrays("bayes", **{"extra.bayes_chol": lambda r: np.triu(
        np.ones((np.load(r["bayes"])["w"].size,) * 2))}), "lower triangular"),
    "mdn_as_regressor": (edit("mdn", setter(["kind"], "MLPRegressor")), "mdn outputs"),
    "label_kind_list": (edit("clf2", setter(["meta", "label_kind"], ["binary"])),
                        "label_kind"),
    "random_state_string": (edit("reg", setter(["params", "random_state"], "seven")),
                            "cannot be a MLPRegressor"),
}


def _bomb_header(real, dst):
    """A header member that declares 1 GiB of JSON (the stream holds only 64 KiB)."""
    body = npy_header((GiB,), np.uint8) + b" " * 65536
    raw_zip(dst, [("header.npy", 8, deflate([body]), len(npy_header((GiB,), np.uint8)) + GiB,
                   zlib.crc32(body))])


def _bomb_weights(real, dst):
    """A real header whose w member's .npy header claims 4 GiB of weights."""
    hdr = npy_bytes(np.frombuffer(json.dumps(header_of(real["reg"])).encode(), np.uint8))
    head = npy_header((2 ** 29 - 64,), np.float64)
    body = head + bytes(1 << 20)
    raw_zip(dst, [("header.npy", 0, hdr, len(hdr), zlib.crc32(hdr)),
                  ("w.npy", 8, deflate([body]), len(head) + 8 * (2 ** 29 - 64), 0)])


def _bomb_listed(real, dst):
    """A header that lists an extra array of 8 GiB (and the member that declares it)."""
    def fn(h):
        h["arrays"]["extra.big"] = {"dtype": "<f8", "shape": [GiB], "sha256": "0" * 64,
                                    "object": False}
    rewrite(real["reg"], dst, edit=fn)


def _bomb_network(real, dst):
    """A network of 2^27 hidden units: 3 GiB of weights described, 1 KiB stored."""
    rewrite(real["reg"], dst, edit=setter(["network", "sizes"], [3, 2 ** 27, 1]))


def _bomb_directory(real, dst):
    """100,000 overlapping members, each declaring 80 KiB: 8 GiB listed in 6 MB."""
    head = npy_header((10_000,), np.float64)
    body = head + bytes(80_000)
    entries = [("header.npy", 8, deflate([body]), len(body), zlib.crc32(body))]
    entries += [(f"extra.a{i}.npy", None, 0, len(body), zlib.crc32(body)) for i in range(100_000)]
    raw_zip(dst, entries)


def _bomb_lying_size(real, dst):
    """A weight member that declares its true size but whose deflate stream goes on
    to 256 MiB of zeros (a CRC that cannot match the declared bytes)."""
    raw = header_of(real["reg"])
    W = raw["arrays"]["w"]["shape"][0]
    hdr = npy_bytes(np.frombuffer(json.dumps(raw).encode(), np.uint8))
    head = npy_header((W,), np.float64)
    stream = deflate([head] + [bytes(1 << 20)] * 256)
    raw_zip(dst, [("header.npy", 0, hdr, len(hdr), zlib.crc32(hdr)),
                  ("w.npy", 8, stream, len(head) + 8 * W, 12345)])


def _padded_header(real, dst):
    """A true 5 MiB header (spaces), over the 4 MiB bound."""
    text = json.dumps(header_of(real["reg"])).encode()
    rewrite(real["reg"], dst, header_text=text + b" " * (5 * 2 ** 20))


BOMB_CASES = {
    "bomb_header_1GiB": (_bomb_header, "header of 1.0 GiB"),
    "bomb_weights_4GiB": (_bomb_weights, "not the (16,) its description says"),
    "bomb_listed_8GiB": (_bomb_listed, "PRMLNET_MAX_MODEL_BYTES"),
    "bomb_network_3GiB": (_bomb_network, "PRMLNET_MAX_MODEL_BYTES"),
    "bomb_directory_100k": (_bomb_directory, "more than the 4,096 members"),
    "bomb_lying_size": (_bomb_lying_size, "corrupted"),
    "header_padded_5MiB": (_padded_header, "more than the 4.0 MiB"),
}

CASES = {**HEADER_CASES, **MEANING_CASES, **BOMB_CASES}


@pytest.fixture(scope="module")
def crafted(real, tmp_path_factory):
    return make_crafted(real, tmp_path_factory.mktemp("crafted"))


def make_crafted(real, d):
    """Every case of CASES, crafted from the real files into folder ``d``."""
    paths = {}
    for name, (build, _) in CASES.items():
        paths[name] = d / f"{name}.npz"
        build(real, paths[name])
    return paths


CHILD = textwrap.dedent("""
    import contextlib, io, json, resource, sys, traceback
    limit = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from prmlnet.cli import main
    out = {}
    for path in sys.argv[2:]:
        err = io.StringIO()
        code = 0
        with contextlib.redirect_stderr(err):
            try:
                main(["info", path])
            except SystemExit as e:
                code = e.code
            except BaseException:
                code, err = "escaped", io.StringIO(traceback.format_exc())
        out[path] = {"code": code, "stderr": err.getvalue()}
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def cli_results(crafted):
    """``prmlnet info`` on every crafted file, in one child with a memory limit."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-c", CHILD, str(CHILD_LIMIT),
                        *map(str, crafted.values())], capture_output=True, text=True, env=env,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    by_path = json.loads(r.stdout.strip().splitlines()[-1])
    return {name: by_path[str(p)] for name, p in crafted.items()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_crafted_file_is_refused_by_the_python_api(crafted, name):
    with pytest.raises(ModelFileError, match=None) as info:
        load(crafted[name])
    message = str(info.value)
    assert "\n" not in message and CASES[name][1] in message, message


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_crafted_file_is_one_line_and_exit_2_on_the_command_line(cli_results, name):
    r = cli_results[name]
    lines = r["stderr"].strip().splitlines()
    assert r["code"] == 2, r
    assert len(lines) == 1 and lines[0].startswith("prmlnet: error:"), r["stderr"][-2000:]
    assert CASES[name][1] in lines[0], lines[0]


def test_the_real_files_pass_the_same_checks(real):
    for path in real.values():
        est = load(path)
        assert est.n_features_in_ == 3


def test_the_size_bound_can_be_raised_by_argument_or_environment(real, tmp_path, monkeypatch):
    path = real["bayes"]
    need = sum(np.load(path)[k].nbytes for k in np.load(path).files if k != "header")
    with pytest.raises(ModelFileError, match="PRMLNET_MAX_MODEL_BYTES"):
        modelfile.load(path, max_bytes=need - 1)
    assert modelfile.load(path, max_bytes=need).kind == "BayesianMLPRegressor"
    monkeypatch.setenv(modelfile.MAX_BYTES_ENV, str(need - 1))
    with pytest.raises(ModelFileError, match="more than the"):
        load(path)
    monkeypatch.setenv(modelfile.MAX_BYTES_ENV, f"{float(need):g}")
    assert load(path).n_features_in_ == 3
    monkeypatch.setenv(modelfile.MAX_BYTES_ENV, "lots")
    with pytest.raises(ValueError, match="PRMLNET_MAX_MODEL_BYTES must be a positive number"):
        modelfile.load(path)


def test_a_named_pipe_or_a_device_as_model_path_is_refused_without_waiting(tmp_path):
    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)
    device = tmp_path / "device.npz"
    device.symlink_to("/dev/null")              # a stand-in, only ever read
    data = tmp_path / "d.csv"
    data.write_text("a,b,c\n1,2,3\n")
    for p, what in ((fifo, "named pipe"), (device, "character device")):
        with pytest.raises(ModelFileError, match=f"is a {what}, not a regular file"):
            load(p)
    runs = [(["info", fifo], "named pipe"), (["predict", fifo, data], "named pipe"),
            (["info", device], "character device")]
    procs = [subprocess.Popen([sys.executable, "-m", "prmlnet.cli", *map(str, args)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for args, _ in runs]
    for p, (_, what) in zip(procs, runs):
        out, err = p.communicate(timeout=60)      # a hang would end here
        lines = err.strip().splitlines()
        assert p.returncode == 2 and len(lines) == 1 and what in lines[0], err
    assert os.path.exists(fifo) and not os.path.isfile(fifo)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode) and os.path.islink(device)
