"""The ``mindsec`` command.

    mindsec train    --ckpt runs/lenet5.ckpt
    mindsec attack   --ckpt runs/lenet5.ckpt --attack fgsm --eps 0.3
    mindsec defend   --ckpt runs/lenet5.ckpt --full [--workers 2]
    mindsec evaluate --ckpt runs/lenet5.ckpt --ckpt nad=runs/nad/lenet5_nad_full.ckpt
    mindsec report   --ckpt runs/nad/lenet5_nad_full.ckpt --baseline runs/lenet5.ckpt
    mindsec validate --device GPU --reference runs/validate/validate-CPU.json

Exit codes: 0 success; 1 a check failed (validate); 2 bad input (one line on stderr:
a wrong argument, a missing or corrupt file, an unavailable device); 130 interrupted.

Paths may be ``s3://bucket/prefix`` URLs (:mod:`mindsec.storage`): ``--data-dir`` is read
through a cached copy, any other path option through a local stand-in, and what the command
wrote (``--out``, a trained ``--ckpt``) is published to its URL once it has succeeded.
"""
import argparse
import sys

from ._version import __version__
from .cli_support import run_main
from .commands import COMMANDS


def build_parser():
    parser = argparse.ArgumentParser(
        prog="mindsec", description="Attack, harden and measure MindSpore models.",
        epilog="Exit codes: 0 ok, 1 a validation check failed, 2 bad input (one line on "
               "stderr), 130 interrupted. 'mindsec COMMAND --help' for a command's options.")
    parser.add_argument("--version", action="version", version=f"mindsec {__version__}")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bars or per-stage lines (results still print)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, summary) in COMMANDS.items():
        doc = module.__doc__.split("\n\n", 1)
        about = doc[0].split(": ", 1)[-1]
        command = sub.add_parser(name, help=summary, description=about[:1].upper() + about[1:],
                                 epilog=doc[1] if len(doc) > 1 else None,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(command)
    return parser


def parse(argv, parser=None):
    """``argv`` parsed, with ``args.argv`` the command's own arguments (for relaunching
    it on workers)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = (parser or build_parser()).parse_args(argv)
    args.argv = argv[argv.index(args.command) + 1:] if args.command in argv else []
    return args


# options that name a data root (read through mindsec.data) or an output folder; any
# other option holding a URL names one object
_DATA_OPTIONS = ("data_dir",)
_FOLDER_OPTIONS = ("out",)


def _url_values(args):
    """``(option, index, prefix, url)`` for every URL among the options (``index`` into a
    list option, ``prefix`` a ``name=`` before the URL, as in evaluate's --ckpt)."""
    from .storage import is_url  # pylint: disable=import-outside-toplevel
    found = []
    for name, value in vars(args).items():
        if name in ("argv", *_DATA_OPTIONS):
            continue
        for index, item in enumerate(value if isinstance(value, list) else [value]):
            if not isinstance(item, str):
                continue
            prefix, _, rest = item.rpartition("=") if not is_url(item) else ("", "", item)
            if is_url(rest):
                found.append((name, index if isinstance(value, list) else None,
                              f"{prefix}=" if prefix else "", rest))
    return found


def _stage(args, staging, found):
    """Point every URL option of ``args`` (and of ``args.argv``, which --workers hands to
    its workers) at its local stand-in in ``staging``."""
    swaps = {}
    for name, index, prefix, url in found:
        option = "--" + name.replace("_", "-")
        local = staging.folder(url, option) if name in _FOLDER_OPTIONS \
            else staging.file(url, option)
        if index is None:
            setattr(args, name, f"{prefix}{local}")
        else:
            getattr(args, name)[index] = f"{prefix}{local}"
        swaps[url] = str(local)
    if getattr(args, "argv", None):
        args.argv = [next((token[:-len(url)] + local for url, local in swaps.items()
                           if token == url or token.endswith("=" + url)), token)
                     for token in args.argv]


def _run(module, args):
    """``module.run(args)``; with URL options, on local stand-ins published once it has
    finished (exit 0, or 1 for a validation whose checks failed; never after an error),
    its errors naming the URLs."""
    found = _url_values(args)
    if not found:
        return _recorded(module, args)
    from .errors import MindsecError  # pylint: disable=import-outside-toplevel
    from .storage import Staging      # pylint: disable=import-outside-toplevel
    with Staging() as staging:
        try:
            _stage(args, staging, found)
            code = _recorded(module, args)
            if not code or code == 1:     # finished (1: validate's checks found a failure)
                staging.publish()
        except MindsecError as exc:
            raise type(exc)(staging.unmap(str(exc))) from None
    return code


def _record(args):
    """The run record of this command (beside ``--out``), or None: for ``status``, for a
    command without ``--out``, and in msrun's processes (the launcher records the job)."""
    module = COMMANDS[args.command][0]
    out = module.output_path(args) if hasattr(module, "output_path") else \
        getattr(args, "out", None)
    if args.command == "status" or out is None:
        return None
    from . import distributed, runrecord    # pylint: disable=import-outside-toplevel
    if distributed.in_cluster():
        return None
    options = {k: v for k, v in vars(args).items() if k not in ("command", "argv")}
    return runrecord.RunRecord(runrecord.record_path(out), args.command,
                               getattr(args, "argv", []), options)


def _recorded(module, args):
    """``module.run(args)`` with its run record started before and finished after (the
    exit status, and the error line of a failure); a record never fails a run."""
    from .errors import MindsecError  # pylint: disable=import-outside-toplevel
    record = _record(args)
    if record is not None:
        try:
            record.start()
        except OSError:            # an unwritable --out: the command itself says so
            record = None
    code, error = 1, None
    try:
        code = module.run(args)
        code = 0 if code is None else int(code)
        return code
    except MindsecError as exc:
        code, error = 2, f"error: {exc}"
        raise
    except KeyboardInterrupt:
        code, error = 130, "interrupted"
        raise
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        if record is not None:
            _finish(record, code, error, args)


def _finish(record, code, error, args):
    source = None
    if "mindsec.data" in sys.modules and hasattr(args, "dataset"):
        try:
            from . import data  # pylint: disable=import-outside-toplevel
            source = data.resolve_data_dir(getattr(args, "data_dir", None),
                                           dataset=args.dataset, verbose=False)
        except Exception:   # pylint: disable=broad-except  (a record never fails a run)
            source = None
    try:
        record.finish(code, error, source)
    except OSError:
        pass


def _main(argv):
    args = parse(argv)
    if args.quiet:
        from . import progress  # pylint: disable=import-outside-toplevel
        progress.set_quiet(True)
    return _run(COMMANDS[args.command][0], args)


def main(argv=None):
    """Entry point of the ``mindsec`` console script: returns the exit code."""
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
