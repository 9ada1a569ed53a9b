"""Process-wide runtime settings applied when mindsec is imported.

oneDNN cap. MindSpore's CPU convolutions run through oneDNN (3.10 in MindSpore 2.10). On
CPUs with AVX-512 (e.g. Xeon Sapphire Rapids, which reports AVX-512 FP16 and AMX), oneDNN
dispatches MindSpore's plain NCHW convolutions to ``jit_uni_ncsp:conv+ref``, a reference
kernel; capped at AVX2 it uses its jit GEMM path. Measured on a 2-core Xeon with
AVX-512 FP16: a LeNet5 train step at batch 32 takes 61 ms uncapped, 4.7 ms capped (13x);
one 5x5 conv over 512 images 232 ms vs 5.4 ms. ``bench/`` has a row for it.

mindsec therefore sets ``ONEDNN_MAX_CPU_ISA=AVX2`` unless the variable is already set; set
it yourself (e.g. ``ONEDNN_MAX_CPU_ISA=ALL``) to keep oneDNN's own choice. It must be in
place before the first oneDNN primitive runs, so import mindsec before running a network.
"""
import os
import platform

ONEDNN_ISA_VAR = "ONEDNN_MAX_CPU_ISA"
ONEDNN_ISA_DEFAULT = "AVX2"


def apply_onednn_cap():
    """Set the oneDNN ISA cap on x86-64 unless the user chose one. Returns the value in
    force (or ``None`` where it does not apply)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return os.environ.get(ONEDNN_ISA_VAR)
    os.environ.setdefault(ONEDNN_ISA_VAR, ONEDNN_ISA_DEFAULT)
    return os.environ[ONEDNN_ISA_VAR]
