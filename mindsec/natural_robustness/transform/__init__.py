"""Natural perturbations, by kind of input (``transform.image``)."""
