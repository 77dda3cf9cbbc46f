//! The boundary with polars: a session frame's columns ([`FrameData`], a
//! polars frame inside), typed columns in and out, Parquet reading and
//! writing, and frames as result tables. No other module knows polars' API.

use std::path::Path;

use polars::prelude::{
    Column, DataFrame as PolarsFrame, DataType, IntoLazy, JoinArgs, JoinCoalesce, JoinType, ParquetReader,
    ParquetWriter, PlSmallStr, SerReader, col,
};
use polars::sql::{SQLContext, sql_expr};

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

/// How `join` keeps rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinHow {
    /// Rows whose key is in both frames.
    Inner,
    /// Every row of the left frame.
    Left,
    /// Every row of either frame.
    Full,
}

fn expression_error(what: &str, text: &str, e: impl std::fmt::Display) -> Error {
    let message = e.to_string();
    // polars' messages end with a long "Resolved plan" dump after a blank line.
    let first = message.split("\n\n").next().unwrap_or(&message).trim().to_string();
    Error::invalid(format!("{what} `{text}`: {first}"), Some("see `help filter`, `help mutate` or `help sql`"))
}

/// Rows for which `condition` (a SQL expression: `age > 50 and stage in ('III', 'IV')`)
/// is true. The text goes to polars' SQL parser only.
/// Text values in an `in (…)` list may be written bare (`stage in (III, IV)`)
/// when they are not column names: they are quoted before parsing.
pub fn filter(df: &FrameData, condition: &str) -> Result<FrameData> {
    let names = column_names(df);
    let condition = &quote_bare_in_items(condition, &names);
    let expr = sql_expr(condition).map_err(|e| expression_error("the condition", condition, e))?;
    df.0.clone()
        .lazy()
        .filter(expr)
        .collect()
        .map(FrameData)
        .map_err(|e| expression_error("the condition", condition, e))
}

/// The frame with a column `name` computed from `expression` (a SQL
/// expression over its columns), replacing a column of that name.
pub fn mutate(df: &FrameData, name: &str, expression: &str) -> Result<FrameData> {
    let expr = sql_expr(expression).map_err(|e| expression_error("the expression", expression, e))?;
    df.0.clone()
        .lazy()
        .with_columns([expr.alias(name)])
        .collect()
        .map(FrameData)
        .map_err(|e| expression_error("the expression", expression, e))
}

/// `left` joined with `right` on the key columns; a non-key column of
/// `right` whose name `left` already has gets `suffix`.
pub fn join(left: &FrameData, right: &FrameData, on: &[String], how: JoinHow, suffix: &str) -> Result<FrameData> {
    let keys: Vec<_> = on.iter().map(|k| col(k.as_str())).collect();
    let kind = match how {
        JoinHow::Inner => JoinType::Inner,
        JoinHow::Left => JoinType::Left,
        JoinHow::Full => JoinType::Full,
    };
    // A full join folds the two key columns into one, as the other kinds do.
    let args =
        JoinArgs::new(kind).with_suffix(Some(PlSmallStr::from(suffix))).with_coalesce(JoinCoalesce::CoalesceColumns);
    let joined = left
        .0
        .clone()
        .lazy()
        .join(right.0.clone().lazy(), keys.clone(), keys, args)
        .collect()
        .map_err(|e| Error::invalid(format!("join on {}: {e}", on.join(", ")), None))?;
    Ok(FrameData(joined))
}

/// The result of a SQL query over named frames (polars' SQL context: the
/// query is parsed by polars, never run as code).
pub fn sql(frames: &[(String, FrameData)], query: &str) -> Result<FrameData> {
    check_query(query)?;
    let mut ctx = SQLContext::new();
    for (name, df) in frames {
        ctx.register(name, df.0.clone().lazy());
    }
    let plan = ctx.execute(query).map_err(|e| expression_error("the query", query, e))?;
    plan.collect().map(FrameData).map_err(|e| expression_error("the query", query, e))
}

/// Rows `start..end` (clamped to the frame) as a frame.
pub fn slice(df: &FrameData, start: usize, end: usize) -> FrameData {
    let end = end.min(df.height());
    let start = start.min(end);
    FrameData(df.0.slice(start as i64, end - start))
}

/// A hash of a frame's content: column names, types and every value in
/// order (what a derived frame records as its dataset's sha256).
pub fn content_hash(df: &FrameData) -> String {
    let mut text = String::new();
    for c in columns(df) {
        text.push_str(&c.name);
        text.push('\u{1f}');
        text.push_str(&dtype_name(df, &c.name));
        text.push('\u{1e}');
        for v in c.values.as_text() {
            text.push_str(v.as_deref().unwrap_or("\u{0}"));
            text.push('\u{1f}');
        }
        text.push('\u{1d}');
    }
    crate::provenance::sha256_bytes(text.as_bytes())
}

/// A piece of SQL text outside string literals and quoted identifiers: a
/// word, or any other character.
#[derive(Debug, PartialEq)]
enum Lexeme<'a> {
    Word(&'a str),
    Quoted(&'a str),
    Other(char),
}

/// Splits SQL text into words, quoted parts ('text' or "identifier", with
/// doubled quotes inside) and single characters.
fn lex(text: &str) -> Vec<(usize, Lexeme<'_>)> {
    let mut out = Vec::new();
    let bytes: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    while i < bytes.len() {
        let (at, c) = bytes[i];
        if c == '\'' || c == '"' {
            let mut j = i + 1;
            while j < bytes.len() {
                if bytes[j].1 == c {
                    if bytes.get(j + 1).is_some_and(|n| n.1 == c) {
                        j += 2;
                        continue;
                    }
                    break;
                }
                j += 1;
            }
            let end = bytes.get(j + 1).map_or(text.len(), |n| n.0);
            out.push((at, Lexeme::Quoted(&text[at..end])));
            i = j + 1;
        } else if c.is_alphanumeric() || c == '_' {
            let mut j = i;
            while j < bytes.len() && (bytes[j].1.is_alphanumeric() || bytes[j].1 == '_' || bytes[j].1 == '.') {
                j += 1;
            }
            let end = bytes.get(j).map_or(text.len(), |n| n.0);
            out.push((at, Lexeme::Word(&text[at..end])));
            i = j;
        } else {
            out.push((at, Lexeme::Other(c)));
            i += 1;
        }
    }
    out
}

/// `stage in (III, IV)` → `stage in ('III', 'IV')`: bare words in an `in`
/// list that are not numbers, columns or SQL literals become text.
fn quote_bare_in_items(condition: &str, columns: &[String]) -> String {
    let lexemes = lex(condition);
    let mut quote_at: Vec<(usize, &str)> = Vec::new();
    let mut i = 0;
    while i < lexemes.len() {
        let is_in = matches!(lexemes[i].1, Lexeme::Word(w) if w.eq_ignore_ascii_case("in"));
        let mut j = i + 1;
        while matches!(lexemes.get(j), Some((_, Lexeme::Other(c))) if c.is_whitespace()) {
            j += 1;
        }
        if is_in && matches!(lexemes.get(j), Some((_, Lexeme::Other('(')))) {
            let mut k = j + 1;
            while let Some((at, lexeme)) = lexemes.get(k) {
                match lexeme {
                    Lexeme::Other(')') => break,
                    Lexeme::Word(w)
                        if !w.starts_with(|c: char| c.is_ascii_digit())
                            && !columns.iter().any(|c| c == w)
                            && !["null", "true", "false"].iter().any(|l| w.eq_ignore_ascii_case(l)) =>
                    {
                        quote_at.push((*at, w))
                    }
                    _ => {}
                }
                k += 1;
            }
            i = k;
        }
        i += 1;
    }
    let mut out = String::with_capacity(condition.len() + 4 * quote_at.len());
    let mut last = 0;
    for (at, w) in quote_at {
        out.push_str(&condition[last..at]);
        out.push('\'');
        out.push_str(w);
        out.push('\'');
        last = at + w.len();
    }
    out.push_str(&condition[last..]);
    out
}

/// The table functions of polars' SQL that read files: a query may only
/// read the session's frames (whose inputs are recorded).
const FILE_FUNCTIONS: [&str; 4] = ["read_csv", "read_parquet", "read_ipc", "read_json"];

/// A query must be one `SELECT` (or `WITH … SELECT`) over session frames.
pub fn check_query(query: &str) -> Result<()> {
    let lexemes = lex(query);
    let first = lexemes.iter().find_map(|(_, l)| match l {
        Lexeme::Word(w) => Some(*w),
        _ => None,
    });
    if !first.is_some_and(|w| w.eq_ignore_ascii_case("select") || w.eq_ignore_ascii_case("with")) {
        return Err(Error::invalid(
            format!("`{query}` is not a query: `sql` runs one SELECT (or WITH … SELECT)"),
            Some("frames are changed with the verbs: filter, mutate, join, drop"),
        ));
    }
    if let Some(f) = lexemes.iter().find_map(|(_, l)| match l {
        Lexeme::Word(w) if FILE_FUNCTIONS.iter().any(|f| w.eq_ignore_ascii_case(f)) => Some(*w),
        _ => None,
    }) {
        return Err(Error::invalid(
            format!("`{f}` reads a file, and `sql` reads only frames of this session"),
            Some("load the file first (`load NAME PATH`), so its hash is recorded"),
        ));
    }
    if lexemes.iter().any(|(_, l)| *l == Lexeme::Other(';')) {
        return Err(Error::invalid("`sql` runs one statement; remove the `;`", None));
    }
    Ok(())
}

/// The frame names a query mentions (bare or as "quoted" identifiers), in
/// the order given.
pub fn frames_named_in(query: &str, names: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for (_, l) in lex(query) {
        let word = match l {
            Lexeme::Word(w) => w.to_string(),
            Lexeme::Quoted(q) if q.starts_with('"') => q.trim_matches('"').replace("\"\"", "\""),
            _ => continue,
        };
        if names.contains(&word) && !found.contains(&word) {
            found.push(word);
        }
    }
    found
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

    #[test]
    fn bare_words_in_an_in_list_become_text() {
        let cols = vec!["stage".to_string(), "sex".to_string()];
        assert_eq!(quote_bare_in_items("stage in (III, IV)", &cols), "stage in ('III', 'IV')");
        assert_eq!(
            quote_bare_in_items("stage IN ('III', IV) and sex = 'm'", &cols),
            "stage IN ('III', 'IV') and sex = 'm'"
        );
        // Numbers, columns, NULL and words outside the list stay as they are.
        assert_eq!(quote_bare_in_items("x in (1, 2.5, stage, null)", &cols), "x in (1, 2.5, stage, null)");
        assert_eq!(quote_bare_in_items("inside > 3 and x in(a)", &cols), "inside > 3 and x in('a')");
        assert_eq!(quote_bare_in_items("name = 'in (x)'", &cols), "name = 'in (x)'");
    }

    #[test]
    fn queries_are_one_select_over_frames() {
        assert!(check_query("SELECT * FROM A").is_ok());
        assert!(check_query("with t as (select * from A) select * from t").is_ok());
        assert!(check_query("SELECT 'read_csv(x)' AS s FROM A").is_ok(), "a string literal is not a call");
        for bad in ["DROP TABLE A", "SELECT * FROM READ_PARQUET('x.parquet')", "SELECT 1 FROM A; SELECT 2 FROM A", ""] {
            assert!(check_query(bad).is_err(), "{bad}");
        }
        let names = vec!["A".to_string(), "A.T1".to_string(), "B".to_string()];
        assert_eq!(frames_named_in("SELECT * FROM \"A.T1\" t JOIN A ON t.id = A.id", &names), vec!["A.T1", "A"]);
        assert_eq!(frames_named_in("SELECT 'B' FROM A", &names), vec!["A"]);
    }

    #[test]
    fn content_hash_follows_values_and_names() {
        let col = |name: &str, v: f64| TypedColumn { name: name.into(), values: Values::Float(vec![Some(v), None]) };
        let a = to_dataframe(&[col("x", 1.0)]).unwrap();
        assert_eq!(content_hash(&a), content_hash(&to_dataframe(&[col("x", 1.0)]).unwrap()));
        assert_ne!(content_hash(&a), content_hash(&to_dataframe(&[col("x", 1.5)]).unwrap()));
        assert_ne!(content_hash(&a), content_hash(&to_dataframe(&[col("y", 1.0)]).unwrap()));
    }
}
