"""Synthetic 2D neonatal cranial ultrasound phantoms: coronal views through the anterior fontanelle.

Geometry in mm (``lat`` lateral, ``d`` depth below the fontanelle): a sector (fan) from a small-footprint probe;
scalp echo; interhemispheric fissure (echogenic midline); cortex with echogenic sulci; the skull as a bright
ellipse with acoustic shadowing behind it and the middle cranial fossa floor at the bottom; Sylvian fissures;
hypoechoic thalami; paired lateral ventricles (anechoic, label 1) from slit-like to dilated
(post-haemorrhagic ventricular dilatation), with bright walls, sometimes an echogenic choroid plexus (unlabelled);
optionally an echogenic intraventricular clot (IVH, label 2) in one ventricle (Papile grade II-III appearance;
Papile et al., J Pediatr 1978; Levene, Arch Dis Child 1981 for the ventricular index). Look-alikes of real views
(``mimics``, unlabelled): an echogenic choroid plexus in ventricles of any size (the classic clot mimic), a cavum
septi pellucidi (anechoic, midline), near-field reverberation bands and a darker sector edge.

Image formation on a polar (beam, depth) grid: echogenicity times attenuation accumulated along each beam
(shadowing behind bone, enhancement behind fluid), fully developed speckle (the magnitude of a correlated complex
Gaussian field: Rayleigh amplitude, grain longer laterally than axially), log compression to 8 bits, then scan
conversion to the Cartesian ``(x, y)`` grid (x lateral = column, y depth = row, like MONAI's ``PILReader``).
Burned-in annotations (text blocks, depth ruler) are drawn outside the fan as on a screen capture. A 256 x 256
image takes about 0.05 s; the trivial grey-threshold baseline scores Dice 0.37 (ventricles) and 0.04 (IVH clot),
see :mod:`cranialseg.demo.baseline`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from scipy import ndimage

__all__ = ["US_LABELS", "USPhantom", "generate_us_phantom"]

#: Label values of the ultrasound task.
US_LABELS: dict[str, int] = {"background": 0, "ventricles": 1, "IVH": 2}


@dataclass
class USPhantom:
    """One generated image: ``image`` uint8 ``(x, y)``, ``label`` uint8, ``sector`` bool, ``spacing`` (mm)."""

    image: np.ndarray
    label: np.ndarray
    sector: np.ndarray
    spacing: tuple[float, float]
    ivh: bool = False
    ventricle_index: float = 0.0
    info: dict = field(default_factory=dict)


def _ellipse(lat, d, cl, cd, al, ad, angle=0.0):
    """Normalised radius of points (lat, d) in a rotated ellipse (< 1 inside)."""
    ca, sa = np.cos(angle), np.sin(angle)
    x, y = lat - cl, d - cd
    return np.sqrt(((x * ca + y * sa) / al) ** 2 + ((-x * sa + y * ca) / ad) ** 2)


def _smooth(rng: np.random.Generator, shape: Sequence[int], sigma: float | Sequence[float]) -> np.ndarray:
    f = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma, mode="wrap")
    return f / max(float(f.std()), 1e-6)


def generate_us_phantom(
    rng: np.random.Generator,
    size: Sequence[int] = (256, 256),
    spacing: float = 0.3,
    ivh_probability: float = 0.4,
    annotations: bool = True,
    mimics: bool = True,
) -> USPhantom:
    """Generate one coronal cranial ultrasound phantom.

    Args:
        rng: numpy random generator (the image is a deterministic function of its state).
        size: ``(x, y)`` pixels (lateral, depth).
        spacing: isotropic pixel size in mm (0.2-0.3 mm is typical of neonatal cranial ultrasound).
        ivh_probability: probability of an intraventricular clot (label 2).
        annotations: draw burned-in text blocks and a depth ruler outside the fan.
        mimics: add the look-alikes of real views (unlabelled): an echogenic choroid plexus in ventricles of any
            size (the classic clot mimic), a cavum septi pellucidi (anechoic, midline, not ventricle), near-field
            reverberation bands and a darker sector edge; False for an ablation.

    Returns:
        a :class:`USPhantom`; ``label`` holds 0 background, 1 lateral ventricles, 2 IVH clot.
    """
    nx, ny = (int(s) for s in size)
    if nx < 32 or ny < 32 or spacing <= 0:
        raise ValueError(f"size must be >= 32 pixels per axis and spacing > 0, got size={size!r}, spacing={spacing!r}")
    sp = float(spacing)
    depth_mm = ny * sp
    fov = depth_mm / 76.8  # anatomy scales with the field of view (designed for about 77 mm of depth)

    # ---- per-image parameters -------------------------------------------------------------------------------
    half_angle = np.radians(rng.uniform(32, 40))
    apex_r = rng.uniform(8, 14) * fov  # probe radius (mm), apex above the skin
    tilt = rng.uniform(-0.06, 0.06)
    head_w, head_d = rng.uniform(36, 44) * fov, rng.uniform(33, 38) * fov
    dil = float(rng.choice([rng.uniform(0.0, 0.35), rng.uniform(0.35, 1.0)], p=[0.5, 0.5]))
    gain = rng.uniform(0.85, 1.2)
    dyn_db = rng.uniform(45, 60)  # displayed dynamic range (dB)
    # the mimics below draw from their own stream, so the draws above and below stay as they were
    mrng = np.random.default_rng(rng.bit_generator.seed_seq.spawn(1)[0])

    # ---- Cartesian coordinates (mm) of pixel centres -----------------------------------------------------
    lx = (np.arange(nx) - (nx - 1) / 2) * sp
    dy = (np.arange(ny) + 0.5) * sp
    lat, d = np.meshgrid(lx, dy, indexing="ij")
    lat = lat.astype(np.float32)
    d = d.astype(np.float32)
    lr = lat * np.cos(tilt) - (d - depth_mm / 2) * np.sin(tilt)  # head slightly rotated in the image plane
    dr = lat * np.sin(tilt) + (d - depth_mm / 2) * np.cos(tilt) + depth_mm / 2

    tex = _smooth(rng, (nx, ny), 2.0 / sp)
    echo = np.full((nx, ny), 0.12, dtype=np.float32) * (1.0 + 0.2 * tex)  # parenchyma (bone ~ 1-3)
    att = np.full((nx, ny), 1.0, dtype=np.float32)  # relative attenuation per mm

    # skull ellipse: bright inner table, fontanelle open at the top, shadowed beyond
    centre_d = head_d + 1.5 * fov
    rho = _ellipse(lr, dr, 0.0, centre_d, head_w, head_d)
    bone = (np.abs(rho - 1.0) < 0.035) & ~((np.abs(lr) < 12 * fov) & (dr < centre_d))
    outside_head = (rho > 1.0) & ~((np.abs(lr) < 12 * fov) & (dr < centre_d))
    echo[outside_head] = 0.06
    # specular bone echo: brightest where the beam hits the surface head-on
    nl, nd = lr / head_w**2, (dr - centre_d) / head_d**2
    bl, bd = lat, d + apex_r
    facing = np.abs(nl * bl + nd * bd) / (np.hypot(nl, nd) * np.hypot(bl, bd) + 1e-6)
    echo[bone] = 0.25 + 1.6 * facing[bone] ** 2
    att[bone] = 30.0
    # middle cranial fossa floor / tentorium: a bright, smooth, thick band near the bottom, brighter tissue below
    floor = centre_d + head_d * (0.55 + 0.1 * (lr / head_w) ** 2) + 1.5 * fov * _smooth(rng, (nx,), nx / 10)[:, None]
    band = (np.abs(dr - floor) < rng.uniform(1.2, 2.2) * fov) & (rho < 1.02)
    echo[(dr > floor) & (rho < 1)] *= 1.8
    echo[band] = 1.1
    att[band] = 6.0
    # scalp / fontanelle echo
    echo[d < rng.uniform(1.5, 3.0)] = 0.8
    # interhemispheric fissure, Sylvian fissures (sideways Y), hypoechoic thalami, echogenic cortical sulci
    fissure = (np.abs(lr + 0.6 * np.sin(dr / 4.0)) < 0.45) & (dr > 2) & (dr < 17 * fov)
    echo[fissure] = 0.9
    for side in (1.0, -1.0):
        x0, y0 = side * head_w * 0.45, centre_d * rng.uniform(0.9, 1.05)
        for x1, y1 in ((side * head_w * 0.95, y0 + 2 * fov), (x0 + side * 8 * fov, y0 - 6 * fov)):
            t = np.clip(((lr - x0) * (x1 - x0) + (dr - y0) * (y1 - y0)) / ((x1 - x0) ** 2 + (y1 - y0) ** 2), 0, 1)
            dist = np.hypot(lr - x0 - t * (x1 - x0), dr - y0 - t * (y1 - y0))
            echo[(dist < 0.45) & (rho < 1)] = 0.4
        thal = _ellipse(lr, dr, side * 8 * fov, 40 * fov, 7 * fov, 8 * fov) < 1
        echo[thal] *= 0.7
    sulci = (np.abs(_smooth(rng, (nx, ny), 1.6 / sp)) < 0.07) & (rho > 0.75) & (rho < 0.98)
    echo[sulci] = 0.55

    # lateral ventricles: rotated ellipses, slit-like (dil ~ 0) to ballooned (dil ~ 1)
    label = np.zeros((nx, ny), dtype=np.uint8)
    vent_depth = rng.uniform(20, 26) * fov
    vent_info = []
    ivh_side = rng.choice([-1.0, 1.0]) if rng.random() < ivh_probability else 0.0
    boundary = _smooth(rng, (nx, ny), 1.2 / sp)
    for side in (1.0, -1.0):
        g = float(np.clip(dil + rng.uniform(-0.12, 0.12), 0.0, 1.0))
        cl = side * (5.5 + 5.0 * g) * fov
        half_h = (3.2 + 4.0 * g) * fov
        half_w = (0.8 + 4.2 * g**1.2) * fov
        ang = side * np.radians(rng.uniform(25, 40) * (1.0 - 0.6 * g))
        r = _ellipse(lr, dr, cl, vent_depth, half_w, half_h, ang) + 0.06 * boundary
        lumen = r < 1.0
        wall = (r >= 1.0) & (r < 1.0 + 0.9 / max(half_w, 0.8))
        echo[wall] = 0.6
        echo[lumen] = 0.004
        att[lumen] = 0.15
        label[lumen] = US_LABELS["ventricles"]
        if g > 0.35 and rng.random() < 0.5:  # choroid plexus in the floor of a dilated ventricle
            plex = lumen & (
                _ellipse(lr, dr, cl + side * 0.3 * half_w, vent_depth + 0.65 * half_h, 0.4 * half_w, 0.3 * half_h) < 1
            )
            echo[plex] = 0.5
            label[plex] = 0
        elif mimics and mrng.random() < 0.7:  # the echogenic choroid plexus, the classic clot mimic, any size
            pw, ph = (
                (0.35 + 0.3 * mrng.random()) * half_w + 0.9 * fov,
                (0.25 + 0.2 * mrng.random()) * half_h + 0.9 * fov,
            )
            plex = _ellipse(lr, dr, cl + side * 0.35 * half_w, vent_depth + 0.75 * half_h, pw, ph) + 0.1 * boundary < 1
            echo[plex] = mrng.uniform(0.3, 0.7) * (1.0 + 0.3 * tex[plex])
            att[plex] = 1.5
            label[plex & lumen] = 0
        if side == ivh_side:
            cr = rng.uniform(0.35, 0.65)
            clot = lumen & (
                _ellipse(
                    lr,
                    dr,
                    cl + rng.uniform(-0.3, 0.3) * half_w,
                    vent_depth + rng.uniform(0.0, 0.4) * half_h,
                    cr * half_w + 0.8,
                    cr * half_h + 0.8,
                )
                + 0.15 * boundary
                < 1
            )
            echo[clot] = rng.uniform(0.25, 0.6) * (1.0 + 0.3 * tex[clot])
            att[clot] = 1.5
            label[clot] = US_LABELS["IVH"]
        vent_info.append(2 * half_w)

    if mimics and mrng.random() < 0.4:  # cavum septi pellucidi: anechoic, between the frontal horns, not ventricle
        csp = (np.abs(lr) < mrng.uniform(0.8, 2.5) * fov) & (np.abs(dr - vent_depth) < mrng.uniform(2.5, 5.0) * fov)
        csp &= label == 0
        echo[csp] = 0.004
        att[csp] = 0.15
    if mimics:  # near-field reverberation under the probe: fading bright bands
        step = mrng.uniform(1.5, 3.0)
        band = (np.abs(((d - 0.5 * step) % step) - 0.5 * step) < 0.25) & (d < 4 * step)
        echo[band & (rho < 1)] += mrng.uniform(0.1, 0.4) * np.exp(-d[band & (rho < 1)] / (2 * step))

    # ---- polar image formation ------------------------------------------------------------------------
    n_beams, n_samples = max(96, nx // 2 * 3 // 2), ny
    theta = np.linspace(-half_angle, half_angle, n_beams)
    rad = apex_r + (np.arange(n_samples) + 0.5) * (depth_mm + apex_r * (1 - np.cos(half_angle))) / n_samples
    tt, rr = np.meshgrid(theta, rad, indexing="ij")
    pl = rr * np.sin(tt)  # lateral mm
    pd = rr * np.cos(tt) - apex_r  # depth mm
    coords = np.stack([pl / sp + (nx - 1) / 2, pd / sp - 0.5])
    e_pol = ndimage.map_coordinates(echo, coords, order=1, mode="constant", cval=0.2)
    a_pol = ndimage.map_coordinates(att, coords, order=1, mode="constant", cval=1.0)
    dr_mm = rad[1] - rad[0]
    attenuation = np.exp(-0.012 * np.cumsum(a_pol, axis=1) * dr_mm)  # residual after time-gain compensation
    attenuation /= np.exp(-0.012 * dr_mm * np.arange(1, n_samples + 1))[None] ** 0.85  # TGC
    grain = (1.6, 0.7)  # (lateral beams, axial samples)
    z = ndimage.gaussian_filter(rng.standard_normal((n_beams, n_samples)), grain) + 1j * ndimage.gaussian_filter(
        rng.standard_normal((n_beams, n_samples)), grain
    )
    speckle = np.abs(z) / np.sqrt(np.mean(np.abs(z) ** 2))
    lin = gain * e_pol * attenuation * speckle + 0.002 * np.abs(rng.standard_normal(e_pol.shape))
    if mimics:  # the sector edge: weaker beams at the fan's sides (aperture apodisation), a soft dark rim
        edge = np.clip((half_angle - np.abs(tt)) / np.radians(mrng.uniform(2.0, 6.0)), 0.25, 1.0)
        lin = lin * edge
    pol8 = np.clip((20 * np.log10(lin / 3.0 + 1e-6) + dyn_db) / dyn_db * 255.0, 0, 255)  # log compression

    # ---- scan conversion ---------------------------------------------------------------------------------
    pr = np.sqrt(lat**2 + (d + apex_r) ** 2)
    pt = np.arctan2(lat, d + apex_r)
    sector = (np.abs(pt) <= half_angle) & (pr >= apex_r) & (pr <= rad[-1])
    bi = (pt + half_angle) / (2 * half_angle) * (n_beams - 1)
    si = (pr - rad[0]) / dr_mm
    image = ndimage.map_coordinates(pol8, np.stack([bi, si]), order=1, mode="nearest")
    image = np.where(sector, image, 0.0)
    label = np.where(sector, label, 0).astype(np.uint8)

    if annotations:  # burned-in text blocks in the top corners, depth-ruler ticks at the right edge
        ann = np.zeros_like(image)
        for x0 in (2, nx - 2 - nx // 6):
            for y0 in range(2, max(3, ny // 8 - 3), 5):
                for c in np.flatnonzero(rng.random(nx // 18) < 0.7):
                    ann[x0 + 3 * c : x0 + 3 * c + 2, y0 : y0 + 3] = 220.0
        ann[nx - 4 : nx - 1, ny // 8 :: max(4, int(round(10 / sp)))] = 180.0
        image = np.where(sector, image, ann)

    return USPhantom(
        image=np.clip(np.rint(image), 0, 255).astype(np.uint8),
        label=label,
        sector=sector,
        spacing=(sp, sp),
        ivh=bool((label == US_LABELS["IVH"]).any()),
        ventricle_index=float(max(vent_info)),
        info={"dilation": dil, "half_angle_deg": float(np.degrees(half_angle))},
    )
