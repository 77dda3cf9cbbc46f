//! The schema of `runs.db` as an append-only list of migrations. The index
//! of the last one applied is SQLite's `user_version`. Never edit a
//! migration that has shipped; add a new one.

pub const MIGRATIONS: &[&str] = &[
    // 1: experiments, runs and everything recorded about a run.
    r#"
CREATE TABLE experiments (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    description TEXT
);

CREATE TABLE runs (
    id              INTEGER PRIMARY KEY,
    experiment_id   INTEGER REFERENCES experiments(id),
    parent_id       INTEGER REFERENCES runs(id),
    kind            TEXT NOT NULL,
    command         TEXT NOT NULL,
    status          TEXT NOT NULL
                    CHECK (status IN ('running', 'finished', 'failed', 'cancelled', 'interrupted')),
    started_at      TEXT NOT NULL,
    ended_at        TEXT,
    seed            INTEGER,
    program_version TEXT NOT NULL,
    git_commit      TEXT,
    host            TEXT NOT NULL,
    pid             INTEGER NOT NULL,
    process_token   TEXT,
    error           TEXT
);
CREATE INDEX runs_by_parent ON runs(parent_id);
CREATE INDEX runs_by_status ON runs(status);

CREATE TABLE params (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key    TEXT NOT NULL,
    type   TEXT NOT NULL CHECK (type IN ('int', 'float', 'text', 'bool')),
    value,
    PRIMARY KEY (run_id, key)
);

CREATE TABLE metrics (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    value       REAL,
    step        INTEGER,
    fold        INTEGER,
    recorded_at TEXT NOT NULL
);
CREATE INDEX metrics_by_run ON metrics(run_id, key);

CREATE TABLE datasets (
    id     INTEGER PRIMARY KEY,
    name   TEXT NOT NULL,
    path   TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    rows   INTEGER,
    UNIQUE (name, path, sha256)
);

CREATE TABLE run_datasets (
    run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    dataset_id INTEGER NOT NULL REFERENCES datasets(id),
    PRIMARY KEY (run_id, dataset_id)
);

CREATE TABLE predictions (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    fold        INTEGER,
    patient_id  TEXT NOT NULL,
    label       INTEGER NOT NULL CHECK (label IN (0, 1)),
    probability REAL NOT NULL
);
CREATE INDEX predictions_by_run ON predictions(run_id, fold);

CREATE TABLE artifacts (
    id     INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    path   TEXT NOT NULL,
    sha256 TEXT NOT NULL
);
"#,
    // 2: metrics that describe how a run went (durations, cache hits), not
    // its result; a notebook replay reports them without failing on them.
    r#"
ALTER TABLE metrics ADD COLUMN incidental INTEGER NOT NULL DEFAULT 0 CHECK (incidental IN (0, 1));
"#,
];
