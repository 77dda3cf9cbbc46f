//! Baseline classifiers beside the CNN: L2-penalised logistic regression
//! (scikit-learn's `LogisticRegression(C)` objective, solved by Newton's
//! method) and bagged decision trees built with smartcore. smartcore's own
//! random forest only predicts hard labels, and AUC needs probabilities, so
//! the ensemble here bags smartcore `DecisionTreeClassifier`s on bootstrap
//! samples, each on a random subset of √p features, and averages their votes.

use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::tree::decision_tree_classifier::{DecisionTreeClassifier, DecisionTreeClassifierParameters};

use crate::core::learn::lasso::LinearModel;
use crate::core::learn::matrix::Matrix;
use crate::core::rng::Rng;
use crate::error::{Error, Result};

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 { 1.0 / (1.0 + (-z).exp()) } else { z.exp() / (1.0 + z.exp()) }
}

/// Solves `a x = b` (a symmetric positive definite) by Cholesky.
fn cholesky_solve(a: &[Vec<f64>], b: &[f64]) -> Option<Vec<f64>> {
    let n = b.len();
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                let d = a[i][i] - s;
                if d <= 0.0 {
                    return None;
                }
                l[i][j] = d.sqrt();
            } else {
                l[i][j] = (a[i][j] - s) / l[j][j];
            }
        }
    }
    let mut z = vec![0.0; n];
    for i in 0..n {
        z[i] = (b[i] - (0..i).map(|k| l[i][k] * z[k]).sum::<f64>()) / l[i][i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        x[i] = (z[i] - (i + 1..n).map(|k| l[k][i] * x[k]).sum::<f64>()) / l[i][i];
    }
    Some(x)
}

/// min ½‖w‖² + C·Σ log(1 + exp(−yᵢ(xᵢw + b))), intercept unpenalised.
pub fn l2_logistic(x: &Matrix, y: &[u8], c: f64) -> Result<LinearModel> {
    if c <= 0.0 || !c.is_finite() {
        return Err(Error::invalid(format!("C must be positive, not {c}"), None));
    }
    let (n, p) = (x.rows, x.cols);
    let mut beta = vec![0.0; p + 1]; // coefficients, then intercept
    let design = |i: usize, j: usize| if j < p { x.get(i, j) } else { 1.0 };
    let objective = |beta: &[f64]| -> f64 {
        let loss: f64 = (0..n)
            .map(|i| {
                let e: f64 = (0..=p).map(|j| design(i, j) * beta[j]).sum();
                (1.0 + (-e.abs()).exp()).ln() + e.max(0.0) - f64::from(y[i]) * e
            })
            .sum();
        c * loss + 0.5 * beta[..p].iter().map(|v| v * v).sum::<f64>()
    };
    let mut obj = objective(&beta);
    for _ in 0..100 {
        let mut grad = vec![0.0; p + 1];
        let mut hess = vec![vec![0.0; p + 1]; p + 1];
        for i in 0..n {
            let e: f64 = (0..=p).map(|j| design(i, j) * beta[j]).sum();
            let prob = sigmoid(e);
            let w = c * prob * (1.0 - prob);
            for j in 0..=p {
                grad[j] += c * (prob - f64::from(y[i])) * design(i, j);
                for k in 0..=j {
                    hess[j][k] += w * design(i, j) * design(i, k);
                }
            }
        }
        for j in 0..p {
            grad[j] += beta[j];
            hess[j][j] += 1.0;
        }
        hess[p][p] += 1e-12;
        for j in 0..=p {
            for k in j + 1..=p {
                hess[j][k] = hess[k][j];
            }
        }
        let Some(step) = cholesky_solve(&hess, &grad) else {
            return Err(Error::invalid("logistic regression: the Hessian is singular", None));
        };
        let mut t = 1.0;
        let mut moved = false;
        for _ in 0..40 {
            let trial: Vec<f64> = beta.iter().zip(&step).map(|(b, s)| b - t * s).collect();
            let value = objective(&trial);
            if value <= obj {
                let gain = obj - value;
                beta = trial;
                obj = value;
                moved = true;
                if gain <= 1e-12 * obj.abs().max(1.0) {
                    return Ok(LinearModel { coef: beta[..p].to_vec(), intercept: beta[p] });
                }
                break;
            }
            t *= 0.5;
        }
        if !moved {
            break;
        }
    }
    Ok(LinearModel { coef: beta[..p].to_vec(), intercept: beta[p] })
}

/// A fitted classifier.
pub enum FittedClassifier {
    Linear(LinearModel),
    /// Each tree with its feature columns and the column of class 1 in its
    /// probabilities (`None` when its bootstrap sample had no positives).
    Trees {
        trees: Vec<(DecisionTreeClassifier<f64, u32, DenseMatrix<f64>, Vec<u32>>, Vec<usize>, Option<usize>)>,
    },
}

fn dense(x: &Matrix, cols: &[usize]) -> Result<DenseMatrix<f64>> {
    let rows: Vec<Vec<f64>> = (0..x.rows).map(|r| cols.iter().map(|&c| x.get(r, c)).collect()).collect();
    DenseMatrix::from_2d_vec(&rows).map_err(|e| Error::invalid(format!("tree ensemble: {e}"), None))
}

impl FittedClassifier {
    /// The probability of the positive class for each row.
    pub fn predict_proba(&self, x: &Matrix) -> Result<Vec<f64>> {
        match self {
            FittedClassifier::Linear(m) => Ok((0..x.rows).map(|r| sigmoid(m.decision(x.row(r)))).collect()),
            FittedClassifier::Trees { trees } => {
                let mut votes = vec![0.0; x.rows];
                for (tree, cols, pos) in trees {
                    let Some(pos) = *pos else { continue };
                    let proba = tree
                        .predict_proba(&dense(x, cols)?)
                        .map_err(|e| Error::invalid(format!("tree ensemble: {e}"), None))?;
                    for (r, v) in votes.iter_mut().enumerate() {
                        *v += *proba.get((r, pos));
                    }
                }
                Ok(votes.into_iter().map(|v| v / trees.len().max(1) as f64).collect())
            }
        }
    }
}

/// Bagged smartcore decision trees (see the module doc).
pub fn bagged_trees(x: &Matrix, y: &[u8], n_trees: usize, max_depth: u16, seed: u64) -> Result<FittedClassifier> {
    if n_trees == 0 {
        return Err(Error::invalid("a tree ensemble needs at least one tree", None));
    }
    let m = ((x.cols as f64).sqrt().ceil() as usize).clamp(1, x.cols.max(1));
    let mut rng = Rng::derive(seed, &["bagged_trees"]);
    let mut trees = Vec::with_capacity(n_trees);
    for t in 0..n_trees {
        let rows: Vec<usize> = (0..x.rows).map(|_| rng.below(x.rows)).collect();
        let mut cols: Vec<usize> = (0..x.cols).collect();
        rng.shuffle(&mut cols);
        cols.truncate(m);
        cols.sort_unstable();
        let xs = dense(&x.select_rows(&rows), &cols)?;
        let ys: Vec<u32> = rows.iter().map(|&r| u32::from(y[r])).collect();
        let mut params = DecisionTreeClassifierParameters::default().with_max_depth(max_depth);
        params.seed = Some(crate::core::rng::Rng::sub_seed(seed, &["tree", &t.to_string()]));
        let tree = DecisionTreeClassifier::fit(&xs, &ys, params)
            .map_err(|e| Error::invalid(format!("tree ensemble: {e}"), None))?;
        // Probability columns follow the sorted classes of the sample.
        let pos = ys.contains(&1).then(|| usize::from(ys.contains(&0)));
        trees.push((tree, cols, pos));
    }
    Ok(FittedClassifier::Trees { trees })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn l2_logistic_separates_and_shrinks() {
        let x = Matrix::from_rows(&[vec![0.0], vec![1.0], vec![2.0], vec![3.0], vec![1.4], vec![1.6]]);
        let y = [0, 0, 1, 1, 0, 1];
        let strong = l2_logistic(&x, &y, 100.0).unwrap();
        let weak = l2_logistic(&x, &y, 0.01).unwrap();
        assert!(strong.coef[0] > weak.coef[0] && weak.coef[0] > 0.0);
    }

    #[test]
    fn trees_give_probabilities() {
        let rows: Vec<Vec<f64>> = (0..40).map(|i| vec![i as f64, (i % 7) as f64]).collect();
        let y: Vec<u8> = (0..40).map(|i| u8::from(i >= 20)).collect();
        let x = Matrix::from_rows(&rows);
        let f = bagged_trees(&x, &y, 25, 4, 1).unwrap();
        let p = f.predict_proba(&x).unwrap();
        assert!(p.iter().all(|v| (0.0..=1.0).contains(v)));
        assert!(crate::core::learn::metrics::auc(&p, &y) > 0.9);
    }
}
