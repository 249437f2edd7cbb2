//! The two dialects' migrations describe one schema.

use std::collections::BTreeMap;
use std::path::Path;

/// Per file: the tables with their columns in order, added columns and indexes, as names.
fn shape(dir: &str) -> BTreeMap<String, Vec<String>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(dir);
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let sql = std::fs::read_to_string(&path).unwrap();
        let mut names = Vec::new();
        let mut in_table = false;
        for line in sql.lines().map(str::trim).filter(|l| !l.starts_with("--")) {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["CREATE", "TABLE", table, ..] => {
                    names.push(format!("table {table}"));
                    in_table = true;
                }
                [")", ..] | [");"] => in_table = false,
                ["ALTER", "TABLE", table, "ADD", "COLUMN", column, ..] => {
                    names.push(format!("column {table}.{column}"));
                }
                ["CREATE", "INDEX", index, ..] | ["CREATE", "UNIQUE", "INDEX", index, ..] => {
                    names.push(format!("index {index}"));
                }
                [column, ..] if in_table => names.push(format!("  {column}")),
                _ => {}
            }
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        files.insert(name, names);
    }
    files
}

#[test]
fn postgres_migrations_match_the_sqlite_ones() {
    let sqlite = shape("sqlite");
    assert!(sqlite.len() >= 12 && sqlite.values().all(|names| !names.is_empty()));
    assert_eq!(shape("postgres"), sqlite);
}
