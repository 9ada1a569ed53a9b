"""Data-parallel training on MindSpore's own cluster engine (``msrun``).

``msrun --worker_num N --local_worker_num N --master_addr 127.0.0.1 --master_port PORT
--join True script.py ...`` starts N worker processes; in each, :func:`setup` calls
``mindspore.communication.init()`` (on CPU MindSpore picks its own ``mccl`` TCP backend)
and sets ``ParallelMode.DATA_PARALLEL`` with ``gradients_mean=True``. From then on mindsec's
training loops (``train.fit`` and every defense's ``batch_defense``) run data-parallel:

* ``batch_size`` is per worker, as in MindSpore's data parallelism; a global batch is
  ``batch_size * N`` samples drawn from the same seeded permutation on every worker, and
  worker ``r`` takes rows ``r * batch_size`` to ``(r + 1) * batch_size`` of it (its shard);
* each worker builds the adversarial part of its shard itself (the replace mask and random
  start are drawn for the global batch and sliced, so which samples are attacked does not
  depend on N);
* only the parameter gradients are all-reduced (``nn.DistributedGradReducer``, mean) before
  the optimizer update, inside the compiled train step; the epoch's loss and accuracy
  counts are summed across workers once per epoch for the progress line;
* worker 0 alone writes checkpoints and JSON; every worker resumes from the same file.

So N workers at ``batch_size`` B train exactly what one process trains at ``batch_size``
N * B (up to float summation order): ``tests/test_distributed.py`` checks it with two
workers. :func:`launch` runs ``msrun`` for a mindsec command and always cleans up its
processes; ``docs/distributed.md`` covers multi-node launches.
"""
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np

from .checks import check_count
from .errors import DeviceError

_state = {"rank": 0, "world": 1}


def in_cluster():
    """Whether ``msrun`` started this process (as a worker or as its scheduler)."""
    return os.environ.get("MS_ROLE") in ("MS_WORKER", "MS_SCHED") and \
        "MS_WORKER_NUM" in os.environ


def setup():
    """In a process ``msrun`` started: join the cluster and switch to data parallelism.
    Returns ``(rank, world)``; ``(0, 1)`` outside ``msrun``. Call after choosing the device
    and before building optimizers. (``msrun`` also runs the script as its scheduler;
    there ``init()`` serves the cluster and ends the process without returning.)"""
    if not in_cluster():
        return 0, 1
    import mindspore as ms  # pylint: disable=import-outside-toplevel
    from mindspore.communication import get_group_size, get_rank, init  # pylint: disable=import-outside-toplevel
    try:
        init()
    except RuntimeError as exc:
        raise DeviceError(f"could not join the msrun cluster: {str(exc).splitlines()[0]}") \
            from None
    ms.set_auto_parallel_context(parallel_mode=ms.ParallelMode.DATA_PARALLEL,
                                 gradients_mean=True)
    _state.update(rank=int(get_rank()), world=int(get_group_size()))
    return _state["rank"], _state["world"]


def rank():
    """This worker's rank (0 outside a cluster)."""
    return _state["rank"]


def world():
    """Number of workers (1 outside a cluster)."""
    return _state["world"]


def is_main():
    """True on the worker that writes files and prints the progress (rank 0)."""
    return _state["rank"] == 0


def local(rows):
    """This worker's shard of a global batch: rows ``[r * n / N, (r + 1) * n / N)``."""
    size = len(rows) // _state["world"]
    return rows[_state["rank"] * size:(_state["rank"] + 1) * size]


def grad_reducer(parameters):
    """``nn.DistributedGradReducer`` (mean) over ``parameters`` when data-parallel, else
    None."""
    if _state["world"] == 1:
        return None
    from mindspore import nn  # pylint: disable=import-outside-toplevel
    return nn.DistributedGradReducer(parameters, mean=True, degree=_state["world"])


def sum_across(values):
    """``values`` (numpy) summed over all workers (itself outside a cluster)."""
    values = np.asarray(values, np.float64)
    if _state["world"] == 1:
        return values
    import mindspore as ms  # pylint: disable=import-outside-toplevel
    from mindspore import ops  # pylint: disable=import-outside-toplevel
    return ops.AllReduce()(ms.Tensor(values.astype(np.float32))).asnumpy().astype(np.float64)


def free_port():
    """A TCP port free on this machine now (for ``--master_port``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def msrun_command(script_args, workers, port, log_dir, tail=0):
    """The ``msrun`` command line that runs ``python <script_args>`` on ``workers`` local
    workers (tailing worker ``tail``'s log to the console)."""
    check_count("workers", workers, low=2)       # a data-parallel run
    return [sys.executable, "-m", "mindspore.parallel.cluster.run",
            "--worker_num", str(workers), "--local_worker_num", str(workers),
            "--master_addr", "127.0.0.1", "--master_port", str(port), "--join", "True",
            "--log_dir", str(log_dir), "--tail_worker_log", str(tail), *map(str, script_args)]


def launch(script_args, workers, log_dir, timeout=None, port=None, echo=print):
    """Run ``python <script_args>`` data-parallel on ``workers`` local workers through
    ``msrun`` and return its exit code; worker 0's output goes to ``echo`` line by line
    (MindSpore's own ``[INFO]``/``[WARNING]`` lines left out; all logs stay in
    ``log_dir``). ``msrun`` spawns the ``python`` first on PATH, so this interpreter's
    directory is put first. Whatever happens (a failing worker, a timeout, Ctrl-C), every
    process of the job is killed before this returns: ``msrun`` starts each worker in a
    session of its own, so they are found by a token in their environment."""
    token = uuid.uuid4().hex
    env = dict(os.environ, MINDSEC_JOB=token)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("GLOG_v", "3")          # MindSpore's C++ INFO/WARNING lines off
    for key in ("MS_ROLE", "MS_WORKER_NUM", "MS_NODE_ID", "MS_SCHED_HOST", "MS_SCHED_PORT",
                "RANK_ID", "RANK_SIZE"):    # never inherit a parent job's identity
        env.pop(key, None)
    Path(log_dir).mkdir(parents=True, exist_ok=True)
    command = msrun_command(script_args, workers, port or free_port(), log_dir)
    deadline = None if timeout is None else time.monotonic() + timeout
    proc = subprocess.Popen(command, env=env, start_new_session=True, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    reader = threading.Thread(target=_echo, args=(proc.stdout, echo), daemon=True)
    reader.start()
    try:
        while proc.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise DeviceError(f"the data-parallel job did not finish in {timeout} s; "
                                  f"worker logs in {log_dir}")
            time.sleep(0.2)
        reader.join(timeout=5)
        return proc.returncode
    finally:
        kill_job(token)


def _echo(stream, echo):
    for line in stream:
        if not line.startswith(("[INFO]", "[WARNING]", "Start scheduler process",
                                "Start worker process")):
            echo(line.rstrip("\n"))


def job_processes(token):
    """The processes whose environment carries ``MINDSEC_JOB=token``."""
    import psutil  # pylint: disable=import-outside-toplevel
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and proc.environ().get("MINDSEC_JOB") == token:
                found.append(proc)
        except (psutil.Error, OSError):
            continue
    return found


def kill_job(token, grace=5.0):
    """Terminate (then kill) every process of the job ``token``; returns how many there
    were."""
    import psutil  # pylint: disable=import-outside-toplevel
    procs = job_processes(token)
    for proc in procs:
        try:
            proc.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for proc in alive:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=grace)
    return len(procs)

