//! Reading and writing tabular data: cohort manifests, CSV and Parquet
//! tables, and the conversion to the polars frames the session holds.

pub mod csv_table;
pub mod frame;
pub mod manifest;
