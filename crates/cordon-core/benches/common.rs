//! Shared by the benches: the manifest size the foundation issue names, and a
//! percentile helper (criterion reports means and medians, the budget is a p99).

use cordon_core::manifest::{LoadedManifest, Manifest};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// 10 credentials and 50 resources, as in the foundation issue's budget.
pub fn large_manifest() -> LoadedManifest {
    let mut text = String::from(
        "[task]\nname = \"bench\"\nenvironment = \"staging\"\n[network]\nallow = [\"api.anthropic.com\", \"*.npmjs.org\", \"crates.io\"]\n",
    );
    for c in 0..10 {
        text.push_str(&format!(
            "[[credential]]\nname = \"cred{c}\"\nsource = \"env:TOKEN_{c}\"\nhosts = [\"api{c}.example.com\"]\nallow = [\"graphql.query.*\", \"graphql.mutation.thing{c}Create\", \"http.GET\"]\n"
        ));
    }
    for r in 0..50 {
        let env = if r % 5 == 0 { "production" } else { "staging" };
        text.push_str(&format!(
            "[[resource]]\nkind = \"volume\"\nid = \"vol_{r}\"\nenvironment = \"{env}\"\n"
        ));
    }
    LoadedManifest {
        manifest: Manifest::parse(&text, "bench.toml").unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(1)
        }),
        path: None,
        base_dir: PathBuf::from("/work/app"),
        extra_policies: Vec::new(),
    }
}

/// Runs `f` `samples` times and prints p50/p99/p99.9 of the individual timings.
pub fn percentiles(label: &str, samples: usize, mut f: impl FnMut()) {
    for _ in 0..samples / 10 {
        f();
    }
    let mut timings: Vec<Duration> = Vec::with_capacity(samples);
    for _ in 0..samples {
        let start = Instant::now();
        f();
        timings.push(start.elapsed());
    }
    timings.sort();
    let at = |q: f64| {
        let index = ((samples as f64) * q) as usize;
        timings
            .get(index.min(samples - 1))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "{label}: p50 {:.2} µs  p99 {:.2} µs  p99.9 {:.2} µs  ({samples} samples)",
        at(0.50).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6,
        at(0.999).as_secs_f64() * 1e6,
    );
}
