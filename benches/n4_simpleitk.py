"""N4 with SimpleITK's defaults on the reference input, timed (the
counterpart of `cargo bench --bench n4`); with image paths as arguments,
also N4 on each as `radose preprocess --n4` runs it (Otsu mask with 200
bins, no shrink, defaults), once.
Run: python3 benches/n4_simpleitk.py [IMAGE…]   (SimpleITK 2.5.7: pip install SimpleITK==2.5.7)
"""
import os
import sys
import time

import SimpleITK as sitk

HERE = os.path.dirname(os.path.abspath(__file__))
DIR = os.path.join(HERE, "..", "tests", "fixtures", "pyradiomics", "preprocessing")

image = sitk.ReadImage(os.path.join(DIR, "brain1_n4_input_shrink441_float32.nrrd"), sitk.sitkFloat32)
threads = int(os.environ.get("THREADS", "0")) or sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
times = []
for _ in range(3):
    t = time.perf_counter()
    mask = sitk.OtsuThreshold(image, 0, 1, 200)
    f = sitk.N4BiasFieldCorrectionImageFilter()
    f.SetNumberOfThreads(threads)
    out = f.Execute(image, mask)
    times.append(time.perf_counter() - t)
times.sort()
print(f"SimpleITK {sitk.Version.VersionString()} N4 64x64x25, {threads} thread(s): median {times[1]:.2f} s, min {times[0]:.2f} s")

for path in sys.argv[1:]:
    full = sitk.ReadImage(path, sitk.sitkFloat32)
    t = time.perf_counter()
    mask = sitk.OtsuThreshold(full, 0, 1, 200)
    f = sitk.N4BiasFieldCorrectionImageFilter()
    f.SetNumberOfThreads(threads)
    f.Execute(full, mask)
    size = "x".join(str(n) for n in full.GetSize())
    print(f"SimpleITK N4 {size} ({path}), {threads} thread(s): {time.perf_counter() - t:.2f} s, iterations at the last level {f.GetElapsedIterations()}")
