"""scikit-learn's LassoCV on the same 97 x 321 matrix as benches/lasso_cv.rs.
Run from the repository root: python3 benches/lasso_cv_sklearn.py"""
import json
import time

import numpy as np
import sklearn
from sklearn.linear_model import LassoCV
from sklearn.preprocessing import StandardScaler

d = json.load(open("tests/fixtures/learn_sklearn.json"))["synthetic_97x321"]
X = StandardScaler().fit_transform(np.array(d["X"]))
y = np.array(d["y"], dtype=float)
for tol in (1e-4, 1e-6):
    times = []
    for _ in range(7):
        t = time.perf_counter()
        m = LassoCV(cv=5, tol=tol, max_iter=200000).fit(X, y)
        times.append(time.perf_counter() - t)
    times.sort()
    print(f"sklearn {sklearn.__version__} LassoCV 97x321 tol={tol:.0e}: median {times[3]:.4f} s "
          f"(min {times[0]:.4f}, max {times[6]:.4f}) over 7 runs, alpha {m.alpha_:.6f}")
