use super::*;

#[test]
fn secret_looking_names_are_dropped_and_the_rest_kept_in_order() {
    let vars = [
        ("PATH", "/usr/bin"),
        ("GITHUB_TOKEN", "ghp_x"),
        ("AWS_SECRET_ACCESS_KEY", "x"),
        ("HOME", "/home/u"),
        ("OPENAI_API_KEY", "sk"),
        ("PGPASSWORD", "pw"),
        ("MYSQL_PWD_PASSWD", "pw"),
        ("GOOGLE_APPLICATION_CREDENTIALS", "/k.json"),
        ("SSH_AUTH_SOCK", "/run/agent"),
        ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/run/bus"),
        ("my_cookie_jar", "x"),
        ("GPG_PRIVATE", "x"),
        ("LANG", "C.UTF-8"),
    ];
    let kept = scrub_env(vars, &[]);
    let names: Vec<_> = kept
        .iter()
        .map(|(k, _)| k.to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["PATH", "HOME", "LANG"]);
}

#[test]
fn an_explicitly_kept_name_survives() {
    let kept = scrub_env(
        [("CORDON_PHANTOM_TOKEN", "p"), ("OTHER_TOKEN", "x")],
        &["CORDON_PHANTOM_TOKEN"],
    );
    assert_eq!(kept.len(), 1);
    assert_eq!(
        kept.first().map(|(k, _)| k.as_os_str()),
        Some(OsStr::new("CORDON_PHANTOM_TOKEN"))
    );
}

#[test]
fn non_utf8_names_count_as_secret() {
    use std::os::unix::ffi::OsStrExt;
    assert!(looks_like_secret(OsStr::from_bytes(b"X\xff")));
    assert!(!looks_like_secret(OsStr::new("TERM")));
}
