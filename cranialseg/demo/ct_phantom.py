"""Synthetic 3D head CT phantoms with ventricles and the four intracranial haemorrhage types.

Anatomy (anatomical frame in mm: ``u`` to the patient's left, ``v`` posterior, ``w`` superior; the array axes
``(i, j, k)`` run along ``+u, +v, +w``, i.e. DICOM LPS with an identity orientation, see :func:`phantom_affine`):
scalp (skin 40 HU over fat -80 HU), skull (inner/outer tables ~1500 HU, diploe ~700 HU, varying thickness), skull
base with air sinuses, extra-axial CSF, cortex (grey matter) with CSF-filled sulci, white matter, deep grey nuclei,
falx, lateral/third/fourth ventricles (label 1) of a random size from slit-like to hydrocephalic, choroid and
pineal calcifications. Haemorrhages (Heit et al., "Imaging of intracranial hemorrhage", J Stroke 2017):

* EDH (label 2): biconvex lens against the inner table, 55-85 HU, sometimes with a hypodense "swirl";
* SDH (label 3): crescent along the convexity of one hemisphere, never across the midline; acute 55-85 HU or
  subacute, nearly isodense to cortex (40-55 HU);
* IPH (label 4): lobulated blob in the parenchyma, 60-90 HU, with a hypodense oedema rim (15-24 HU, unlabelled);
* IVH (label 5): blood layering in the dependent (posterior) part of a lateral ventricle, 50-80 HU.

Haemorrhage mimics (blood-dense normal anatomy, never labelled, in negatives and positives alike; the reason a
naive network paints "SDH" along the inner table of a real scan): dural venous sinuses (superior sagittal,
transverse, straight; 42-62 HU), the tentorium (55-85 HU sheet over the posterior fossa), a dense choroid glomus,
calcified choroid plexus and pineal (100-450 HU, 1-7 mm), falx plaques and basal ganglia calcification, beam
hardening in two bands under the inner table (up to ~26 HU), dark and bright streaks between the petrous bones.
``negative_fraction`` adds lesion-free cases (hard negatives); ``mimics=False`` switches the anatomy off.

Image formation: three sub-slices per slice are averaged (thick-slice partial volume, which turns the inner table
into a 100-300 HU rim), skull blooming (the tails of the PSF and slice profile spread a per-case 0-20 % of the
bone's excess over 1.5-3 mm: the 45-70 HU band under the inner table of real scans, see
:mod:`cranialseg.demo.realism`), in half the cases one or two slices near the vertex interpolated from their
neighbours (a gap in the slice positions filled by the reader: bone and brain blend into a ring), an in-plane PSF
(0.72 mm), beam hardening, a smooth intensity inhomogeneity, per-case grey/white contrast and correlated noise of
2.5-5.5 HU with a per-case grain (0.9-1.6 mm, soft to sharp kernels). These make intensity thresholds unreliable, as
in real scans (see :mod:`cranialseg.demo.baseline`). A default case (128 x 128 x 32 at 1.8 x 1.8 x 5 mm) takes about
1 s on one core; the CT bundle's recipe grid (224 x 224 x 32 at 1 x 1 x 5 mm) about 3-6 s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from scipy import ndimage

__all__ = ["CT_LABELS", "CTPhantom", "generate_ct_phantom", "phantom_affine"]

#: Label values of the CT task.
CT_LABELS: dict[str, int] = {"background": 0, "ventricles": 1, "EDH": 2, "SDH": 3, "IPH": 4, "IVH": 5}

_SUBSLICES = 3
#: A thick-slice case (``thick_slices``) is reconstructed with slices this thick (mm), drawn per case.
THICK_SLICE_MM = (6.5, 8.0)


@dataclass
class CTPhantom:
    """One generated case: ``hu`` int16 ``(x, y, z)``, ``label`` uint8, ``affine`` (RAS, 4x4), ``lesions``.

    ``slice_thickness_mm``: the acquired slice thickness (``spacing[2]``, or a thick-slice case's before
    resampling). ``pose`` maps grid millimetres ``x`` (array axes, origin at the volume centre) to the anatomical frame:
    ``p = rotation.T @ (x - shift)``; ``p[0] > 0`` is the patient's left hemisphere.
    """

    hu: np.ndarray
    label: np.ndarray
    affine: np.ndarray
    lesions: list[str] = field(default_factory=list)
    pose: dict = field(default_factory=dict)
    slice_thickness_mm: float | None = None


def phantom_affine(shape: Sequence[int], spacing: Sequence[float]) -> np.ndarray:
    """RAS affine of a phantom grid: array axes along patient left, posterior, superior; centre at the origin.

    This is the NIfTI view of a DICOM series with ImageOrientationPatient ``1/0/0/0/1/0`` (LPS), so the x and
    y axes are flipped: ``RAS = diag(-sx, -sy, sz) @ (ijk - centre)``.
    """
    sx, sy, sz = (float(s) for s in spacing)
    centre = (np.asarray(shape, dtype=float) - 1.0) / 2.0
    affine = np.diag([-sx, -sy, sz, 1.0])
    affine[:3, 3] = -affine[:3, :3] @ centre
    return affine


def _smooth_field(rng: np.random.Generator, shape: Sequence[int], sigma: Sequence[float]) -> np.ndarray:
    """Gaussian random field of unit standard deviation (``sigma`` in voxels per axis)."""
    f = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma, mode="wrap")
    return f / max(float(f.std()), 1e-6)


def _segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance of ``points`` (N, 3) to segment ab and the segment parameter t in [0, 1]."""
    ab = (b - a).astype(np.float32)
    rel = points - a.astype(np.float32)
    t = np.clip(rel @ (ab / float(ab @ ab)), 0.0, 1.0)
    dx, dy, dz = (rel[:, i] - t * ab[i] for i in range(3))
    return np.sqrt(dx * dx + dy * dy + dz * dz), t


def _ventricles(u: np.ndarray, v: np.ndarray, w: np.ndarray, f: float, asym: float) -> np.ndarray:
    """Boolean lateral + third + fourth ventricles at anatomical points (mm); ``f`` is the dilation factor."""
    reach = 30.0 + 12.0 * f
    box = (np.abs(u) < reach) & (np.abs(v - 5) < reach + 25) & (np.abs(w + 5) < 40)
    out = np.zeros(u.shape, dtype=bool)
    q = np.stack([u[box], v[box], w[box]], axis=-1)
    sub = np.zeros(q.shape[0], dtype=bool)
    for side, g in ((1.0, f * (1.0 + asym)), (-1.0, f * (1.0 - asym))):
        pts = {
            "frontal": np.array([side * (9 + 3 * g), -30 - 3 * g, 10 + 2 * g]),
            "body": np.array([side * (7 + 4 * g), -8, 16 + 3 * g]),
            "atrium": np.array([side * (15 + 5 * g), 18 + 2 * g, 10]),
            "occipital": np.array([side * (17 + 3 * g), 40 + 4 * g, 4]),
            "temporal": np.array([side * (26 + 3 * g), -4, -16]),
        }
        radius = {"frontal": 3.6 * g, "body": 4.4 * g, "atrium": 6.5 * g, "occipital": 2.6 * g, "temporal": 2.2 * g}
        for s, e in (("frontal", "body"), ("body", "atrium"), ("atrium", "occipital"), ("atrium", "temporal")):
            d, t = _segment_distance(q, pts[s], pts[e])
            sub |= d < radius[s] + (radius[e] - radius[s]) * t
    u, v, w = q[:, 0], q[:, 1], q[:, 2]
    sub |= ((u / (1.0 + 1.2 * f)) ** 2 + ((v - 2) / 11) ** 2 + ((w + 4) / 9) ** 2) < 1  # third ventricle
    sub |= ((u / 5) ** 2 + ((v - 30) / 3.5) ** 2 + ((w + 42) / 5) ** 2) < 1  # fourth ventricle
    out[box] = sub
    return out


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    ry = np.array([[cr, 0, sr], [0, 1, 0], [-sr, 0, cr]])
    return rz @ rx @ ry


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _add_mimics(
    rng: np.random.Generator,
    hu: np.ndarray,
    inside: np.ndarray,
    brain: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    w: np.ndarray,
    depth: np.ndarray,
    base: np.ndarray,
    axes: Sequence[float],
    atria: Sequence[Sequence[float]],
    vent_f: float,
) -> None:
    """Write the hyperdense normal anatomy that fools a naive haemorrhage detector into ``hu`` (in place).

    Dural venous sinuses (superior sagittal, transverse, straight; circulating blood, 42-62 HU), the tentorium
    (a dense dural sheet over the cerebellum), a dense uncalcified choroid glomus in the atria, falx and basal
    ganglia calcifications. None of them is labelled: the network must learn them as background.
    """
    blood = rng.uniform(42.0, 62.0)
    # superior sagittal sinus: a triangle under the midline of the vault, wider posteriorly
    width = 2.5 + 3.0 * np.clip((v + 40.0) / 110.0, 0.0, 1.0)
    sss = inside & (depth < 7.0) & (np.abs(u) < width * (1.0 - depth / 7.0)) & (w > base + 12.0) & (v > -55.0)
    hu[sss] = blood
    # transverse sinuses along the occipital inner table at the tentorium's attachment, meeting at the torcula
    level = -24.0 + rng.uniform(-4.0, 4.0) - 0.08 * np.abs(u)
    hu[inside & (depth < 5.5) & (v > 25.0) & (np.abs(w - level) < 3.2)] = blood
    # tentorium: a tent over the posterior fossa, highest at the midline, open at the incisura
    tent_w = -28.0 + 18.0 * np.exp(-((u / 32.0) ** 2)) - 0.12 * (v - 40.0) + rng.uniform(-3.0, 3.0)
    notch = (np.abs(u) < 11.0) & (v < 28.0)
    tent = inside & (v > 4.0) & (np.abs(w - tent_w) < rng.uniform(0.5, 1.1)) & ~notch & (np.abs(u) < 60.0)
    hu[tent] = rng.uniform(55.0, 85.0)
    # straight sinus, from the vein of Galen to the torcula
    box = inside & (np.abs(u) < 5.0) & (v > 20.0) & (w < 8.0) & (w > -40.0)
    if box.any():
        d, _ = _segment_distance(
            np.stack([u[box], v[box], w[box]], -1), np.array([0.0, 28.0, 2.0]), np.array([0.0, 0.9 * axes[1], -24.0])
        )
        straight = np.zeros_like(box)
        straight[box] = d < 2.4
        hu[straight] = blood
    if rng.random() < 0.35:  # dense, uncalcified choroid glomus (the classic IVH mimic)
        for c in atria:
            r = rng.uniform(2.0, 3.5) * min(1.0, vent_f)  # the glomus fills less of a slit-like atrium
            glomus = inside & ((u - c[0]) ** 2 + ((v - c[1]) / 1.3) ** 2 + (w - c[2]) ** 2 < r * r)
            hu[glomus] = np.maximum(hu[glomus], rng.uniform(40.0, 62.0))
    if rng.random() < 0.3:  # falx calcification: flat plaques along the falx
        for _ in range(int(rng.integers(1, 4))):
            cv = rng.choice([-1.0, 1.0]) * rng.uniform(26.0, 60.0)
            cw, r = rng.uniform(20.0, 50.0), rng.uniform(1.5, 4.5)
            plaque = inside & ((u / 1.2) ** 2 + ((v - cv) / r) ** 2 + ((w - cw) / r) ** 2 < 1.0)
            hu[plaque] = rng.uniform(200.0, 900.0)
    if rng.random() < 0.12:  # basal ganglia (globus pallidus) calcification, both sides: an IPH mimic
        r = rng.uniform(0.6, 1.2)
        hu_bg = rng.uniform(80.0, 250.0)
        for side in (1.0, -1.0):
            dist = ((u - side * 18.0) / (3.0 * r)) ** 2 + ((v + 2.0) / (5.0 * r)) ** 2 + (w / (4.0 * r)) ** 2
            bg = brain & (dist < 1)
            hu[bg] = hu_bg


def _fill_vertex_gap(hu: np.ndarray, brain_slices: np.ndarray, count: int, offset: int, weight: float) -> None:
    """Replace ``count`` slices ending ``offset`` slices below the top brain slice by a linear blend of the two
    acquired slices around them (in place), as a reader fills a gap in the slice positions by interpolation."""
    top = int(np.flatnonzero(brain_slices)[-1]) if brain_slices.any() else -1
    last = min(top - offset, hu.shape[2] - 2)  # the last interpolated slice keeps an acquired slice above it
    first = last - count + 1
    if first < 1:
        return
    below, above = hu[..., first - 1].copy(), hu[..., last + 1].copy()
    for n, k in enumerate(range(first, last + 1)):
        t = (n + weight) / count  # position between the two acquired slices
        hu[..., k] = (1.0 - t) * below + t * above


def generate_ct_phantom(
    rng: np.random.Generator,
    shape: Sequence[int] = (128, 128, 32),
    spacing: Sequence[float] = (1.8, 1.8, 5.0),
    lesion_probability: dict[str, float] | None = None,
    negative_fraction: float = 0.0,
    mimics: bool = True,
    bloom: bool = True,
    vertex_gap: float = 0.5,
    thick_slices: float = 0.0,
) -> CTPhantom:
    """Generate one head CT phantom.

    Args:
        rng: numpy random generator (the case is a deterministic function of its state).
        shape: grid ``(x, y, z)``; the field of view is ``shape * spacing`` mm (default 230 x 230 x 160 mm).
        spacing: voxel size in mm; thick slices (5 mm) by default, like routine head CT.
        lesion_probability: probability of each lesion type per case (default EDH 0.3, SDH 0.35, IPH 0.35,
            IVH 0.3; about a fifth of the cases have no haemorrhage).
        negative_fraction: probability that a case has no haemorrhage at all, drawn before the lesion types (hard
            negatives: the mimics below without any blood); 0 leaves only ``lesion_probability``.
        mimics: add the blood-dense normal anatomy (dural venous sinuses, tentorium, dense choroid glomus, falx
            and basal ganglia calcifications; :func:`_add_mimics`); False for an ablation.
        bloom: add skull blooming, a per-case fraction (0-20 %) of the bone's excess over 100 HU spread by a
            Gaussian of 1.5-3.0 mm in-plane and 0.5-2.5 mm along the slices (the tails of the scanner's PSF and
            slice profile): a blood-dense band 1-3 mm under the inner table, as real scans have; False for an ablation.
        vertex_gap: probability that one or two slices near the vertex were not acquired and are interpolated from
            their neighbours, as a reader's resampling fills a gap in the slice positions (the real GE series has a
            7.4 mm step at the top): where the skull cap is cut tangentially, bone and brain blend into a broad
            50-160 HU ring that is not blood (labels keep the anatomy); 0 for an ablation.
        thick_slices: probability that the case is acquired in thick slices (6.5-8 mm, as the upper half of the
            real GE series: 7 mm) and resampled to ``spacing`` by linear interpolation along the slices, as the
            bundle's reader and ``Spacingd`` do (labels by nearest neighbour). Where the skull cap runs nearly
            parallel to the slices, the thick slices average bone and brain into a broad band under the table that
            is not blood. Drawn from its own stream: with 0 (the default) every case is the one it was.

    Returns:
        a :class:`CTPhantom` with HU as int16 and labels as uint8 (values of :data:`CT_LABELS`).
    """
    shape, spacing = tuple(int(n) for n in shape), tuple(float(v) for v in spacing)
    if len(shape) != 3 or len(spacing) != 3 or min(shape) < 4 or min(spacing) <= 0:
        raise ValueError(f"shape must be 3 sizes >= 4 and spacing 3 positive values, got {shape!r}, {spacing!r}")
    kw = dict(lesion_probability=lesion_probability, negative_fraction=negative_fraction, mimics=mimics,
              bloom=bloom, vertex_gap=vertex_gap)  # fmt: skip
    if not 0.0 <= float(thick_slices) <= 1.0:
        raise ValueError(f"thick_slices must be a probability in [0, 1], got {thick_slices!r}")
    if float(thick_slices) > 0:
        # a stream of its own, keyed apart from the ones the generator spawns, so every other draw stays
        seq = rng.bit_generator.seed_seq
        trng = np.random.default_rng(np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, 1000)))
        if trng.random() < float(thick_slices):
            return _thick_slice_case(rng, shape, spacing, float(trng.uniform(*THICK_SLICE_MM)), **kw)
    return _generate(rng, shape, spacing, **kw)


def _thick_slice_case(
    rng: np.random.Generator, shape: Sequence[int], spacing: Sequence[float], thickness: float, **kw
) -> CTPhantom:
    """A case acquired in ``thickness`` mm slices over the same field of view, resampled to ``shape``/``spacing``
    along the slices (HU linearly, labels by nearest neighbour), as a reader resamples a thick-slice series."""
    nz, sz = shape[2], spacing[2]
    nt = max(4, int(round(nz * sz / thickness)))
    subs = max(_SUBSLICES, int(np.ceil(thickness / 1.7)))  # sub-slices of at most 1.7 mm: the skull cap's blend
    thick = _generate(rng, (*shape[:2], nt), (*spacing[:2], thickness), subs=subs, **kw)
    src = ((np.arange(nz) - (nz - 1) / 2) * sz / thickness + (nt - 1) / 2).clip(0, nt - 1)  # slice centres
    lo = np.floor(src).astype(int).clip(0, nt - 2)
    frac = (src - lo).astype(np.float32)
    hu = thick.hu[..., lo].astype(np.float32) * (1 - frac) + thick.hu[..., lo + 1].astype(np.float32) * frac
    label = thick.label[..., np.rint(src).astype(int)]
    return CTPhantom(
        hu=np.clip(np.rint(hu), -1024, 3071).astype(np.int16),
        label=np.ascontiguousarray(label),
        affine=phantom_affine(shape, spacing),
        lesions=[name for name in thick.lesions if (label == CT_LABELS[name]).any()],
        pose=thick.pose,
        slice_thickness_mm=round(thickness, 3),
    )


def _generate(
    rng: np.random.Generator,
    shape: Sequence[int],
    spacing: Sequence[float],
    lesion_probability: dict[str, float] | None,
    negative_fraction: float,
    mimics: bool,
    bloom: bool,
    vertex_gap: float,
    subs: int = _SUBSLICES,
) -> CTPhantom:
    """:func:`generate_ct_phantom` at the acquired slice thickness (``spacing[2]``), each slice the mean of ``subs``
    sub-slices."""
    shape = tuple(int(s) for s in shape)
    spacing_arr = np.asarray(spacing, dtype=np.float64)
    if not 0.0 <= float(negative_fraction) <= 1.0:
        raise ValueError(f"negative_fraction must be in [0, 1], got {negative_fraction!r}")
    probs = {"EDH": 0.3, "SDH": 0.35, "IPH": 0.35, "IVH": 0.3}
    probs.update(lesion_probability or {})
    nx, ny, nz = shape
    sx, sy, sz = spacing_arr

    # ---- per-case parameters ------------------------------------------------------------------------------
    scale = rng.uniform(0.9, 1.06)
    axes = [float(a) for a in np.array([66.0, 84.0, 70.0]) * scale * rng.uniform(0.96, 1.04, size=3)]
    rot = _rotation(*np.radians(rng.uniform([-8, -10, -4], [8, 6, 4])))
    shift = np.array([rng.uniform(-6, 6), rng.uniform(-6, 6), rng.uniform(-24, -14)])  # head top in the FOV
    gm, wm = rng.uniform(34, 42), rng.uniform(24, 31)
    csf = rng.uniform(0, 10)
    vent_f = float(rng.choice([rng.uniform(0.6, 1.0), rng.uniform(1.0, 1.9)], p=[0.55, 0.45]))
    atrophy = rng.uniform(0.0, 1.0)
    noise_sd = rng.uniform(2.5, 5.5)
    beam_hardening = rng.uniform(3.0, 12.0)
    # the mimics below draw from their own stream, so the draws above (and the lesions) stay as they were
    mrng = np.random.default_rng(rng.bit_generator.seed_seq.spawn(1)[0])
    negative = mrng.random() < negative_fraction
    # skull blooming (a third stream, so every draw above and below stays as it was): from none, like a modern
    # scanner's slice of pydicom-data's 693_UNCR.dcm, to the 50-70 HU band 1-2 mm under the inner table of an older
    # one (J2K_pixelrep_mismatch.dcm; the shared GE HiSpeed series), which a network reads as a subdural rim
    brng = np.random.default_rng(rng.bit_generator.seed_seq.spawn(1)[0])
    bloom_fraction = float(brng.uniform(0.0, 0.2)) if bloom else 0.0
    bloom_mm, bloom_z_mm = float(brng.uniform(1.5, 3.0)), float(brng.uniform(0.5, 2.5))
    # a gap in the slice positions near the vertex (a fourth stream), filled by interpolation like a reader does
    grng = np.random.default_rng(rng.bit_generator.seed_seq.spawn(1)[0])
    gap = grng.random() < float(vertex_gap)
    gap_slices, gap_offset, gap_weight = int(grng.integers(1, 3)), int(grng.integers(0, 3)), grng.uniform(0.3, 0.7)
    if negative:
        probs = dict.fromkeys(probs, 0.0)

    # ---- anatomical coordinates of every sub-slice sample ---------------------------------------------------
    zsub = (np.arange(nz * subs) + 0.5) / subs - 0.5  # k coordinates of sub-slices
    ii = (np.arange(nx) - (nx - 1) / 2) * sx
    jj = (np.arange(ny) - (ny - 1) / 2) * sy
    kk = (zsub - (nz - 1) / 2) * sz
    xs = [
        (c - t).astype(np.float32).reshape(sh)
        for c, t, sh in zip((ii, jj, kk), shift, ((-1, 1, 1), (1, -1, 1), (1, 1, -1)))
    ]
    rt = rot.tolist()  # python floats keep the arrays float32 (numpy scalars would promote to float64)
    u, v, w = (xs[0] * rt[0][a] + xs[1] * rt[1][a] + xs[2] * rt[2][a] for a in range(3))  # = R^T (x - t)

    def field_(sig_mm: float, step: int = 1) -> np.ndarray:
        """Smooth random field on the (optionally coarser) slice grid, interpolated to the sub-slices."""
        coarse = [max(2, -(-n // step)) for n in (nx, ny)] + [nz]
        f = _smooth_field(rng, coarse, (sig_mm / sx / step, sig_mm / sy / step, sig_mm / sz))
        if step > 1:
            f = ndimage.zoom(f, (nx / coarse[0], ny / coarse[1], 1), order=1, grid_mode=True, mode="nearest")
        return np.repeat(f, subs, axis=2)

    sulcal = field_(2.5)
    bone_var = field_(12.0, step=4)
    inhom = field_(30.0, step=4)

    wq = np.maximum(w, -12.0)  # below the temporal lobes the head continues as a cylinder (skull base level)
    q = np.sqrt((u / axes[0]) ** 2 + (v / axes[1]) ** 2 + (wq / axes[2]) ** 2) + 1e-6
    r = np.sqrt(u**2 + v**2 + wq**2)
    depth = r * (1.0 - q) / q  # radial depth below the inner table (mm), negative outside
    thick = 6.5 + 1.0 * bone_var  # skull thickness (mm)
    # cranial floor: a bowl (posterior fossa deepest) with the anterior fossa a step higher, meeting the vault
    radial = np.sqrt((u / axes[0]) ** 2 + ((v - 12.0) / axes[1]) ** 2)
    base = -60.0 + 50.0 * radial**1.6 + 16.0 / (1 + np.exp((v + 22) / 5))
    hu = np.full(u.shape, -1000.0, dtype=np.float32)
    head = depth > -(thick + 7.0)
    hu[head] = 40.0  # skin / muscle
    fat = (depth < -(thick + 1.5)) & (depth > -(thick + 5.0))
    hu[fat] = -80.0
    bone = (depth <= 0) & (depth > -thick)
    table = np.abs(depth + thick / 2) > thick / 4  # inner/outer tables vs diploe
    hu[bone] = np.where(table[bone], 1450.0 + 250.0 * bone_var[bone], 700.0 + 120.0 * bone_var[bone])
    inside = (depth > 0) & (w > base)
    base_bone = (depth > 0) & (w <= base) & (w > base - 6.0)
    hu[base_bone] = 1100.0 + 300.0 * bone_var[base_bone]
    below = (depth > 0) & (w <= base - 6.0)
    hu[below] = np.where(v[below] < -30, -90.0, 35.0)  # orbital fat in front, muscles and brainstem behind
    ridge_box = (np.abs(w + 43) < 10) & (np.abs(v - 17) < 16) & (np.abs(u) > 8) & (np.abs(u) < 52)
    for side in (1, -1):
        globe = ((u - side * 30) ** 2 + (v + 58) ** 2 + (w + 38) ** 2) < 12.0**2
        hu[globe & below] = 12.0
        box = ridge_box & (side * u > 0)
        dist, _ = _segment_distance(
            np.stack([u[box], v[box], w[box]], -1),
            np.array([side * 12.0, 6.0, -46.0]),
            np.array([side * 48.0, 28.0, -40.0]),
        )
        ridge = np.zeros_like(inside)
        ridge[box] = dist < 5.0
        hu[ridge] = 1300.0 + 250.0 * bone_var[ridge]
        inside &= ~ridge
    sinus = (((u / 16.0) ** 2 + ((v + 62) / 10.0) ** 2 + ((w + 34) / 16.0) ** 2) < 1) | (
        ((np.abs(u) - 40) / 7.0) ** 2 + ((v - 22) / 8.0) ** 2 + ((w + 44) / 6.0) ** 2 < 1
    )  # frontal/ethmoid sinuses, mastoid air cells
    hu[sinus & ~inside] = -850.0

    # ---- brain ------------------------------------------------------------------------------------------
    extra_csf = 0.8 + 2.5 * atrophy
    brain = inside & (depth > extra_csf)
    hu[inside] = csf
    cortex = depth < extra_csf + 3.2 + 0.6 * sulcal
    hu[brain] = np.where(cortex[brain], gm, wm)
    deep_gm = np.zeros_like(brain)
    for c, a in (((19, -4, 2), (8, 14, 10)), ((10, 14, 2), (8, 10, 8))):
        for side in (1, -1):
            deep_gm |= ((u - side * c[0]) / a[0]) ** 2 + ((v - c[1]) / a[1]) ** 2 + ((w - c[2]) / a[2]) ** 2 < 1
    hu[brain & deep_gm] = gm - 1.5
    sulci = brain & (depth < extra_csf + 14.0) & (np.abs(sulcal) < 0.1 + 0.15 * atrophy)
    hu[sulci] = csf
    fissure = inside & (np.abs(u) < 1.0 + 1.5 * atrophy) & ((np.abs(v) > 22) | (w > 32))
    hu[fissure] = csf
    falx = inside & (np.abs(u) < mrng.uniform(0.35, 1.1)) & ((np.abs(v) > 24) | (w > 36))
    hu[falx] = rng.uniform(70, 110)
    vent = inside & _ventricles(u, v, w, vent_f, rng.uniform(-0.15, 0.15))
    hu[vent] = csf
    atria = [(side * (15 + 5 * vent_f), 18.0, 10.0) for side in (1, -1)]
    if rng.random() < 0.6:  # choroid plexus calcification in the atria, from a speck to a 7 mm glomus
        for c in atria:
            r = mrng.uniform(1.2, 3.6)
            hu[inside & ((u - c[0]) ** 2 + (v - c[1]) ** 2 + (w - c[2]) ** 2 < r * r)] = mrng.uniform(100, 450)
    if rng.random() < 0.5:  # pineal calcification
        r = mrng.uniform(1.2, 3.2)
        hu[inside & (u**2 + (v - 24) ** 2 + (w - 2) ** 2 < r * r)] = mrng.uniform(100, 450)
    if mimics:
        _add_mimics(mrng, hu, inside, brain, u, v, w, depth, base, axes, atria, vent_f)

    # ---- lesions ------------------------------------------------------------------------------------------
    label = np.zeros(u.shape, dtype=np.uint8)
    label[vent] = CT_LABELS["ventricles"]
    lesions: list[str] = []

    def convexity_angle(direction: np.ndarray) -> np.ndarray:
        """Angle (degrees) between each point's and ``direction``'s rays in the skull-normalised frame."""
        d = _unit(direction).tolist()
        cos = (u * (d[0] / axes[0]) + v * (d[1] / axes[1]) + w * (d[2] / axes[2])) / q
        return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))

    if rng.random() < probs["EDH"]:
        d = np.array([rng.choice([-1, 1]) * rng.uniform(0.4, 1.0), rng.uniform(-0.8, 0.6), rng.uniform(0.0, 0.7)])
        alpha, tmax = rng.uniform(18, 32), rng.uniform(8, 20)
        theta = convexity_angle(d)
        edh = inside & (theta < alpha) & (depth < tmax * (1 - (theta / alpha) ** 2))
        if edh.any():
            swirl = 1.0 - (rng.random() < 0.4) * 0.35 * (sulcal[edh] > 0.8)
            hu[edh] = rng.uniform(58, 85) * swirl
            label[edh] = CT_LABELS["EDH"]
            lesions.append("EDH")
    if rng.random() < probs["SDH"]:
        side = rng.choice([-1, 1])
        d = np.array([side * rng.uniform(0.6, 1.0), rng.uniform(-0.6, 0.6), rng.uniform(-0.1, 0.6)])
        alpha, tmax = rng.uniform(45, 75), rng.uniform(3, 12)
        theta = convexity_angle(d)
        sdh = (
            inside
            & (side * u > 1.5)
            & (theta < alpha)
            & (depth < tmax * np.sqrt(np.clip(1 - (theta / alpha) ** 2, 0, 1)))
        )
        sdh &= label == 0
        if sdh.any():
            hu[sdh] = rng.uniform(58, 85) if rng.random() < 0.75 else rng.uniform(40, 55)
            label[sdh] = CT_LABELS["SDH"]
            lesions.append("SDH")
    if rng.random() < probs["IPH"]:
        for _ in range(20):  # a centre in deep parenchyma, away from the ventricles
            c = (rng.uniform(-1, 1, size=3) * np.array(axes) * [0.55, 0.6, 0.5] + [0, 0, 12]).tolist()
            cu, cv, cw = (np.array([x], dtype=np.float32) for x in c)
            if not _ventricles(cu, cv, cw, vent_f * 1.5, 0.0)[0]:
                break
        rad = (rng.uniform(5, 16) * rng.uniform(0.75, 1.25, size=3)).tolist()
        dist = np.sqrt(((u - c[0]) / rad[0]) ** 2 + ((v - c[1]) / rad[1]) ** 2 + ((w - c[2]) / rad[2]) ** 2)
        dist += 0.18 * sulcal
        iph = brain & (dist < 1.0) & ~vent & (depth > extra_csf + 2.5) & (w > base + 4.0)  # under the cortex
        rim = brain & (dist >= 1.0) & (dist < 1.0 + rng.uniform(0.25, 0.6)) & ~vent & (label == 0)
        if iph.any():
            hu[rim] = rng.uniform(15, 24)
            hu[iph] = rng.uniform(60, 88)
            label[iph & (label == 0)] = CT_LABELS["IPH"]
            lesions.append("IPH")
    if rng.random() < probs["IVH"]:
        side = rng.choice([-1, 1])
        level = rng.uniform(12, 30)
        ivh = vent & (side * u > 3) & (v > level)
        if rng.random() < 0.3:
            ivh |= vent & (np.abs(u) < 1.0 + 1.2 * vent_f) & (v > 0)  # third ventricle cast
        if ivh.any():
            hu[ivh] = rng.uniform(50, 80)
            label[ivh] = CT_LABELS["IVH"]
            lesions.append("IVH")

    # ---- image formation -------------------------------------------------------------------------------
    near_bone = inside & (depth < 12)
    hu[near_bone] += beam_hardening * np.exp(-depth[near_bone] / 3.5)
    cupping, reach = mrng.uniform(0.0, 14.0), mrng.uniform(1.5, 5.0)  # a second, sharper hardening band
    hu[near_bone] += cupping * np.exp(-depth[near_bone] / reach)
    low = inside & (w < base + 25) & (v > 0)
    if low.any():  # streaks between the petrous bones (Hounsfield bar), dark and bright
        ang = np.arctan2(v[low], u[low])
        hu[low] -= rng.uniform(10, 30) * np.maximum(0, np.cos(rng.integers(6, 12) * ang + rng.uniform(0, 6.3))) ** 6
        bright = np.cos(mrng.integers(5, 13) * ang + mrng.uniform(0, 6.3))
        hu[low] += mrng.uniform(0, 30) * np.maximum(0, bright) ** 8 * np.exp(-(w[low] - base[low]) / 15.0)
    hu[inside] += 3.0 * inhom[inside]
    hu = hu.reshape(nx, ny, nz, subs)
    has_bone = (hu > 300).any(axis=-1)  # thick-slice voxels touching bone read as bone, not as blood
    hu = hu.mean(axis=-1)  # slice-thickness partial volume
    if bloom_fraction > 0:  # skull blooming: the PSF's and slice profile's tails spill bone into the brain beside it
        excess = np.clip(hu - 100.0, 0.0, None)
        hu += bloom_fraction * ndimage.gaussian_filter(excess, (bloom_mm / sx, bloom_mm / sy, bloom_z_mm / sz))
    hu = ndimage.gaussian_filter(hu, (0.72 / sx, 0.72 / sy, 0.0))  # in-plane PSF (mm)
    grain = mrng.uniform(0.9, 1.6)  # noise grain (mm): soft to sharp reconstruction kernels
    noise = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), (grain / sx, grain / sy, 0.0))
    hu += noise * (noise_sd / max(float(noise.std()), 1e-6))
    if gap:
        _fill_vertex_gap(hu, inside.reshape(nx, ny, nz, subs).any(axis=(0, 1, 3)), gap_slices, gap_offset,
                         gap_weight)  # fmt: skip
    sub = label.reshape(nx, ny, nz, subs)  # label of a thick slice: majority of its sub-slices
    label = np.where(sub[..., 0] == sub[..., -1], sub[..., 0], sub[..., subs // 2])
    label[has_bone & (label >= 2)] = 0
    hu_i16 = np.clip(np.rint(hu), -1024, 3071).astype(np.int16)
    return CTPhantom(
        hu=hu_i16,
        label=np.ascontiguousarray(label),
        affine=phantom_affine(shape, spacing),
        lesions=lesions,
        pose={"rotation": rot, "shift": shift, "ventricle_factor": vent_f},
        slice_thickness_mm=float(sz),
    )
