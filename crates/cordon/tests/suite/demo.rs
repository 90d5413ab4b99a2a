use super::common::cordon;

#[test]
fn the_decision_path_replay_refuses_every_call_to_the_production_volume() {
    let dir = tempfile::tempdir().unwrap();
    let run = cordon(
        dir.path(),
        dir.path(),
        &["demo", "pocketos", "--keep", "--decision-path"],
        None,
    );
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

/// The README's first command, end to end: a scripted agent inside the sandbox, the
/// gateway, a TLS stand-in for Railway's API. Every layer has to do its part, or the
/// demo exits 1 naming the breach; here each layer's line is checked as well.
#[test]
fn the_incident_replayed_in_the_sandbox_leaves_the_production_volume_standing() {
    let dir = tempfile::tempdir().unwrap();
    let run = cordon(dir.path(), dir.path(), &["demo"], None);
    let out = &run.stdout;
    assert_eq!(run.code, 0, "{out}\n{}", run.stderr);
    assert!(!out.contains("BREACH"), "{out}");
    assert!(out.contains("replayed inside cordon's sandbox"), "{out}");
    for (step, layer) in [
        ("1. ", "RAILWAY_TOKEN inside is a phantom"),
        ("2. ", "~/.config/railway is hidden"),
        ("3. ", "allowed: within the credential's scope"),
        ("4. ", "belongs to `production`"),
        ("7. ", "carries the real secret of credential `railway`"),
        ("8. ", "loopback only"),
        ("9. ", "approval ap_"),
    ] {
        let from = out
            .find(step)
            .unwrap_or_else(|| panic!("no step {step}: {out}"));
        let section = &out[from..];
        let section = &section[..section.find("\n\n").unwrap_or(section.len())];
        assert!(
            section.contains(layer),
            "step {step}wants `{layer}`: {section}"
        );
    }
    assert_eq!(out.matches("gateway refused it").count(), 4, "{out}");
    // Told to ignore the proxy, curl still reaches the gateway by name, and is refused.
    let around = &out[out.find("8. ").unwrap()..];
    assert!(
        around[..around.find("\n\n").unwrap()].contains("HTTP 403"),
        "{around}"
    );
    assert!(out.contains("HTTP 428"), "{out}");
    assert!(out.contains("chain: intact"), "{out}");
    assert!(
        out.contains("The provider executed 1 root field(s), 0 of them volumeDelete."),
        "{out}"
    );
    assert!(out.contains("vol_prod_7f3 still exists"), "{out}");
    // The scratch state stays out of the caller's home.
    assert!(!dir.path().join("audit").exists());
}
