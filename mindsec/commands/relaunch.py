"""``--workers N``: a command run again on N local msrun workers."""
from pathlib import Path


def relaunch(command, args, workers, logs=None):
    """Run ``mindsec <command> <its arguments>`` again on ``workers`` local msrun workers
    (``--workers N`` of train, defend and adv-train); 0, or a one-line error naming the
    logs (in ``logs``, default ``<--out>/logs``)."""
    # pylint: disable=import-outside-toplevel
    from .. import distributed
    from ..errors import DeviceError
    entry = Path(__file__).resolve().parent.parent / "_entry" / "worker.py"
    logs = Path(logs or Path(args.out) / "logs")
    print(f"starting {workers} workers through msrun (logs in {logs})")
    code = distributed.launch([entry, command, *args.argv], workers, logs)
    if code:
        raise DeviceError(f"the data-parallel job failed (exit {code}); worker logs in {logs}")
    return 0
