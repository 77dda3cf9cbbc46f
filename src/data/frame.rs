//! The boundary with polars: a session frame's columns ([`FrameData`], a
//! polars frame inside), typed columns in and out, Parquet reading and
//! writing, and frames as result tables. No other module knows polars' API.

use std::path::Path;

use polars::prelude::{
    Column, DataFrame as PolarsFrame, DataType, ParquetReader, ParquetWriter, PlSmallStr, SerReader,
};

use crate::core::cohort::{RawTable, TypedColumn, Values};
use crate::error::{Error, Result};
use crate::output::{Cell, Table};
use crate::provenance::{io_error, write_atomic};

fn polars_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Io { path: path.to_path_buf(), message: e.to_string() }
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::invalid(format!("table operation failed: {e}"), None)
}

/// The columns of a session frame (held by polars).
#[derive(Debug, Clone)]
pub struct FrameData(PolarsFrame);

impl FrameData {
    /// Rows.
    pub fn height(&self) -> usize {
        self.0.height()
    }

    /// Columns.
    pub fn width(&self) -> usize {
        self.0.width()
    }
}

/// Builds a frame from typed columns (all of one length).
pub fn to_dataframe(columns: &[TypedColumn]) -> Result<FrameData> {
    polars_frame(columns).map(FrameData)
}

fn polars_frame(columns: &[TypedColumn]) -> Result<PolarsFrame> {
    let height = columns.first().map_or(0, |c| c.values.len());
    let cols: Vec<Column> = columns
        .iter()
        .map(|c| {
            let name = PlSmallStr::from(c.name.as_str());
            match &c.values {
                Values::Int(v) => Column::new(name, v),
                Values::Float(v) => Column::new(name, v),
                Values::Bool(v) => Column::new(name, v),
                Values::Text(v) => Column::new(name, v),
            }
        })
        .collect();
    PolarsFrame::new(height, cols).map_err(internal)
}

/// One column of a frame as typed values (integers as `Int`, other numbers
/// as `Float`, booleans, and everything else as text).
pub fn column(df: &FrameData, name: &str) -> Option<TypedColumn> {
    polars_column(&df.0, name)
}

fn polars_column(df: &PolarsFrame, name: &str) -> Option<TypedColumn> {
    let col = df.column(name).ok()?;
    let s = col.as_materialized_series();
    let dtype = s.dtype().clone();
    let values = if dtype.is_integer() {
        let c = s.cast(&DataType::Int64).ok()?;
        Values::Int(c.i64().ok()?.iter().collect())
    } else if dtype.is_float() {
        let c = s.cast(&DataType::Float64).ok()?;
        Values::Float(c.f64().ok()?.iter().map(|v| v.filter(|x| !x.is_nan())).collect())
    } else if dtype == DataType::Boolean {
        Values::Bool(s.bool().ok()?.iter().collect())
    } else {
        let c = s.cast(&DataType::String).ok()?;
        Values::Text(c.str().ok()?.iter().map(|v| v.map(str::to_string)).collect())
    };
    Some(TypedColumn { name: name.to_string(), values })
}

/// Column names in order.
pub fn column_names(df: &FrameData) -> Vec<String> {
    polars_names(&df.0)
}

fn polars_names(df: &PolarsFrame) -> Vec<String> {
    df.columns().iter().map(|c| c.name().to_string()).collect()
}

/// Every column, typed.
pub fn columns(df: &FrameData) -> Vec<TypedColumn> {
    polars_columns(&df.0)
}

fn polars_columns(df: &PolarsFrame) -> Vec<TypedColumn> {
    polars_names(df).iter().filter_map(|n| polars_column(df, n)).collect()
}

/// The polars dtype of a column, as polars names it.
pub fn dtype_name(df: &FrameData, name: &str) -> String {
    df.0.column(name).map(|c| c.dtype().to_string()).unwrap_or_default()
}

/// Rows `start..end` of a frame as a result table.
pub fn to_table(df: &FrameData, start: usize, end: usize) -> Table {
    let cols = columns(df);
    let mut table = Table::new(cols.iter().map(|c| c.name.clone()));
    for r in start..end.min(df.height()) {
        table.push(cols.iter().map(|c| cell(&c.values, r)).collect());
    }
    table
}

fn cell(values: &Values, r: usize) -> Cell {
    match values {
        Values::Int(v) => v[r].into(),
        Values::Float(v) => v[r].into(),
        Values::Bool(v) => v[r].map_or(Cell::Null, Cell::Bool),
        Values::Text(v) => v[r].clone().into(),
    }
}

/// Reads a Parquet file as raw text cells, so it is validated exactly like a
/// CSV. Rows are located as "row N" (1-based).
pub fn read_parquet_raw(path: &Path) -> Result<RawTable> {
    let file = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
    let df = ParquetReader::new(file).finish().map_err(|e| polars_error(path, e))?;
    let cols = polars_columns(&df);
    let headers = cols.iter().map(|c| c.name.clone()).collect();
    let texts: Vec<Vec<Option<String>>> = cols.iter().map(|c| c.values.as_text()).collect();
    let rows = (0..df.height()).map(|r| texts.iter().map(|t| t[r].clone().unwrap_or_default()).collect()).collect();
    let locations = (1..=df.height()).map(|r| format!("row {r}")).collect();
    Ok(RawTable { path: path.to_path_buf(), headers, rows, locations })
}

/// Turns a result table into a frame: a column is integer, float, boolean
/// or text by what its cells hold.
pub fn table_to_dataframe(table: &Table) -> Result<FrameData> {
    let typed: Vec<TypedColumn> = table
        .columns
        .iter()
        .enumerate()
        .map(|(c, name)| {
            let cells: Vec<&Cell> = table.rows.iter().map(|r| r.get(c).unwrap_or(&Cell::Null)).collect();
            let all = |f: fn(&Cell) -> bool| cells.iter().all(|x| **x == Cell::Null || f(x));
            let values = if all(|x| matches!(x, Cell::Int(_))) && cells.iter().any(|x| **x != Cell::Null) {
                Values::Int(cells.iter().map(|x| if let Cell::Int(v) = x { Some(*v) } else { None }).collect())
            } else if all(Cell::is_numeric) && cells.iter().any(|x| **x != Cell::Null) {
                Values::Float(
                    cells
                        .iter()
                        .map(|x| match x {
                            Cell::Int(v) => Some(*v as f64),
                            Cell::Float(v) => Some(*v),
                            _ => None,
                        })
                        .collect(),
                )
            } else if all(|x| matches!(x, Cell::Bool(_))) && cells.iter().any(|x| **x != Cell::Null) {
                Values::Bool(cells.iter().map(|x| if let Cell::Bool(b) = x { Some(*b) } else { None }).collect())
            } else {
                Values::Text(cells.iter().map(|x| (**x != Cell::Null).then(|| x.exact())).collect())
            };
            TypedColumn { name: name.clone(), values }
        })
        .collect();
    to_dataframe(&typed)
}

/// Writes a result table as Parquet.
pub fn write_parquet(table: &Table, path: &Path) -> Result<()> {
    let mut df = table_to_dataframe(table)?.0;
    let mut bytes = Vec::new();
    ParquetWriter::new(&mut bytes).finish(&mut df).map_err(|e| polars_error(path, e))?;
    write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_columns_round_trip_through_polars() {
        let cols = vec![
            TypedColumn { name: "id".into(), values: Values::Text(vec![Some("a".into()), Some("b".into())]) },
            TypedColumn { name: "x".into(), values: Values::Float(vec![Some(1.5), None]) },
            TypedColumn { name: "n".into(), values: Values::Int(vec![None, Some(3)]) },
        ];
        let df = to_dataframe(&cols).unwrap();
        assert_eq!(columns(&df), cols);
        assert_eq!(dtype_name(&df, "x"), "f64");
    }

    #[test]
    fn parquet_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let mut t = Table::new(["id", "v"]);
        t.push(vec!["P1".into(), Cell::Float(0.25)]);
        t.push(vec!["P2".into(), Cell::Null]);
        write_parquet(&t, &path).unwrap();
        let raw = read_parquet_raw(&path).unwrap();
        assert_eq!(raw.headers, vec!["id", "v"]);
        assert_eq!(raw.rows, vec![vec!["P1", "0.25"], vec!["P2", ""]]);
    }
}
