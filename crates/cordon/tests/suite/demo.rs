use super::common::cordon;

#[test]
fn demo_refuses_every_call_to_the_production_volume() {
    let dir = tempfile::tempdir().unwrap();
    let run = cordon(dir.path(), dir.path(), &["demo", "--keep"], None);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("never reached"), "{}", run.stdout);
    assert_eq!(
        run.stdout
            .matches("DENY    destroy railway.volume vol_prod_7f3")
            .count(),
        3,
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(
        "ALLOW   write railway.service svc_stg_web via graphql.mutation.customDomainCreate"
    ));
    assert!(
        run.stdout
            .contains("7 decisions in a hash-chained log, chain intact")
    );
    // --keep leaves a chain that verifies from the CLI.
    let run = cordon(dir.path(), dir.path(), &["audit", "verify"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("ok        fix-staging-domains: 7 record(s)"),
        "{}",
        run.stdout
    );
}
