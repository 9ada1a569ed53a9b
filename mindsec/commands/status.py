"""``mindsec status``: what a run did or is doing, from its record (``run.json``).

Every command writes a record beside its outputs (``<out>/run.json``, or
``<name>.run.json`` beside an output file) and rewrites it atomically while it runs: the
command line, versions, device, data and checkpoint digests, seed, times, the last
progress line, the exit status and the files written. ``mindsec status RUN_DIR`` prints
it; a run that says ``running`` but whose process is gone was killed (rerun the same
command: the long jobs resume from their last checkpoint).
"""


def add_arguments(parser):
    parser.add_argument("run_dir", help="a command's --out folder (or a record file)")
    parser.add_argument("--json", action="store_true", help="print the record as JSON")
    return parser


def run(args):
    import json   # pylint: disable=import-outside-toplevel
    from .. import runrecord    # pylint: disable=import-outside-toplevel
    for path, record in runrecord.read(args.run_dir):
        if args.json:
            print(json.dumps(record, indent=2))
        else:
            print(f"{path}:")
            print("\n".join(runrecord.describe(record)))
    return 0
