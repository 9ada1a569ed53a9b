"""MindArmour's natural perturbations of one image, under its class names, arguments and
defaults: ``from mindsec.natural_robustness.transform.image import Contrast`` works as
``from mindarmour.natural_robustness.transform.image import Contrast`` does.

Each transform is called on one numpy image, (H, W), (1, H, W) or (H, W, 1) grayscale, or
(H, W, 3) or (3, H, W) colour, uint8 or float, values in [0, 1] or [0, 255] (an image
whose values all lie in [0, 1] is read as scaled to [0, 1], as in MindArmour), and returns
an image of the same shape, layout, scale and dtype ((H, W, 1), which MindArmour 2.0
reads as its first row, is read as the image). The work is done on uint8 pixels,
so float images come back on the 1/255 grid (except the additive noises). Random
transforms draw from ``np.random`` like MindArmour (``np.random.seed`` makes them
repeatable); ``transform(image, rng)`` draws from a ``numpy.random.RandomState`` instead.
"""
from .transformation import Translate, Scale, Shear, Rotate, Perspective, Curve
from .blur import GaussianBlur, MotionBlur, GradientBlur
from .luminance import Contrast, GradientLuminance
from .corruption import UniformNoise, GaussianNoise, SaltAndPepperNoise, NaturalNoise

__all__ = ["Translate", "Scale", "Shear", "Rotate", "Perspective", "Curve",
           "GaussianBlur", "MotionBlur", "GradientBlur", "Contrast", "GradientLuminance",
           "UniformNoise", "GaussianNoise", "SaltAndPepperNoise", "NaturalNoise"]
