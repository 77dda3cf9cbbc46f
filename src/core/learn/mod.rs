//! Learning on feature tables: matrices, CV splits, feature correlations
//! and redundancy, fitted selection and preprocessing steps, L1 models,
//! classifiers, metrics, and the leakage-safe pipeline that fits every step
//! inside the training fold.

pub mod audit;
pub mod classifiers;
pub mod correlation;
pub mod cv;
pub mod lasso;
pub mod matrix;
pub mod metrics;
pub mod pipeline;
pub mod steps;
