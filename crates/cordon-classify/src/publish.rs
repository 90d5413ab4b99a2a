//! Publishing: packages, images and releases that others can fetch once they are out.

use cordon_core::Effect;

use crate::engine::{Call, Engine, Hit};
use crate::flow::Flow;

pub(crate) fn classify(e: &mut Engine, c: &Call) -> Option<Flow> {
    let pos: Vec<String> = c.positionals().iter().map(|a| a.s().to_string()).collect();
    let p = |i: usize| pos.get(i).map(String::as_str).unwrap_or("");
    let dry = c.has("--dry-run") || c.has("-n") && c.name == "cargo";
    let what = match (c.name, p(0)) {
        ("npm" | "pnpm" | "bun", "publish") => "publishes a package to the npm registry",
        ("npm" | "pnpm", "unpublish") => "removes a published package from the npm registry",
        ("npm", "deprecate") => "marks a published npm package deprecated",
        ("npm", "dist-tag") if matches!(p(1), "add" | "rm") => "moves a published npm dist-tag",
        ("yarn", "publish") => "publishes a package to the npm registry",
        ("yarn", "npm") if p(1) == "publish" => "publishes a package to the npm registry",
        ("cargo", "publish") => "publishes a crate to crates.io",
        ("cargo", "yank") => "yanks a published crate version",
        ("cargo", "owner") if c.has("--add") || c.has("--remove") || c.has("-a") || c.has("-r") => {
            "changes who can publish a crate"
        }
        ("twine", "upload") => "uploads a package to PyPI",
        ("poetry" | "uv" | "flit" | "hatch" | "pdm", "publish") => "publishes a package to PyPI",
        ("gem", "push") => "publishes a gem to RubyGems",
        ("gem", "yank") => "yanks a published gem",
        ("docker" | "podman" | "nerdctl", "push") => "pushes an image to a registry",
        ("docker" | "podman", "image") if p(1) == "push" => "pushes an image to a registry",
        ("docker" | "podman", "buildx") if pos.iter().any(|t| t == "build") && c.has("--push") => {
            "builds and pushes an image to a registry"
        }
        ("docker" | "podman", "manifest") if p(1) == "push" => {
            "pushes an image manifest to a registry"
        }
        ("crane" | "skopeo", "push" | "copy" | "cp") => "pushes an image to a registry",
        ("mvn", _)
            if pos
                .iter()
                .any(|t| t == "deploy" || t.starts_with("release:perform")) =>
        {
            "deploys artifacts to a Maven repository"
        }
        ("gradle" | "gradlew", _) if pos.iter().any(|t| t.starts_with("publish")) => {
            "publishes artifacts"
        }
        ("dotnet", "nuget") if p(1) == "push" => "pushes a package to NuGet",
        ("nuget", "push") => "pushes a package to NuGet",
        ("pod", "trunk") if p(1) == "push" => "publishes a pod to CocoaPods",
        ("helm", "push") => "pushes a chart to a registry",
        ("vsce" | "ovsx", "publish") => "publishes an editor extension",
        ("goreleaser", "release" | "") if !c.has("--snapshot") && !c.has("--skip=publish") => {
            "publishes a release"
        }
        ("changeset", "publish") | ("lerna", "publish") => "publishes packages",
        ("semantic-release", _) => "publishes a release",
        ("jsr", "publish") | ("deno", "publish") => "publishes a package to JSR",
        ("mix", "hex.publish") => "publishes a package to Hex",
        ("swift", "package") if p(1) == "publish" => "publishes a Swift package",
        ("vercel", _) if c.has("--prod") || c.has("--production") => "deploys to production",
        ("netlify", "deploy") if c.has("--prod") || c.has("-p") => "deploys to production",
        ("fly" | "flyctl", "deploy") => "deploys the app",
        ("railway", "up") => "deploys the app",
        ("firebase", "deploy") => "deploys to Firebase",
        ("wrangler", "deploy" | "publish") => "deploys a Cloudflare Worker",
        ("serverless" | "sls", "deploy") => "deploys a service",
        ("eb", "deploy") => "deploys to Elastic Beanstalk",
        ("cdk", "deploy") => "deploys a CDK stack",
        ("sam", "deploy") => "deploys a SAM stack",
        _ => return None,
    };
    if dry {
        return Some(Flow::opaque());
    }
    let target = pos.get(1).cloned().unwrap_or_default();
    let mut hit = Hit::new(Effect::Publish, format!("{} {}", c.name, what));
    if matches!(c.name, "docker" | "podman" | "nerdctl") && !target.is_empty() {
        hit = hit.target("container.image", &target);
    }
    e.hit(hit);
    Some(Flow::opaque())
}
