//! A small dense row-major matrix for the learning code (feature tables are
//! at most a few hundred patients by a few thousand features), with the
//! column statistics, products and the symmetric eigendecomposition PCA
//! needs. Written here so the numeric core has no BLAS/LAPACK dependency and
//! one ndarray version.

/// A dense matrix of f64, row-major.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f64>,
}

impl Matrix {
    pub fn zeros(rows: usize, cols: usize) -> Matrix {
        Matrix { rows, cols, data: vec![0.0; rows * cols] }
    }

    /// From rows of equal length.
    pub fn from_rows(rows: &[Vec<f64>]) -> Matrix {
        let cols = rows.first().map_or(0, Vec::len);
        Matrix { rows: rows.len(), cols, data: rows.iter().flat_map(|r| r.iter().copied()).collect() }
    }

    pub fn get(&self, r: usize, c: usize) -> f64 {
        self.data[r * self.cols + c]
    }

    pub fn set(&mut self, r: usize, c: usize, v: f64) {
        self.data[r * self.cols + c] = v;
    }

    pub fn row(&self, r: usize) -> &[f64] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }

    pub fn column(&self, c: usize) -> Vec<f64> {
        (0..self.rows).map(|r| self.get(r, c)).collect()
    }

    /// The rows at `idx`, in that order.
    pub fn select_rows(&self, idx: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(idx.len() * self.cols);
        for &r in idx {
            data.extend_from_slice(self.row(r));
        }
        Matrix { rows: idx.len(), cols: self.cols, data }
    }

    /// The columns at `idx`, in that order.
    pub fn select_cols(&self, idx: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(self.rows * idx.len());
        for r in 0..self.rows {
            let row = self.row(r);
            data.extend(idx.iter().map(|&c| row[c]));
        }
        Matrix { rows: self.rows, cols: idx.len(), data }
    }

    /// Columns of `self` followed by those of `other` (same rows).
    pub fn hstack(&self, other: &Matrix) -> Matrix {
        let mut data = Vec::with_capacity(self.rows * (self.cols + other.cols));
        for r in 0..self.rows {
            data.extend_from_slice(self.row(r));
            data.extend_from_slice(other.row(r));
        }
        Matrix { rows: self.rows, cols: self.cols + other.cols, data }
    }

    /// Rows of `self` followed by those of `other` (same columns).
    pub fn vstack(&self, other: &Matrix) -> Matrix {
        let mut data = self.data.clone();
        data.extend_from_slice(&other.data);
        Matrix { rows: self.rows + other.rows, cols: self.cols, data }
    }

    pub fn col_means(&self) -> Vec<f64> {
        let mut m = vec![0.0; self.cols];
        for r in 0..self.rows {
            for (acc, v) in m.iter_mut().zip(self.row(r)) {
                *acc += v;
            }
        }
        m.iter_mut().for_each(|v| *v /= self.rows as f64);
        m
    }

    /// Column standard deviations with `ddof` (0 = population, as scikit-learn's scalers).
    pub fn col_stds(&self, ddof: usize) -> Vec<f64> {
        let means = self.col_means();
        let mut ss = vec![0.0; self.cols];
        for r in 0..self.rows {
            for ((acc, v), m) in ss.iter_mut().zip(self.row(r)).zip(&means) {
                *acc += (v - m) * (v - m);
            }
        }
        let denom = (self.rows.saturating_sub(ddof)).max(1) as f64;
        ss.iter().map(|s| (s / denom).sqrt()).collect()
    }

    /// self · other.
    pub fn matmul(&self, other: &Matrix) -> Matrix {
        let mut out = Matrix::zeros(self.rows, other.cols);
        for r in 0..self.rows {
            let out_row = &mut out.data[r * other.cols..(r + 1) * other.cols];
            for (k, a) in self.row(r).iter().enumerate() {
                if *a == 0.0 {
                    continue;
                }
                for (o, b) in out_row.iter_mut().zip(other.row(k)) {
                    *o += a * b;
                }
            }
        }
        out
    }

    pub fn transpose(&self) -> Matrix {
        let mut out = Matrix::zeros(self.cols, self.rows);
        for r in 0..self.rows {
            for c in 0..self.cols {
                out.set(c, r, self.get(r, c));
            }
        }
        out
    }
}

/// The eigenvalues of a symmetric matrix, descending, without eigenvectors:
/// Householder reduction to tridiagonal form, then the QL algorithm with
/// implicit shifts — O(n³) once, where Jacobi rotations with vectors cost
/// several sweeps of it (radiomics' maximal correlation coefficient needs
/// 13 of these per image).
pub fn symmetric_eigenvalues(a: &Matrix) -> Vec<f64> {
    let n = a.rows;
    if n == 0 {
        return Vec::new();
    }
    let mut z: Vec<Vec<f64>> = (0..n).map(|i| (0..n).map(|j| a.get(i, j)).collect()).collect();
    let (mut d, mut e) = (vec![0.0; n], vec![0.0; n]);
    // Householder: row i's part left of the diagonal is annihilated below the subdiagonal.
    for i in (1..n).rev() {
        let l = i - 1;
        if l == 0 {
            e[i] = z[i][l];
            continue;
        }
        let scale: f64 = z[i][..i].iter().map(|x| x.abs()).sum();
        if scale == 0.0 {
            e[i] = z[i][l];
            continue;
        }
        let mut h = 0.0;
        for x in &mut z[i][..i] {
            *x /= scale;
            h += *x * *x;
        }
        let f = z[i][l];
        let g = if f >= 0.0 { -h.sqrt() } else { h.sqrt() };
        e[i] = scale * g;
        h -= f * g;
        z[i][l] = f - g;
        let mut f = 0.0;
        for j in 0..i {
            let mut g = 0.0;
            for k in 0..=j {
                g += z[j][k] * z[i][k];
            }
            for k in j + 1..i {
                g += z[k][j] * z[i][k];
            }
            e[j] = g / h;
            f += e[j] * z[i][j];
        }
        let hh = f / (h + h);
        for j in 0..i {
            let f = z[i][j];
            let g = e[j] - hh * f;
            e[j] = g;
            for k in 0..=j {
                z[j][k] -= f * e[k] + g * z[i][k];
            }
        }
    }
    for (i, di) in d.iter_mut().enumerate() {
        *di = z[i][i];
    }
    // The subdiagonal, e[i] between rows i and i + 1.
    e.rotate_left(1);
    e[n - 1] = 0.0;
    for l in 0..n {
        for _iteration in 0..60 {
            let mut m = l;
            while m + 1 < n {
                let dd = d[m].abs() + d[m + 1].abs();
                if e[m].abs() <= f64::EPSILON * dd {
                    break;
                }
                m += 1;
            }
            if m == l {
                break;
            }
            let mut g = (d[l + 1] - d[l]) / (2.0 * e[l]);
            let mut r = g.hypot(1.0);
            g = d[m] - d[l] + e[l] / (g + r.copysign(g));
            let (mut s, mut c, mut p) = (1.0, 1.0, 0.0);
            let mut deflated = false;
            for i in (l..m).rev() {
                let f = s * e[i];
                let b = c * e[i];
                r = f.hypot(g);
                e[i + 1] = r;
                if r == 0.0 {
                    d[i + 1] -= p;
                    e[m] = 0.0;
                    deflated = true;
                    break;
                }
                s = f / r;
                c = g / r;
                g = d[i + 1] - p;
                r = (d[i] - g) * s + 2.0 * c * b;
                p = s * r;
                d[i + 1] = g + p;
                g = c * r - b;
            }
            if deflated {
                continue;
            }
            d[l] -= p;
            e[l] = g;
            e[m] = 0.0;
        }
    }
    d.sort_by(|a, b| b.total_cmp(a));
    d
}

/// Eigenvalues (descending) and eigenvectors (as columns, same order) of a
/// symmetric matrix, by cyclic Jacobi rotations — accurate to machine
/// precision, fine for the p ≤ a few hundred that PCA sees here.
pub fn symmetric_eigen(a: &Matrix) -> (Vec<f64>, Matrix) {
    let n = a.rows;
    let mut m = a.clone();
    let mut v = Matrix::zeros(n, n);
    for i in 0..n {
        v.set(i, i, 1.0);
    }
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| m.get(i, j).powi(2))
            .sum();
        let scale: f64 = (0..n).map(|i| m.get(i, i).powi(2)).sum::<f64>().max(1e-300);
        if off <= 1e-30 * scale {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = m.get(p, q);
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (m.get(q, q) - m.get(p, p)) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let mkp = m.get(k, p);
                    let mkq = m.get(k, q);
                    m.set(k, p, c * mkp - s * mkq);
                    m.set(k, q, s * mkp + c * mkq);
                }
                for k in 0..n {
                    let mpk = m.get(p, k);
                    let mqk = m.get(q, k);
                    m.set(p, k, c * mpk - s * mqk);
                    m.set(q, k, s * mpk + c * mqk);
                }
                for k in 0..n {
                    let vkp = v.get(k, p);
                    let vkq = v.get(k, q);
                    v.set(k, p, c * vkp - s * vkq);
                    v.set(k, q, s * vkp + c * vkq);
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| m.get(j, j).total_cmp(&m.get(i, i)));
    let values = order.iter().map(|&i| m.get(i, i)).collect();
    (values, v.select_cols(&order))
}

#[cfg(test)]
mod eigenvalue_tests {
    use super::*;

    /// The tridiagonal QL eigenvalues equal the Jacobi ones on random
    /// symmetric matrices (sizes 1–40, with repeated and zero eigenvalues).
    #[test]
    fn tridiagonal_ql_matches_jacobi() {
        let mut rng = crate::core::rng::Rng::new(11);
        for n in [1usize, 2, 3, 5, 8, 17, 40] {
            let mut a = Matrix::zeros(n, n);
            for i in 0..n {
                for j in 0..=i {
                    let v = rng.uniform() * 2.0 - 1.0;
                    a.set(i, j, v);
                    a.set(j, i, v);
                }
            }
            let (want, _) = symmetric_eigen(&a);
            let got = symmetric_eigenvalues(&a);
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-11, "n = {n}: {g} vs {w}");
            }
        }
        // A rank-one matrix: one eigenvalue 3, the others 0.
        let mut ones = Matrix::zeros(3, 3);
        for i in 0..3 {
            for j in 0..3 {
                ones.set(i, j, 1.0);
            }
        }
        let v = symmetric_eigenvalues(&ones);
        assert!((v[0] - 3.0).abs() < 1e-12 && v[1].abs() < 1e-12 && v[2].abs() < 1e-12, "{v:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigen_of_a_known_matrix() {
        let a = Matrix::from_rows(&[vec![2.0, 1.0, 0.0], vec![1.0, 2.0, 0.0], vec![0.0, 0.0, 5.0]]);
        let (values, vectors) = symmetric_eigen(&a);
        for (got, want) in values.iter().zip([5.0, 3.0, 1.0]) {
            assert!((got - want).abs() < 1e-12, "{values:?}");
        }
        // A v = λ v for every pair.
        let av = a.matmul(&vectors);
        for c in 0..3 {
            for r in 0..3 {
                assert!((av.get(r, c) - values[c] * vectors.get(r, c)).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn products_and_stacking() {
        let a = Matrix::from_rows(&[vec![1.0, 2.0], vec![3.0, 4.0]]);
        assert_eq!(a.matmul(&a.transpose()).data, vec![5.0, 11.0, 11.0, 25.0]);
        assert_eq!(a.hstack(&a).cols, 4);
        assert_eq!(a.select_cols(&[1]).data, vec![2.0, 4.0]);
        assert_eq!(a.col_stds(0), vec![1.0, 1.0]);
    }
}
