//! L1-penalised models by coordinate descent, with scikit-learn's
//! conventions, because neither smartcore nor linfa offers L1 logistic
//! regression and their Lasso lacks `LassoCV`'s alpha grid:
//!
//! - [`lasso`]: min (1/2n)‖y − Xw − b‖² + α‖w‖₁ (scikit-learn `Lasso`), with
//!   [`lasso_cv`] choosing α like `LassoCV(cv=5)`: 100 values from α_max down
//!   to 1e-3·α_max on a log grid, unshuffled 5-fold CV, smallest mean MSE.
//! - [`l1_logistic`]: min ‖w‖₁ + C·Σ log(1 + exp(−yᵢ(xᵢw + b))), intercept
//!   unpenalised (scikit-learn `LogisticRegression(penalty='l1')` with saga),
//!   solved by proximal Newton steps (coordinate descent on the quadratic
//!   model, as glmnet); [`l1_logistic_cv`] picks C from `Cs` like
//!   `LogisticRegressionCV`.

use crate::core::learn::cv::{Fold, kfold, stratified_kfold};
use crate::core::learn::matrix::Matrix;
use crate::error::{Error, Result};

/// A fitted linear model: coefficients and intercept.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearModel {
    pub coef: Vec<f64>,
    pub intercept: f64,
}

impl LinearModel {
    pub fn decision(&self, x: &[f64]) -> f64 {
        self.intercept + x.iter().zip(&self.coef).map(|(a, b)| a * b).sum::<f64>()
    }
}

fn soft(z: f64, t: f64) -> f64 {
    if z > t {
        z - t
    } else if z < -t {
        z + t
    } else {
        0.0
    }
}

/// Column-major copy of centred X, with column squared norms.
struct Centred {
    cols: Vec<Vec<f64>>,
    norms: Vec<f64>,
    x_mean: Vec<f64>,
    y_mean: f64,
    y: Vec<f64>,
    /// XᵀX and Xᵀy, when there are more rows than columns.
    gram: Option<Gram>,
}

fn centre(x: &Matrix, y: &[f64]) -> Centred {
    let x_mean = x.col_means();
    let y_mean = y.iter().sum::<f64>() / y.len() as f64;
    let cols: Vec<Vec<f64>> = (0..x.cols).map(|c| x.column(c).iter().map(|v| v - x_mean[c]).collect()).collect();
    let norms = cols.iter().map(|c| c.iter().map(|v| v * v).sum()).collect();
    let mut c = Centred { cols, norms, x_mean, y_mean, y: y.iter().map(|v| v - y_mean).collect(), gram: None };
    if c.y.len() > c.cols.len() {
        c.gram = Some(Gram::new(&c));
    }
    c
}

/// Coordinate descent for the Lasso on centred data, from `w` (warm start);
/// stops when the duality gap is below `tol`·‖y‖². With more rows than
/// columns it works on the Gram matrix (as scikit-learn's `precompute='auto'`).
fn lasso_cd(c: &Centred, alpha: f64, w: &mut [f64], tol: f64, max_iter: usize) {
    match &c.gram {
        Some(gram) => gram_cd(c, gram, alpha, w, tol, max_iter),
        None => residual_cd(c, alpha, w, tol, max_iter),
    }
}

/// XᵀX and Xᵀy of centred data.
struct Gram {
    g: Vec<Vec<f64>>,
    xty: Vec<f64>,
    yty: f64,
}

impl Gram {
    fn new(c: &Centred) -> Gram {
        let p = c.cols.len();
        let mut g = vec![vec![0.0; p]; p];
        for i in 0..p {
            for j in 0..=i {
                let v: f64 = c.cols[i].iter().zip(&c.cols[j]).map(|(a, b)| a * b).sum();
                g[i][j] = v;
                g[j][i] = v;
            }
        }
        let xty = c.cols.iter().map(|col| col.iter().zip(&c.y).map(|(a, b)| a * b).sum()).collect();
        Gram { g, xty, yty: c.y.iter().map(|v| v * v).sum() }
    }
}

/// The duality gap of ½‖r‖² + l1‖w‖₁ given ‖r‖², Xᵀr, rᵀy and w.
fn duality_gap(r2: f64, xtr: &[f64], ry: f64, w: &[f64], l1: f64) -> f64 {
    let xtr_max = xtr.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let w1: f64 = w.iter().map(|v| v.abs()).sum();
    let (scale, dual_r2) = if xtr_max > l1 { (l1 / xtr_max, r2 * (l1 / xtr_max).powi(2)) } else { (1.0, r2) };
    0.5 * (r2 + dual_r2) + l1 * w1 - scale * ry
}

fn gram_cd(c: &Centred, gram: &Gram, alpha: f64, w: &mut [f64], tol: f64, max_iter: usize) {
    let p = w.len();
    let l1 = alpha * c.y.len() as f64;
    // q = Xᵀr = Xᵀy − G w
    let mut q: Vec<f64> = (0..p).map(|j| gram.xty[j] - (0..p).map(|k| gram.g[j][k] * w[k]).sum::<f64>()).collect();
    let gap_tol = tol * gram.yty;
    for sweep in 0..max_iter {
        let (mut max_step, mut max_w) = (0.0f64, 0.0f64);
        for j in 0..p {
            let gjj = gram.g[j][j];
            if gjj == 0.0 {
                continue;
            }
            let old = w[j];
            let new = soft(q[j] + gjj * old, l1) / gjj;
            if new != old {
                let d = new - old;
                for (qk, gk) in q.iter_mut().zip(&gram.g[j]) {
                    *qk -= d * gk;
                }
                w[j] = new;
            }
            max_step = max_step.max((new - old).abs());
            max_w = max_w.max(new.abs());
        }
        // Check optimality (the duality gap) when the updates have become
        // small, as scikit-learn does, and every 10 sweeps regardless.
        if max_w == 0.0 || max_step / max_w < tol || sweep % 10 == 9 {
            // ‖r‖² = yᵀy − 2wᵀXᵀy + wᵀGw; rᵀy = yᵀy − wᵀXᵀy.
            let wxty: f64 = w.iter().zip(&gram.xty).map(|(a, b)| a * b).sum();
            let wgw: f64 = (0..p).map(|j| w[j] * (gram.xty[j] - q[j])).sum();
            let r2 = (gram.yty - 2.0 * wxty + wgw).max(0.0);
            if duality_gap(r2, &q, gram.yty - wxty, w, l1) < gap_tol {
                return;
            }
        }
    }
}

fn residual_cd(c: &Centred, alpha: f64, w: &mut [f64], tol: f64, max_iter: usize) {
    let n = c.y.len() as f64;
    let l1 = alpha * n;
    let mut r: Vec<f64> = c.y.clone();
    for (j, col) in c.cols.iter().enumerate() {
        if w[j] != 0.0 {
            for (ri, xi) in r.iter_mut().zip(col) {
                *ri -= w[j] * xi;
            }
        }
    }
    let y_norm2: f64 = c.y.iter().map(|v| v * v).sum();
    let gap_tol = tol * y_norm2;
    let p = c.cols.len();
    let correlations =
        |r: &[f64]| -> Vec<f64> { c.cols.iter().map(|col| col.iter().zip(r).map(|(x, ri)| x * ri).sum()).collect() };
    // Working set (a strong-rule screen): the non-zero coefficients and the
    // columns already close to entering. Optimality is checked over every
    // column (KKT and the duality gap), and violators join the set.
    let mut xtr = correlations(&r);
    let mut working: Vec<usize> = (0..p).filter(|&j| w[j] != 0.0 || xtr[j].abs() >= 0.5 * l1).collect();
    let mut sweeps = 0;
    while sweeps < max_iter {
        // Solve on the working set, with active-set inner passes.
        loop {
            let (max_step, max_w) = sweep(c, l1, w, &mut r, &working);
            sweeps += 1;
            if max_w == 0.0 || max_step / max_w < tol || sweeps >= max_iter {
                break;
            }
            let active: Vec<usize> = working.iter().copied().filter(|&j| w[j] != 0.0).collect();
            for _ in 0..1000 {
                let (step, big) = sweep(c, l1, w, &mut r, &active);
                sweeps += 1;
                if big == 0.0 || step / big < tol || sweeps >= max_iter {
                    break;
                }
            }
        }
        xtr = correlations(&r);
        let outside: Vec<usize> =
            (0..p).filter(|&j| xtr[j].abs() > l1 && c.norms[j] > 0.0 && !working.contains(&j)).collect();
        if outside.is_empty() {
            let r2: f64 = r.iter().map(|v| v * v).sum();
            let ry: f64 = r.iter().zip(&c.y).map(|(a, b)| a * b).sum();
            if duality_gap(r2, &xtr, ry, w, l1) < gap_tol {
                return;
            }
        }
        working.extend(outside);
        working.sort_unstable();
    }
}

/// One coordinate-descent pass over `columns`, keeping the residual current.
/// Returns the largest coefficient change and the largest coefficient.
fn sweep(c: &Centred, l1: f64, w: &mut [f64], r: &mut [f64], columns: &[usize]) -> (f64, f64) {
    let (mut max_step, mut max_w) = (0.0f64, 0.0f64);
    for &j in columns {
        if c.norms[j] == 0.0 {
            continue;
        }
        let col = &c.cols[j];
        let old = w[j];
        let rho: f64 = col.iter().zip(r.iter()).map(|(x, ri)| x * ri).sum::<f64>() + old * c.norms[j];
        let new = soft(rho, l1) / c.norms[j];
        if new != old {
            let d = new - old;
            for (ri, xi) in r.iter_mut().zip(col) {
                *ri -= d * xi;
            }
            w[j] = new;
        }
        max_step = max_step.max((new - old).abs());
        max_w = max_w.max(new.abs());
    }
    (max_step, max_w)
}

/// The Lasso at one α (scikit-learn `Lasso(alpha)` with `fit_intercept=True`).
pub fn lasso(x: &Matrix, y: &[f64], alpha: f64, tol: f64) -> LinearModel {
    let c = centre(x, y);
    let mut w = vec![0.0; x.cols];
    lasso_cd(&c, alpha, &mut w, tol, 100_000);
    let intercept = c.y_mean - w.iter().zip(&c.x_mean).map(|(a, b)| a * b).sum::<f64>();
    LinearModel { coef: w, intercept }
}

/// scikit-learn's α grid: `n` values, log-spaced from α_max = max|Xᵀ(y − ȳ)|/n
/// down to `eps`·α_max.
pub fn alpha_grid(x: &Matrix, y: &[f64], n: usize, eps: f64) -> Vec<f64> {
    let c = centre(x, y);
    let rows = y.len() as f64;
    let alpha_max =
        c.cols.iter().map(|col| col.iter().zip(&c.y).map(|(a, b)| a * b).sum::<f64>().abs()).fold(0.0, f64::max) / rows;
    if alpha_max <= f64::EPSILON {
        return vec![f64::EPSILON.max(alpha_max); n];
    }
    let (hi, lo) = (alpha_max.log10(), (alpha_max * eps).log10());
    (0..n).map(|i| 10f64.powf(hi - (hi - lo) * i as f64 / (n - 1).max(1) as f64)).collect()
}

/// The result of `LassoCV`.
#[derive(Debug, Clone)]
pub struct LassoCvFit {
    pub alpha: f64,
    pub alphas: Vec<f64>,
    /// Mean test MSE per α over the folds.
    pub mse: Vec<f64>,
    pub model: LinearModel,
}

/// scikit-learn's `max_iter` default for `Lasso`/`LassoCV`: sweeps per α
/// before it stops with a convergence warning. With more features than rows
/// and collinear radiomics, the duality gap can stay above `tol` for tens of
/// thousands of sweeps; scikit-learn stops here, and so does the pipeline.
pub const SKLEARN_MAX_ITER: usize = 1000;

/// `LassoCV(cv=folds)`: the α with the smallest mean held-out MSE over
/// unshuffled K-fold splits, then a refit on all rows.
pub fn lasso_cv(x: &Matrix, y: &[f64], folds: usize, tol: f64) -> Result<LassoCvFit> {
    lasso_cv_with(x, y, folds, tol, 100_000)
}

/// [`lasso_cv`] with scikit-learn's iteration cap (`max_iter` sweeps per α).
pub fn lasso_cv_with(x: &Matrix, y: &[f64], folds: usize, tol: f64, max_iter: usize) -> Result<LassoCvFit> {
    let alphas = alpha_grid(x, y, 100, 1e-3);
    let splits = kfold(x.rows, folds)?;
    let mut mse = vec![0.0; alphas.len()];
    for fold in &splits {
        let xt = x.select_rows(&fold.train);
        let yt: Vec<f64> = fold.train.iter().map(|&i| y[i]).collect();
        let c = centre(&xt, &yt);
        let mut w = vec![0.0; x.cols];
        for (a, &alpha) in alphas.iter().enumerate() {
            lasso_cd(&c, alpha, &mut w, tol, max_iter);
            let intercept = c.y_mean - w.iter().zip(&c.x_mean).map(|(a, b)| a * b).sum::<f64>();
            let model = LinearModel { coef: w.clone(), intercept };
            let err: f64 = fold.test.iter().map(|&i| (y[i] - model.decision(x.row(i))).powi(2)).sum::<f64>();
            mse[a] += err / fold.test.len() as f64 / splits.len() as f64;
        }
    }
    let best = (0..alphas.len()).fold(0, |b, i| if mse[i] < mse[b] { i } else { b });
    let c = centre(x, y);
    let mut w = vec![0.0; x.cols];
    lasso_cd(&c, alphas[best], &mut w, tol, max_iter);
    let intercept = c.y_mean - w.iter().zip(&c.x_mean).map(|(a, b)| a * b).sum::<f64>();
    let model = LinearModel { coef: w, intercept };
    Ok(LassoCvFit { alpha: alphas[best], alphas, mse, model })
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// L1-penalised logistic regression at inverse strength `c` (labels 0/1).
pub fn l1_logistic(x: &Matrix, y: &[u8], c: f64, tol: f64) -> Result<LinearModel> {
    if c <= 0.0 || !c.is_finite() {
        return Err(Error::invalid(format!("C must be positive, not {c}"), None));
    }
    let n = x.rows;
    let p = x.cols;
    let cols: Vec<Vec<f64>> = (0..p).map(|j| x.column(j)).collect();
    let yf: Vec<f64> = y.iter().map(|&v| f64::from(v)).collect();
    let mean_y = yf.iter().sum::<f64>() / n as f64;
    let mut b = if mean_y > 0.0 && mean_y < 1.0 { (mean_y / (1.0 - mean_y)).ln() } else { 0.0 };
    let mut w = vec![0.0; p];
    let mut eta: Vec<f64> = vec![b; n];
    let objective = |eta: &[f64], w: &[f64]| -> f64 {
        let loss: f64 = eta.iter().zip(&yf).map(|(e, yi)| (1.0 + (-e.abs()).exp()).ln() + e.max(0.0) - yi * e).sum();
        c * loss + w.iter().map(|v| v.abs()).sum::<f64>()
    };
    let mut obj = objective(&eta, &w);
    for _outer in 0..500 {
        // Quadratic model of C·loss around the current point.
        let prob: Vec<f64> = eta.iter().map(|&e| sigmoid(e)).collect();
        let weight: Vec<f64> = prob.iter().map(|p| (p * (1.0 - p)).max(1e-10) * c).collect();
        let grad: Vec<f64> = prob.iter().zip(&yf).map(|(p, yi)| c * (p - yi)).collect();
        // Working response: minimise Σ wᵢ/2 (zᵢ − Δηᵢ)² + ‖w + Δw‖₁ with zᵢ = −gradᵢ/wᵢ.
        let z: Vec<f64> = grad.iter().zip(&weight).map(|(g, h)| -g / h).collect();
        let (mut dw, mut db) = (vec![0.0; p], 0.0);
        let mut resid = z.clone(); // z − Δη
        let hnorm: Vec<f64> = cols.iter().map(|col| col.iter().zip(&weight).map(|(x, h)| h * x * x).sum()).collect();
        let hsum: f64 = weight.iter().sum();
        for _inner in 0..1000 {
            let mut max_change: f64 = 0.0;
            // Intercept (unpenalised).
            let step: f64 = resid.iter().zip(&weight).map(|(r, h)| r * h).sum::<f64>() / hsum;
            db += step;
            resid.iter_mut().for_each(|r| *r -= step);
            max_change = max_change.max(step.abs());
            for j in 0..p {
                if hnorm[j] == 0.0 {
                    continue;
                }
                let cur = w[j] + dw[j];
                let rho: f64 =
                    cols[j].iter().zip(&resid).zip(&weight).map(|((x, r), h)| h * x * r).sum::<f64>() + hnorm[j] * cur;
                let new = soft(rho, 1.0) / hnorm[j];
                let d = new - cur;
                if d != 0.0 {
                    dw[j] += d;
                    for (r, xv) in resid.iter_mut().zip(&cols[j]) {
                        *r -= d * xv;
                    }
                    max_change = max_change.max(d.abs() * hnorm[j].sqrt());
                }
            }
            if max_change < tol * 0.1 {
                break;
            }
        }
        // Backtracking line search on the true objective.
        let mut t = 1.0;
        let delta_eta: Vec<f64> =
            (0..n).map(|i| db + x.row(i).iter().zip(&dw).map(|(a, d)| a * d).sum::<f64>()).collect();
        let mut accepted = false;
        for _ in 0..50 {
            let trial_w: Vec<f64> = w.iter().zip(&dw).map(|(a, d)| a + t * d).collect();
            let trial_eta: Vec<f64> = eta.iter().zip(&delta_eta).map(|(e, d)| e + t * d).collect();
            let trial = objective(&trial_eta, &trial_w);
            if trial <= obj + 1e-12 * obj.abs() {
                let improvement = obj - trial;
                w = trial_w;
                eta = trial_eta;
                b += t * db;
                obj = trial;
                accepted = true;
                if improvement <= tol * obj.abs().max(1.0) {
                    return Ok(LinearModel { coef: w, intercept: b });
                }
                break;
            }
            t *= 0.5;
        }
        if !accepted {
            break;
        }
    }
    Ok(LinearModel { coef: w, intercept: b })
}

/// scikit-learn's default `Cs=10`: 10 values log-spaced from 1e-4 to 1e4.
pub fn default_cs(n: usize) -> Vec<f64> {
    (0..n).map(|i| 10f64.powf(-4.0 + 8.0 * i as f64 / (n - 1).max(1) as f64)).collect()
}

/// How inner CV scores a C.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Scoring {
    /// Accuracy at 0.5 (scikit-learn's default for `LogisticRegressionCV`).
    Accuracy,
    /// Area under the ROC curve.
    Auc,
}

/// `LogisticRegressionCV(penalty='l1', Cs=cs, cv=StratifiedKFold(folds))`:
/// the C with the best mean held-out score (the smallest C among ties), then
/// a refit on all rows. Returns the model and the chosen C.
pub fn l1_logistic_cv(
    x: &Matrix,
    y: &[u8],
    cs: &[f64],
    folds: usize,
    scoring: Scoring,
    seed: u64,
    tol: f64,
) -> Result<(LinearModel, f64)> {
    let splits: Vec<Fold> = stratified_kfold(y, folds, Some(seed))?;
    let mut scores = vec![0.0; cs.len()];
    for fold in &splits {
        let xt = x.select_rows(&fold.train);
        let yt: Vec<u8> = fold.train.iter().map(|&i| y[i]).collect();
        for (k, &c) in cs.iter().enumerate() {
            let m = l1_logistic(&xt, &yt, c, tol)?;
            let prob: Vec<f64> = fold.test.iter().map(|&i| sigmoid(m.decision(x.row(i)))).collect();
            let truth: Vec<u8> = fold.test.iter().map(|&i| y[i]).collect();
            scores[k] += match scoring {
                Scoring::Accuracy => crate::core::learn::metrics::accuracy(&prob, &truth, 0.5),
                Scoring::Auc => crate::core::learn::metrics::auc(&prob, &truth),
            } / splits.len() as f64;
        }
    }
    let best = (0..cs.len()).fold(0, |b, i| if scores[i] > scores[b] { i } else { b });
    Ok((l1_logistic(x, y, cs[best], tol)?, cs[best]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lasso_with_tiny_alpha_is_least_squares() {
        // y = 2 x1 − x2 + 3 exactly.
        let x = Matrix::from_rows(&[vec![0.0, 1.0], vec![1.0, 0.0], vec![2.0, 3.0], vec![3.0, 1.0], vec![4.0, 5.0]]);
        let y: Vec<f64> = (0..5).map(|i| 2.0 * x.get(i, 0) - x.get(i, 1) + 3.0).collect();
        let m = lasso(&x, &y, 1e-10, 1e-12);
        assert!(
            (m.coef[0] - 2.0).abs() < 1e-6 && (m.coef[1] + 1.0).abs() < 1e-6 && (m.intercept - 3.0).abs() < 1e-6,
            "{m:?}"
        );
        // Above α_max every coefficient is zero.
        let grid = alpha_grid(&x, &y, 100, 1e-3);
        assert!(lasso(&x, &y, grid[0] * 1.0001, 1e-12).coef.iter().all(|c| *c == 0.0));
    }

    #[test]
    fn l1_logistic_shrinks_to_zero_for_small_c() {
        let x = Matrix::from_rows(&[vec![0.0], vec![1.0], vec![2.0], vec![3.0], vec![1.5], vec![2.5]]);
        let y = [0, 0, 1, 1, 0, 1];
        assert_eq!(l1_logistic(&x, &y, 1e-4, 1e-10).unwrap().coef, vec![0.0]);
        assert!(l1_logistic(&x, &y, 100.0, 1e-10).unwrap().coef[0] > 1.0);
    }
}
