"""PyRadiomics on brain1 with its default settings, every default feature
of the seven classes (the counterpart of `cargo bench --bench radiomics`).
Run: python3 benches/radiomics_pyradiomics.py   (pyradiomics 3.1.0)
"""
import logging
import os
import time

import radiomics
from radiomics import featureextractor

logging.getLogger("radiomics").setLevel(logging.ERROR)
HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "tests", "fixtures", "pyradiomics", "data")
image = os.path.join(DATA, "brain1_image.nrrd")
mask = os.path.join(DATA, "brain1_label.nrrd")

for label, settings in [("defaults", {}), ("resampled 2 mm B-spline", {"resampledPixelSpacing": [2, 2, 2]})]:
    ex = featureextractor.RadiomicsFeatureExtractor(**settings)
    ex.enableAllFeatures()  # then drop the deprecated ones, as radose's defaults do
    times = []
    for _ in range(7):
        t = time.perf_counter()
        out = ex.execute(image, mask)
        times.append(time.perf_counter() - t)
    n = sum(1 for k in out if k.startswith("original_"))
    times.sort()
    print(f"PyRadiomics {radiomics.__version__} brain1 ({label}): {n} features, median {times[3]:.4f} s, min {times[0]:.4f} s")
