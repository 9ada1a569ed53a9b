"""The norm objects every attack and defense shares: direction, projection, random start,
distance, on the device and against numpy."""
import numpy as np
import pytest
import mindspore as ms

from mindsec.attacks.norms import L1, L2, LINF, get_norm
from mindsec.errors import InputError

pytestmark = pytest.mark.fast
NORMS = [LINF, L2, L1]


def _project_l1_reference(v, radius):
    """Duchi et al.'s projection onto the L1 ball, one row at a time (float64)."""
    if np.abs(v).sum() <= radius:
        return v
    u = np.sort(np.abs(v))[::-1]
    css = np.cumsum(u)
    rho = np.nonzero(u * np.arange(1, len(u) + 1) > css - radius)[0][-1]
    theta = (css[rho] - radius) / (rho + 1.0)
    return np.sign(v) * np.maximum(np.abs(v) - theta, 0.0)


@pytest.mark.parametrize("norm", NORMS, ids=repr)
def test_projection_lands_in_the_ball_and_keeps_what_is_inside(norm):
    rng = np.random.default_rng(0)
    delta = rng.standard_normal((6, 1, 4, 5)).astype(np.float32)
    delta[0] *= 1e-3                                      # already inside
    delta[1:] *= 3.0                                      # outside, in every norm
    radius = 1.5
    out = norm.project(ms.Tensor(delta), radius).asnumpy()
    sizes = norm.distance(out, np.zeros_like(out))
    assert np.all(sizes <= radius * (1 + 1e-5)), sizes
    np.testing.assert_allclose(out[0], delta[0], rtol=1e-6)
    assert np.all(norm.distance(out[1:], np.zeros_like(out[1:])) > radius * (1 - 1e-4))


def test_l1_projection_is_the_euclidean_projection():
    rng = np.random.default_rng(1)
    delta = (rng.standard_normal((8, 30)) * rng.uniform(0.1, 3, (8, 1))).astype(np.float32)
    out = L1.project(ms.Tensor(delta), 4.0).asnumpy()
    expected = np.stack([_project_l1_reference(row.astype(np.float64), 4.0) for row in delta])
    np.testing.assert_allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize("norm", NORMS, ids=repr)
def test_random_start_is_inside_the_ball_and_repeats_with_a_seed(norm):
    shape, radius = (200, 1, 6, 6), 0.7
    a = norm.random_start(np.random.default_rng(3), shape, radius)
    b = norm.random_start(np.random.default_rng(3), shape, radius)
    assert a.dtype == np.float32 and a.shape == shape
    np.testing.assert_array_equal(a, b)
    sizes = norm.distance(a, np.zeros_like(a))
    assert sizes.max() <= radius * (1 + 1e-5)
    assert sizes.mean() > 0.3 * radius           # spread through the ball, not at 0


def test_directions_are_unit_steps():
    g = ms.Tensor(np.random.default_rng(2).standard_normal((5, 3, 4)).astype(np.float32))
    np.testing.assert_array_equal(LINF.direction(g).asnumpy(), np.sign(g.asnumpy()))
    for norm in (L2, L1):
        unit = norm.direction(g).asnumpy()
        np.testing.assert_allclose(norm.distance(unit, np.zeros_like(unit)), 1.0, rtol=1e-5)
    # FGM's Linf step normalises by the largest component (MindArmour's), not the sign
    flat = g.asnumpy().reshape(5, -1)
    np.testing.assert_allclose(LINF.normalize(g).asnumpy().reshape(5, -1),
                               flat / np.abs(flat).max(axis=1, keepdims=True), rtol=1e-6)


def test_distance_matches_numpy_and_divides_by_the_range():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((2, 7, 10))
    for norm, order in ((LINF, np.inf), (L2, 2), (L1, 1)):
        np.testing.assert_allclose(norm.distance(a, b, scale=2.0),
                                   np.linalg.norm(a - b, ord=order, axis=1) / 2.0)


def test_norm_levels_as_mindarmour_spells_them():
    for spelling, norm in ((np.inf, LINF), ("inf", LINF), ("Linf", LINF), (2, L2), ("l2", L2),
                           (1, L1), ("1", L1), (L2, L2)):
        assert get_norm(spelling) is norm, spelling
    with pytest.raises(InputError, match=r"norm_level must be 1, 2 or np.inf .*got 3$"):
        get_norm(3)
    with pytest.raises(InputError, match="norm_level must be 2 or np.inf for DeepFool"):
        get_norm(1, allowed=("l2", "linf"), owner="DeepFool")
    assert repr(L1) == "L1" and str(LINF) == "Linf"
