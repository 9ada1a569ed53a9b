"""The image operations the transforms are built from, in numpy and scipy.ndimage, with
OpenCV's arithmetic (the reference MindArmour is built on) so results match it:

- warps (affine, perspective, remap) sample at coordinates quantised to 1/32 pixel and
  weight the four neighbours with integer weights summing to 2**15, zero outside the
  image, as OpenCV's bilinear ``INTER_LINEAR`` with ``BORDER_CONSTANT`` does;
- the bilinear resize uses OpenCV's 11-bit fixed-point coefficients and rounding;
- the Gaussian blur uses OpenCV's 8-bit fixed-point kernel (its tabulated 3, 5 and 7-tap
  kernels, error diffusion for the others) with reflect-101 borders;
- float results are rounded half to even where OpenCV rounds float values (``cvRound``)
  and half up where it rounds fixed-point sums; float32 multiply-adds are fused where
  OpenCV's vectorised loops fuse them.
"""
import numpy as np
from scipy import ndimage

TAB_BITS = 5                        # 1/32 pixel
TAB = 1 << TAB_BITS
SMALL_GAUSSIAN = {1: [1.0], 3: [0.25, 0.5, 0.25], 5: [0.0625, 0.25, 0.375, 0.25, 0.0625],
                  7: [0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125]}


def saturate_round(values):
    """Float values to uint8, rounded half to even and clipped."""
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def scale_add(pixels, alpha, beta):
    """``pixels * alpha + beta`` rounded once to float32 (a fused multiply-add, as
    OpenCV's vectorised 8-bit scaling computes it)."""
    return (pixels.astype(np.float64) * np.float64(np.float32(alpha))
            + np.float64(np.float32(beta))).astype(np.float32)


def invert_affine(matrix):
    """The inverse of a 2x3 affine matrix (zeros if it is singular)."""
    m = np.asarray(matrix, np.float64)
    det = m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0]
    det = 1.0 / det if det else 0.0
    a11, a22, a12, a21 = m[1, 1] * det, m[0, 0] * det, -m[0, 1] * det, -m[1, 0] * det
    return np.array([[a11, a12, -a11 * m[0, 2] - a12 * m[1, 2]],
                     [a21, a22, -a21 * m[0, 2] - a22 * m[1, 2]]])


def rotation_matrix(center, angle):
    """The 2x3 matrix rotating by ``angle`` degrees (counter-clockwise on screen) about
    ``center`` = (x, y), scale 1."""
    theta = angle * np.pi / 180
    alpha, beta = np.cos(theta), np.sin(theta)
    cx, cy = center
    return np.array([[alpha, beta, (1 - alpha) * cx - beta * cy],
                     [-beta, alpha, beta * cx + (1 - alpha) * cy]])


def _sample(image, fx, fy):
    """Bilinear samples of ``image`` (H, W) or (H, W, C) at fixed-point coordinates ``fx``,
    ``fy`` (int arrays (h, w) in 1/32 pixel), zero outside."""
    height, width = image.shape[:2]
    sx, sy = fx >> TAB_BITS, fy >> TAB_BITS
    tx, ty = fx & (TAB - 1), fy & (TAB - 1)
    integer = image.dtype == np.uint8
    src = image.astype(np.int64 if integer else np.float64)
    out = 0
    for dy, wy in ((0, TAB - ty), (1, ty)):
        for dx, wx in ((0, TAB - tx), (1, tx)):
            xx, yy = sx + dx, sy + dy
            inside = (xx >= 0) & (xx < width) & (yy >= 0) & (yy < height)
            values = src[np.clip(yy, 0, height - 1), np.clip(xx, 0, width - 1)]
            weight = np.where(inside, wx * wy, 0)
            if image.ndim == 3:
                weight = weight[..., None]
            out = out + values * (weight * TAB if integer else weight / (TAB * TAB))
    if integer:       # weights sum to 2**15: round the fixed-point sum half up
        return ((out + (1 << 14)) >> 15).clip(0, 255).astype(np.uint8)
    return out


def warp_affine(image, matrix, size):
    """``image`` mapped by the 2x3 ``matrix`` (source to destination) onto an image of
    ``size`` = (width, height): each output pixel samples the inverse map."""
    width, height = size
    inv = invert_affine(matrix)
    scale = 1 << 10                      # the map is accumulated with 10 fractional bits
    xs, ys = np.arange(width), np.arange(height)
    ax = np.rint(inv[0, 0] * xs * scale).astype(np.int64)
    bx = np.rint(inv[1, 0] * xs * scale).astype(np.int64)
    half = scale // TAB // 2
    ay = np.rint((inv[0, 1] * ys + inv[0, 2]) * scale).astype(np.int64) + half
    by = np.rint((inv[1, 1] * ys + inv[1, 2]) * scale).astype(np.int64) + half
    shift = 10 - TAB_BITS
    fx = (ay[:, None] + ax[None, :]) >> shift
    fy = (by[:, None] + bx[None, :]) >> shift
    return _sample(image, fx, fy)


def _solve(a, b):
    """``a x = b`` by Gaussian elimination with partial pivoting, in the textbook order
    (the order OpenCV solves in, so the last bits agree)."""
    a, b = np.array(a, np.float64), np.array(b, np.float64)
    n = len(b)
    for i in range(n):
        k = i + int(np.argmax(np.abs(a[i:, i])))
        if abs(a[k, i]) < np.finfo(np.float64).eps * 10:
            raise np.linalg.LinAlgError("singular system")
        if k != i:
            a[[i, k], i:], b[[i, k]] = a[[k, i], i:], b[[k, i]]
        d = -1 / a[i, i]
        for j in range(i + 1, n):
            alpha = a[j, i] * d
            a[j, i + 1:] += alpha * a[i, i + 1:]
            b[j] += alpha * b[i]
    for i in range(n - 1, -1, -1):
        total = b[i]
        for k in range(i + 1, n):
            total -= a[i, k] * b[k]
        b[i] = total / a[i, i]
    return b


def perspective_matrix(src, dst):
    """The 3x3 homography taking the four points ``src`` to ``dst`` ((4, 2) each, float32:
    the products of coordinates are float32, as in OpenCV)."""
    src, dst = np.asarray(src, np.float32), np.asarray(dst, np.float32)
    a = np.zeros((8, 8))
    b = np.zeros(8)
    for i in range(4):
        (x, y), (u, v) = src[i], dst[i]
        a[i] = [x, y, 1, 0, 0, 0, -(x * u), -(y * u)]
        a[i + 4] = [0, 0, 0, x, y, 1, -(x * v), -(y * v)]
        b[i], b[i + 4] = u, v
    return np.append(_solve(a, b), 1.0).reshape(3, 3)


def invert3(m):
    """The inverse of a 3x3 matrix by its adjugate (zeros if singular)."""
    m = np.asarray(m, np.float64)
    det = (m[0, 0] * (m[1, 1] * m[2, 2] - m[1, 2] * m[2, 1])
           - m[0, 1] * (m[1, 0] * m[2, 2] - m[1, 2] * m[2, 0])
           + m[0, 2] * (m[1, 0] * m[2, 1] - m[1, 1] * m[2, 0]))
    if det == 0:
        return np.zeros((3, 3))
    d = 1.0 / det
    (a, b, c), (e, f, g), (h, i, j) = m
    return np.array([[(f * j - g * i) * d, (c * i - b * j) * d, (b * g - c * f) * d],
                     [(g * h - e * j) * d, (a * j - c * h) * d, (c * e - a * g) * d],
                     [(e * i - f * h) * d, (b * h - a * i) * d, (a * f - b * e) * d]])


def warp_perspective(image, matrix, size):
    """``image`` mapped by the homography ``matrix`` onto an image of ``size`` (w, h)."""
    width, height = size
    inv = invert3(matrix).ravel()
    xs = np.arange(width, dtype=np.float64)[None, :]
    ys = np.arange(height, dtype=np.float64)[:, None]
    w = (inv[7] * ys + inv[8]) + inv[6] * xs
    with np.errstate(divide="ignore"):
        w = np.where(w != 0, TAB / np.where(w != 0, w, 1), 0.0)
    limit = (float(np.iinfo(np.int32).min), float(np.iinfo(np.int32).max))
    fx = np.rint(np.clip(((inv[1] * ys + inv[2]) + inv[0] * xs) * w, *limit)).astype(np.int64)
    fy = np.rint(np.clip(((inv[4] * ys + inv[5]) + inv[3] * xs) * w, *limit)).astype(np.int64)
    return _sample(image, fx, fy)


def remap(image, map_x, map_y):
    """``image`` sampled at the float coordinates ``map_x``, ``map_y`` (float32 (h, w))."""
    fx = np.rint(np.asarray(map_x, np.float32) * np.float32(TAB)).astype(np.int64)
    fy = np.rint(np.asarray(map_y, np.float32) * np.float32(TAB)).astype(np.int64)
    return _sample(image, fx, fy)


def _resize_taps(n_out, n_in):
    """Source indices and 11-bit weights of the bilinear resize along one axis (positions
    in float32, as OpenCV computes them)."""
    scale = 1.0 / (n_out / n_in)
    pos = ((np.arange(n_out) + 0.5) * scale - 0.5).astype(np.float32)
    low = np.floor(pos).astype(np.int64)
    frac = (pos - low.astype(np.float32)).astype(np.float32)
    frac = np.where(low < 0, np.float32(0), frac)
    low = np.clip(low, 0, n_in - 1)
    frac = np.where(low >= n_in - 1, np.float32(0), frac)
    high = np.minimum(low + 1, n_in - 1)
    one = np.float32(1 << 11)
    return low, high, np.rint((np.float32(1) - frac) * one).astype(np.int64), \
        np.rint(frac * one).astype(np.int64)


def resize(image, size):
    """Bilinear resize of a uint8 ``image`` to ``size`` = (width, height), half-pixel
    centres, edge pixels repeated."""
    width, height = size
    y0, y1, b0, b1 = _resize_taps(height, image.shape[0])
    x0, x1, a0, a1 = _resize_taps(width, image.shape[1])
    src = image.astype(np.int64)
    extra = (None,) * (image.ndim - 2)
    col, row = (slice(None), None) + extra, (None, slice(None)) + extra
    rows = src[:, x0] * a0[row] + src[:, x1] * a1[row]       # 11 fractional bits
    # the vertical pass as OpenCV's vectorised one: drop 4 bits, high 16 bits of the
    # products, then round away the last 2
    out = ((((rows[y0] >> 4) * b0[col]) >> 16) + (((rows[y1] >> 4) * b1[col]) >> 16) + 2) >> 2
    return out.clip(0, 255).astype(np.uint8)


def gaussian_kernel(n):
    """OpenCV's fixed-point Gaussian kernel of ``n`` (odd) taps for sigma derived from the
    size, as integers summing to 256."""
    if n in SMALL_GAUSSIAN:
        k = np.array(SMALL_GAUSSIAN[n])
    else:
        sigma = ((n - 1) * 0.5 - 1) * 0.3 + 0.8
        x = np.arange(n) - (n - 1) / 2
        k = np.exp(-x * x / (2 * sigma * sigma))
        k /= k.sum()
    taps = np.zeros(n, np.int64)
    err = 0.0
    for i in range(n // 2):               # error diffusion from the edges in
        value = k[i] * 256 + err
        taps[i] = taps[n - 1 - i] = int(np.rint(value))
        err = value - taps[i]
    taps[n // 2] = 256 - 2 * taps[: n // 2].sum()
    return taps


def gaussian_blur(image, n):
    """Separable Gaussian blur of a uint8 ``image`` with an ``n``-tap kernel, reflect-101
    borders; the exact fixed-point sum rounded half up."""
    k = gaussian_kernel(n).astype(np.float64)
    out = ndimage.correlate1d(image.astype(np.float64), k, axis=1, mode="mirror")
    out = ndimage.correlate1d(out, k, axis=0, mode="mirror")
    return np.floor(out / 65536 + 0.5).clip(0, 255).astype(np.uint8)


def filter2d(image, kernel):
    """Correlation of a uint8 ``image`` with a float ``kernel`` (anchor at its centre),
    reflect-101 borders, per channel, rounded to uint8. The sum runs over the kernel's
    non-zero taps in row order in float32, each step a fused multiply-add, as OpenCV's
    direct 8-bit filter does (it switches to a DFT from 130 taps: there results may
    differ by one grey level)."""
    taps = np.asarray(kernel, np.float32)
    kh, kw = taps.shape
    ay, ax = kh // 2, kw // 2
    pad = [(ay, kh - 1 - ay), (ax, kw - 1 - ax)] + [(0, 0)] * (image.ndim - 2)
    padded = np.pad(image, pad, mode="reflect").astype(np.float64)
    h, w = image.shape[:2]
    acc = np.zeros(image.shape, np.float32)
    for i, j in zip(*np.nonzero(taps)):
        acc = (acc + np.float64(taps[i, j]) * padded[i:i + h, j:j + w]).astype(np.float32)
    return saturate_round(acc)
