"""The ``mindsec`` command.

    mindsec train    --ckpt runs/lenet5.ckpt
    mindsec attack   --ckpt runs/lenet5.ckpt --attack fgsm --eps 0.3
    mindsec defend   --ckpt runs/lenet5.ckpt --full [--workers 2]
    mindsec evaluate --ckpt runs/lenet5.ckpt --ckpt nad=runs/nad/lenet5_nad_full.ckpt
    mindsec report   --ckpt runs/nad/lenet5_nad_full.ckpt --baseline runs/lenet5.ckpt
    mindsec validate --device GPU --reference runs/validate/validate-CPU.json

Exit codes: 0 success; 1 a check failed (validate); 2 bad input (one line on stderr:
a wrong argument, a missing or corrupt file, an unavailable device); 130 interrupted.
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


def _main(argv):
    args = parse(argv)
    return COMMANDS[args.command][0].run(args)


def main(argv=None):
    """Entry point of the ``mindsec`` console script: returns the exit code."""
    return run_main(_main, argv)


def run_example(command, doc, argv=None, defaults=None):
    """Run ``command`` with an example script's docstring as its help (and ``defaults``
    for some options): the scripts in ``examples/`` are the commands under a tutorial's
    name."""
    module = COMMANDS[command][0]
    parser = argparse.ArgumentParser(description=doc.split("\n\n", 1)[0],
                                     epilog=doc.split("\n\n", 1)[1] if "\n\n" in doc else None,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    module.add_arguments(parser)
    parser.set_defaults(**(defaults or {}))

    def body(args_in):
        args = parser.parse_args(args_in)
        args.argv = list(sys.argv[1:] if args_in is None else args_in)
        return module.run(args)
    return run_main(body, argv)


if __name__ == "__main__":
    sys.exit(main())
