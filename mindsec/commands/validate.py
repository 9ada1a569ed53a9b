"""``mindsec validate``: the hardware-validation run.

Measures, for the weights in --ckpt on the test split, the clean accuracy, the FGSM
(eps 0.3) accuracy and the FGSM perturbation signs of the first 64 images, and writes them
with the device and versions to <out>/validate-<device>.json. With --reference (the JSON of
a run on a known-good device, e.g. CPU) it prints one PASS/FAIL line per check and exits 1
on any FAIL.
"""
from ..cli_support import add_data_arguments, add_device_argument


def add_arguments(parser):
    add_device_argument(parser)
    add_data_arguments(parser)
    parser.add_argument("--ckpt", default="runs/lenet5.ckpt",
                        help="the same weights on every device (default: %(default)s)")
    parser.add_argument("--reference", default=None, metavar="JSON",
                        help="validate-<device>.json of a known-good run to compare with")
    parser.add_argument("--out", default="runs/validate")
    return parser


def load_reference(path):
    """The fingerprint in a validate (or bench) JSON."""
    # pylint: disable=import-outside-toplevel
    import json
    from pathlib import Path
    from ..errors import DataError
    try:
        ref = json.loads(Path(path).read_text())
    except OSError:
        raise DataError(f"--reference {path} cannot be read") from None
    except ValueError:
        raise DataError(f"--reference {path} is not JSON") from None
    if not isinstance(ref, dict) or "validation" not in ref:
        raise DataError(f"--reference {path} holds no validation fingerprint")
    return ref["validation"]


def run(args):
    # pylint: disable=import-outside-toplevel
    import platform
    import time
    from pathlib import Path
    import mindspore as ms
    import mindsec
    from .. import context, data, validation, workflows
    from ..cli_support import check_output_dir, data_source, write_json

    reference = load_reference(args.reference) if args.reference else None
    check_output_dir("--out", args.out)
    target = context.set_device(args.device, args.mode)
    source = data_source(args)
    net, arch = workflows.load_model(args.ckpt, source.name)
    x, y = data.load_mnist("test", num_samples=args.test_samples, source=source)
    print(f"device {target} ({args.mode} mode); {arch} from {args.ckpt}; {len(x)} test images")
    start = time.perf_counter()
    fingerprint = validation.fingerprint(net, x, y)
    result = {"device": target, "mode": args.mode, "ckpt": str(args.ckpt),
              "data": source.describe(), "machine": platform.platform(),
              "versions": {"mindspore": ms.__version__, "mindsec": mindsec.__version__},
              "seconds": time.perf_counter() - start, "validation": fingerprint}
    print(f"clean accuracy {fingerprint['clean_accuracy']:.4f}, FGSM accuracy "
          f"{fingerprint['fgsm_accuracy']:.4f}; weights sha256 "
          f"{fingerprint['weights_sha256'][:16]}...")
    code = 0
    if reference is not None:
        checks = validation.compare(fingerprint, reference)
        result["checks"] = [{"check": c, "passed": ok, "line": line} for c, ok, line in checks]
        for _, _, line in checks:
            print("  " + line)
        code = 0 if all(ok for _, ok, _ in checks) else 1
        print("validation " + ("PASSED" if code == 0 else "FAILED") +
              f" against {args.reference}")
    path = write_json(Path(args.out) / f"validate-{target}.json", result)
    print(f"written {path}")
    return code
