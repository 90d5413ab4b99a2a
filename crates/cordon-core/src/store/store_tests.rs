use super::*;

#[test]
fn a_password_in_a_store_url_is_never_shown() {
    let shown = StoreLocation::Postgres(
        "postgres://cordon:hunter2@db.internal:5432/cordon?password=hunter2&sslmode=disable"
            .to_owned(),
    )
    .to_string();
    assert!(!shown.contains("hunter2"), "{shown}");
    assert_eq!(
        shown,
        "postgres://cordon:***@db.internal:5432/cordon?password=***&sslmode=disable"
    );
}

#[test]
fn a_store_is_a_postgres_url_or_a_file() {
    assert!(matches!(
        StoreLocation::parse("postgresql://u@localhost/db"),
        Ok(StoreLocation::Postgres(_))
    ));
    assert!(matches!(
        StoreLocation::parse("/var/lib/cordon/cordon.db"),
        Ok(StoreLocation::Sqlite(_))
    ));
    assert!(matches!(
        StoreLocation::parse("mysql://u@localhost/db"),
        Err(StoreError::Location { .. })
    ));
    assert!(matches!(
        StoreLocation::parse("postgres://u@localhost/db?sslmode=bogus"),
        Err(StoreError::Location { .. })
    ));
}
