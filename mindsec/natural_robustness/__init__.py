"""Natural robustness: MindArmour's natural perturbations of images (geometric
transforms, blur, luminance, noise), under MindArmour's names and arguments
(``mindsec.natural_robustness.transform.image``)."""
