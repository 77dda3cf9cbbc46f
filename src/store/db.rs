//! The two databases a [`super::Store`] can keep its runs in, behind one
//! small interface: SQLite (a `runs.db` file, the embedded default) and
//! PostgreSQL (`postgres://USER@HOST:PORT/DB`, the cluster's shared store).
//!
//! Statements are written once, in the SQL both understand, with `?N` (or
//! bare `?`) placeholders; for PostgreSQL they become `$N`. Values cross as
//! [`Value`]: on the way in a value takes the type the server inferred for
//! its parameter, on the way out each column comes back as the nearest
//! `Value`, so the store's code never sees either driver.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use rusqlite::Connection;

/// Which SQL dialect a statement is for, where they differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// One value bound to or read from a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Real(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Int(i64::from(v))
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_string())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Value {
        Value::Text(v.clone())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

/// Binds a list of values: `vals![id, name, None::<i64>]`.
macro_rules! vals {
    ($($v:expr),* $(,)?) => { &[$($crate::store::db::Value::from($v)),*][..] };
}
pub(crate) use vals;

/// A database error: the driver's message, and whether it was a lock
/// conflict worth retrying.
#[derive(Debug)]
pub struct DbError {
    pub message: String,
    pub busy: bool,
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> DbError {
        let busy = matches!(
            &e,
            rusqlite::Error::SqliteFailure(f, _)
                if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        );
        DbError { message: e.to_string(), busy }
    }
}

impl From<postgres::Error> for DbError {
    fn from(e: postgres::Error) -> DbError {
        // The server's own message (with its detail) reads better than the
        // client's "db error" wrapper.
        let message = match e.as_db_error() {
            Some(db) => match db.detail() {
                Some(detail) => format!("{} ({detail})", db.message()),
                None => db.message().to_string(),
            },
            None => e.to_string(),
        };
        let busy = e.code().is_some_and(|c| {
            *c == postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
                || *c == postgres::error::SqlState::T_R_DEADLOCK_DETECTED
        });
        DbError { message, busy }
    }
}

pub type DbResult<T> = std::result::Result<T, DbError>;

fn conversion(column: usize, want: &str, got: &Value) -> DbError {
    DbError { message: format!("column {column}: expected {want}, found {got:?}"), busy: false }
}

/// One result row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<Value>);

impl Row {
    pub fn value(&self, i: usize) -> &Value {
        self.0.get(i).unwrap_or(&Value::Null)
    }

    /// An integer; a numeric text (PostgreSQL's text parameter values) is read as one.
    pub fn opt_int(&self, i: usize) -> DbResult<Option<i64>> {
        match self.value(i) {
            Value::Null => Ok(None),
            Value::Int(v) => Ok(Some(*v)),
            Value::Real(v) if v.fract() == 0.0 && v.abs() < 9.0e15 => Ok(Some(*v as i64)),
            Value::Text(t) if t.parse::<i64>().is_ok() => Ok(t.parse().ok()),
            other => Err(conversion(i, "an integer", other)),
        }
    }

    pub fn int(&self, i: usize) -> DbResult<i64> {
        self.opt_int(i)?.ok_or_else(|| conversion(i, "an integer", &Value::Null))
    }

    pub fn opt_real(&self, i: usize) -> DbResult<Option<f64>> {
        match self.value(i) {
            Value::Null => Ok(None),
            Value::Int(v) => Ok(Some(*v as f64)),
            Value::Real(v) => Ok(Some(*v)),
            Value::Text(t) if t.parse::<f64>().is_ok() => Ok(t.parse().ok()),
            other => Err(conversion(i, "a number", other)),
        }
    }

    pub fn real(&self, i: usize) -> DbResult<f64> {
        self.opt_real(i)?.ok_or_else(|| conversion(i, "a number", &Value::Null))
    }

    pub fn opt_text(&self, i: usize) -> DbResult<Option<String>> {
        match self.value(i) {
            Value::Null => Ok(None),
            Value::Text(t) => Ok(Some(t.clone())),
            other => Err(conversion(i, "text", other)),
        }
    }

    pub fn text(&self, i: usize) -> DbResult<String> {
        self.opt_text(i)?.ok_or_else(|| conversion(i, "text", &Value::Null))
    }

    /// Any value as text (numbers as SQLite's CAST would write them).
    pub fn as_text(&self, i: usize) -> Option<String> {
        match self.value(i) {
            Value::Null => None,
            Value::Int(v) => Some(v.to_string()),
            Value::Real(v) => Some(v.to_string()),
            Value::Text(t) => Some(t.clone()),
        }
    }
}

/// An open database.
pub enum Db {
    Sqlite(Connection),
    Postgres(Box<Postgres>),
}

/// A PostgreSQL connection with its prepared statements, by text.
pub struct Postgres {
    client: RefCell<postgres::Client>,
    prepared: RefCell<HashMap<String, postgres::Statement>>,
}

impl Db {
    /// Connects to the PostgreSQL server named by `url`
    /// (`postgres://USER[:PASSWORD]@HOST[:PORT]/DB`, or `postgresql://…`).
    pub fn connect_postgres(url: &str) -> DbResult<Db> {
        let mut config: postgres::Config =
            url.parse().map_err(|e: postgres::Error| DbError { message: e.to_string(), busy: false })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(20));
        }
        config.application_name("radose");
        let client = config.connect(postgres::NoTls)?;
        Ok(Db::Postgres(Box::new(Postgres { client: RefCell::new(client), prepared: RefCell::new(HashMap::new()) })))
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite(_) => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs a statement; returns the number of rows it changed.
    pub fn execute(&self, sql: &str, params: &[Value]) -> DbResult<u64> {
        match self {
            Db::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                Ok(stmt.execute(rusqlite::params_from_iter(params.iter().map(sqlite_value)))? as u64)
            }
            Db::Postgres(p) => p.with_statement(sql, |client, stmt| {
                let refs = pg_params(params);
                Ok(client.execute(stmt, &refs)?)
            }),
        }
    }

    /// Runs a query and returns every row.
    pub fn query(&self, sql: &str, params: &[Value]) -> DbResult<Vec<Row>> {
        match self {
            Db::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let columns = stmt.column_count();
                let mut rows = stmt.query(rusqlite::params_from_iter(params.iter().map(sqlite_value)))?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    let mut row = Vec::with_capacity(columns);
                    for i in 0..columns {
                        row.push(match r.get_ref(i)? {
                            rusqlite::types::ValueRef::Null => Value::Null,
                            rusqlite::types::ValueRef::Integer(v) => Value::Int(v),
                            rusqlite::types::ValueRef::Real(v) => Value::Real(v),
                            rusqlite::types::ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                            rusqlite::types::ValueRef::Blob(b) => Value::Text(String::from_utf8_lossy(b).into_owned()),
                        });
                    }
                    out.push(Row(row));
                }
                Ok(out)
            }
            Db::Postgres(p) => p.with_statement(sql, |client, stmt| {
                let refs = pg_params(params);
                let rows = client.query(stmt, &refs)?;
                let mut out = Vec::with_capacity(rows.len());
                for r in &rows {
                    let mut row = Vec::with_capacity(r.len());
                    for i in 0..r.len() {
                        row.push(r.try_get::<_, Value>(i)?);
                    }
                    out.push(Row(row));
                }
                Ok(out)
            }),
        }
    }

    /// The first row, if any.
    pub fn query_opt(&self, sql: &str, params: &[Value]) -> DbResult<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// The first row; an error when there is none.
    pub fn query_one(&self, sql: &str, params: &[Value]) -> DbResult<Row> {
        self.query_opt(sql, params)?
            .ok_or_else(|| DbError { message: format!("no row from `{}`", first_words(sql)), busy: false })
    }

    /// Several statements without parameters (a migration).
    pub fn batch(&self, sql: &str) -> DbResult<()> {
        match self {
            Db::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Db::Postgres(p) => Ok(p.client.borrow_mut().batch_execute(sql)?),
        }
    }

    /// Runs `work` in one transaction: SQLite's `BEGIN IMMEDIATE` (the
    /// write lock taken at once, so two writers never deadlock), PostgreSQL's
    /// `BEGIN`. Committed when `work` succeeds, rolled back when it fails.
    pub fn transaction<T>(&self, work: impl FnOnce(&Db) -> DbResult<T>) -> DbResult<T> {
        self.batch(match self {
            Db::Sqlite(_) => "BEGIN IMMEDIATE",
            Db::Postgres(_) => "BEGIN",
        })?;
        match work(self) {
            Ok(v) => match self.batch("COMMIT") {
                Ok(()) => Ok(v),
                Err(e) => {
                    let _ = self.batch("ROLLBACK");
                    Err(e)
                }
            },
            Err(e) => {
                let _ = self.batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// SQL for the database server's clock now, in seconds since 1970
    /// (leases are timed by it, never by a worker's own clock).
    pub fn now_seconds_sql(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "((julianday('now') - 2440587.5) * 86400.0)",
            Db::Postgres(_) => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)",
        }
    }
}

impl Postgres {
    fn with_statement<T>(
        &self,
        sql: &str,
        work: impl FnOnce(&mut postgres::Client, &postgres::Statement) -> DbResult<T>,
    ) -> DbResult<T> {
        let mut client = self.client.borrow_mut();
        let cached = self.prepared.borrow().get(sql).cloned();
        let stmt = match cached {
            Some(s) => s,
            None => {
                let s = client.prepare(&postgres_sql(sql))?;
                self.prepared.borrow_mut().insert(sql.to_string(), s.clone());
                s
            }
        };
        work(&mut client, &stmt)
    }
}

fn first_words(sql: &str) -> String {
    sql.split_whitespace().take(6).collect::<Vec<_>>().join(" ")
}

fn sqlite_value(v: &Value) -> rusqlite::types::Value {
    match v {
        Value::Null => rusqlite::types::Value::Null,
        Value::Int(x) => rusqlite::types::Value::Integer(*x),
        Value::Real(x) => rusqlite::types::Value::Real(*x),
        Value::Text(t) => rusqlite::types::Value::Text(t.clone()),
    }
}

fn pg_params(params: &[Value]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    params.iter().map(|v| v as &(dyn postgres::types::ToSql + Sync)).collect()
}

/// A statement's `?N` and bare `?` placeholders as PostgreSQL's `$N`
/// (bare ones numbered in order); quoted text and identifiers are copied
/// as they are.
pub fn postgres_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    let mut bare = 0;
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            out.push(c);
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => {
                quote = Some(c);
                out.push(c);
            }
            '?' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    digits.push(d);
                    chars.next();
                }
                out.push('$');
                if digits.is_empty() {
                    bare += 1;
                    out.push_str(&bare.to_string());
                } else {
                    out.push_str(&digits);
                }
            }
            _ => out.push(c),
        }
    }
    out
}

mod pg_types {
    use std::error::Error;

    use bytes::BytesMut;
    use postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

    use crate::store::db::Value;

    type Boxed = Box<dyn Error + Sync + Send>;

    fn refuse(v: &Value, ty: &Type) -> Boxed {
        format!("cannot store {v:?} in a {ty} parameter").into()
    }

    impl ToSql for Value {
        fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Boxed> {
            match self {
                Value::Null => Ok(IsNull::Yes),
                Value::Int(v) => match *ty {
                    Type::INT8 => v.to_sql(ty, out),
                    Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                    Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                    Type::FLOAT8 => (*v as f64).to_sql(ty, out),
                    Type::FLOAT4 => (*v as f32).to_sql(ty, out),
                    Type::BOOL => (*v != 0).to_sql(ty, out),
                    Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                        v.to_string().to_sql(&Type::TEXT, out)
                    }
                    _ => Err(refuse(self, ty)),
                },
                Value::Real(v) => match *ty {
                    Type::FLOAT8 => v.to_sql(ty, out),
                    Type::FLOAT4 => (*v as f32).to_sql(ty, out),
                    // Rust writes the shortest text that reads back as the same number.
                    Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                        v.to_string().to_sql(&Type::TEXT, out)
                    }
                    Type::INT8 if v.fract() == 0.0 => (*v as i64).to_sql(ty, out),
                    _ => Err(refuse(self, ty)),
                },
                Value::Text(t) => match *ty {
                    Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                        t.as_str().to_sql(&Type::TEXT, out)
                    }
                    _ => Err(refuse(self, ty)),
                },
            }
        }

        fn accepts(_: &Type) -> bool {
            true
        }

        to_sql_checked!();
    }

    impl<'a> FromSql<'a> for Value {
        fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Value, Boxed> {
            Ok(match *ty {
                Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
                Type::INT4 => Value::Int(i64::from(i32::from_sql(ty, raw)?)),
                Type::INT2 => Value::Int(i64::from(i16::from_sql(ty, raw)?)),
                Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
                Type::FLOAT4 => Value::Real(f64::from(f32::from_sql(ty, raw)?)),
                Type::BOOL => Value::Int(i64::from(bool::from_sql(ty, raw)?)),
                _ => Value::Text(String::from_sql(&Type::TEXT, raw)?),
            })
        }

        fn from_sql_null(_: &Type) -> Result<Value, Boxed> {
            Ok(Value::Null)
        }

        fn accepts(ty: &Type) -> bool {
            matches!(
                *ty,
                Type::INT8
                    | Type::INT4
                    | Type::INT2
                    | Type::FLOAT8
                    | Type::FLOAT4
                    | Type::BOOL
                    | Type::TEXT
                    | Type::VARCHAR
                    | Type::BPCHAR
                    | Type::NAME
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollar_numbers_outside_quotes() {
        assert_eq!(postgres_sql("SELECT ?1, ?12 WHERE a = ?2"), "SELECT $1, $12 WHERE a = $2");
        assert_eq!(postgres_sql("a IN (?, ?) LIMIT ?"), "a IN ($1, $2) LIMIT $3");
        assert_eq!(postgres_sql("x = '?1' AND \"q?\" = ?1"), "x = '?1' AND \"q?\" = $1");
        assert_eq!(postgres_sql("LIKE ? ESCAPE '\\'"), "LIKE $1 ESCAPE '\\'");
    }

    #[test]
    fn rows_read_numbers_from_numeric_text() {
        let row = Row(vec![Value::Text("12".into()), Value::Text("0.25".into()), Value::Null, Value::Real(3.0)]);
        assert_eq!(row.int(0).unwrap(), 12);
        assert_eq!(row.real(1).unwrap(), 0.25);
        assert_eq!(row.opt_int(2).unwrap(), None);
        assert_eq!(row.int(3).unwrap(), 3);
        assert!(row.int(1).is_err());
        assert!(row.text(3).is_err());
    }
}
