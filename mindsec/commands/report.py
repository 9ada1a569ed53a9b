"""``mindsec report``: one Markdown report, with PNG figures, on a model's robustness.

Sections: the model; FGSM at --eps with AttackEvaluate and an examples grid; accuracy
against eps of FGSM and PGD-20 (and of the --baseline model); the robustness runner's
cascade and sanity flags; the training history with robust accuracy (the RobustnessMonitor
history named in the checkpoint, or --history); DefenseEvaluate against --baseline. The
measurements are :func:`mindsec.flows.model_report`'s.
"""
import json
from pathlib import Path

from ..cli_support import add_data_arguments, add_device_argument, check_positive


def add_arguments(parser):
    add_device_argument(parser)
    add_data_arguments(parser)
    parser.set_defaults(test_samples=1000)
    parser.add_argument("--ckpt", required=True, help="the model's checkpoint")
    parser.add_argument("--baseline", default=None, metavar="CKPT",
                        help="an undefended model: its curves beside the model's, and "
                             "DefenseEvaluate on FGSM examples made against it")
    parser.add_argument("--history", default=None, metavar="JSON",
                        help="RobustnessMonitor history (default: the one the checkpoint "
                             "names, if any)")
    parser.add_argument("--eps", type=float, default=0.3,
                        help="largest Linf budget (default 0.3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/report",
                        help="directory for report.md, report.json and figures "
                             "(default: %(default)s)")
    return parser


def _history(args, meta):
    path = args.history or meta.get("history")
    if not path:
        return None, None
    from ..errors import DataError  # pylint: disable=import-outside-toplevel
    try:
        records = json.loads(Path(path).read_text())
    except OSError:
        if args.history:
            raise DataError(f"--history {path} cannot be read") from None
        return None, None        # the checkpoint names a history that has since moved
    except ValueError:
        raise DataError(f"history {path} is not JSON") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) and "epoch" in r
                                                 for r in records):
        raise DataError(f"history {path} is not a RobustnessMonitor history (a list of "
                        f"records with 'epoch')")
    return path, records


def run(args):
    # pylint: disable=import-outside-toplevel
    from .. import checkpoint, context, data, workflows
    from ..checks import check_number
    from ..cli_support import check_output_dir, data_source, write_json
    from ..flows.report import model_report

    check_number("--eps", args.eps, low=0.0, high=1.0)
    check_positive(args, "test_samples")
    target = context.set_device(args.device, args.mode)
    source = data_source(args)
    net, arch = workflows.load_model(args.ckpt, source.name)
    _, meta = checkpoint.load(args.ckpt)
    baseline = workflows.load_model(args.baseline, source.name)[0] if args.baseline else None
    history = _history(args, meta)
    x, y = data.load_mnist("test", num_samples=args.test_samples, source=source)
    check_output_dir("--out", args.out)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"device {target}; {source.describe()}; report on {arch} ({args.ckpt}), "
          f"{len(x)} test images -> {out}")
    report = model_report(net, (x, y), eps=args.eps, baseline=baseline,
                          history=history if history[1] else None, seed=args.seed, name=arch,
                          info={"ckpt": str(args.ckpt), "data": source.describe(),
                                "device": target, "baseline_ckpt": args.baseline,
                                "meta": {k: v for k, v in meta.items() if k != "history"}})
    write_json(out / "report.json", report.to_dict())
    path = report.to_markdown(out)
    print(f"report: {path} (figures beside it); data: {out / 'report.json'}")
    return 0
