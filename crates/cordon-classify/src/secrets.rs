//! Which files and variables hold secrets.
//!
//! Reading one into the agent's context is `secret_read`; sending one over the network
//! is `exfiltrate`. Using a key (`ssh -i`, `--kubeconfig`) without printing it is
//! neither, so callers only ask about paths a command reads the contents of.

/// Directories under home whose every file is a credential.
const HOME_SECRET_DIRS: &[(&str, &str)] = &[
    (".ssh", "an SSH key directory"),
    (".aws", "AWS credentials"),
    (".kube", "a Kubernetes config with cluster credentials"),
    (".config/gcloud", "Google Cloud credentials"),
    (".azure", "Azure credentials"),
    (".gnupg", "a GnuPG keyring"),
    (".password-store", "a password store"),
    (".docker/config.json", "Docker registry credentials"),
    (".netrc", "a .netrc file with passwords"),
    (".npmrc", "an .npmrc file with registry tokens"),
    (".pypirc", "a .pypirc file with upload tokens"),
    (".git-credentials", "stored git credentials"),
    (".config/gh/hosts.yml", "the GitHub CLI's token"),
    (".config/hub", "the hub CLI's token"),
    (".cargo/credentials", "crates.io tokens"),
    (".cargo/credentials.toml", "crates.io tokens"),
    (
        ".terraform.d/credentials.tfrc.json",
        "Terraform Cloud tokens",
    ),
    (".vault-token", "a Vault token"),
    (".pgpass", "PostgreSQL passwords"),
    (".my.cnf", "MySQL passwords"),
    (".local/share/keyrings", "a desktop keyring"),
    (".config/op", "1Password CLI sessions"),
    (".config/railway", "Railway CLI tokens"),
    (".railway", "Railway CLI tokens"),
    (".fly", "Fly.io tokens"),
    (".config/heroku", "Heroku tokens"),
    (".netlify", "Netlify tokens"),
    (".config/doctl", "DigitalOcean tokens"),
    (".oci", "Oracle Cloud keys"),
    (".config/gh-copilot", "GitHub Copilot tokens"),
    (".claude/.credentials.json", "Claude credentials"),
    (".codex/auth.json", "Codex credentials"),
];

const SYSTEM_SECRETS: &[(&str, &str)] = &[
    ("/etc/shadow", "the system password hashes"),
    ("/etc/gshadow", "the system group password hashes"),
    ("/etc/sudoers", "the sudo configuration"),
    ("/var/run/secrets", "mounted service-account secrets"),
    ("/run/secrets", "mounted secrets"),
    ("/etc/ssl/private", "TLS private keys"),
    ("/root", "root's home directory"),
];

const KEY_SUFFIXES: &[&str] = &[
    ".pem",
    ".key",
    ".p12",
    ".pfx",
    ".jks",
    ".keystore",
    ".ppk",
    ".kdbx",
    ".gpg",
    ".asc",
];

const KEY_NAMES: &[&str] = &[
    "id_rsa",
    "id_dsa",
    "id_ecdsa",
    "id_ed25519",
    "id_ecdsa_sk",
    "id_ed25519_sk",
    "credentials",
    "credentials.json",
    "credentials.yml",
    "credentials.yaml",
    "secrets.json",
    "secrets.yml",
    "secrets.yaml",
    "secrets.toml",
    ".secrets",
    "service-account.json",
    "service_account.json",
    "client_secret.json",
    ".htpasswd",
    "master.key",
    "auth.json",
    "kubeconfig",
];

/// What secret `path` (absolute, normalised) holds, if it holds one.
pub(crate) fn secret_file(path: &str, home: Option<&str>) -> Option<&'static str> {
    let name = path.rsplit('/').next().unwrap_or(path);
    if name.ends_with(".pub") || name.starts_with("known_hosts") {
        return None;
    }
    if let Some(home) = home
        && let Some(rel) = path.strip_prefix(home).and_then(|r| r.strip_prefix('/'))
    {
        for (dir, what) in HOME_SECRET_DIRS {
            if rel == *dir || rel.starts_with(&format!("{dir}/")) {
                return Some(what);
            }
        }
    }
    for (dir, what) in SYSTEM_SECRETS {
        if path == *dir || path.starts_with(&format!("{dir}/")) {
            return Some(what);
        }
    }
    if path.starts_with("/proc/") && name == "environ" {
        return Some("a process's environment variables");
    }
    secret_name(name)
}

/// What secret a bare file name suggests, wherever it lives.
pub(crate) fn secret_name(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".pub") {
        return None;
    }
    if is_env_file(&lower) {
        return Some("an environment file with secrets");
    }
    if KEY_NAMES.contains(&lower.as_str()) {
        return Some("a credentials file");
    }
    if KEY_SUFFIXES.iter().any(|s| lower.ends_with(s)) && lower.len() > 4 {
        // A .pem is as often a certificate (public) as a key.
        let public = lower.ends_with(".pem")
            && [
                "cert", "chain", "ca.", "ca-", "ca_", "bundle", "crt", "public", "pub.",
            ]
            .iter()
            .any(|m| lower.contains(m))
            && !lower.contains("key");
        if !public {
            return Some("a private key or keystore");
        }
    }
    let stem = lower.trim_start_matches('.');
    let (base, ext) = stem.split_once('.').unwrap_or((stem, ""));
    let tokenish = base == "token"
        || base == "tokens"
        || base.ends_with("_token")
        || base.ends_with("-token")
        || base.ends_with("_tokens");
    if tokenish && matches!(ext, "" | "txt" | "json" | "yml" | "yaml" | "dat" | "secret") {
        return Some("a token file");
    }
    None
}

/// `.env`, `.env.local`, `prod.env` — but not the committed templates.
fn is_env_file(lower: &str) -> bool {
    const TEMPLATES: &[&str] = &[
        "example",
        "sample",
        "template",
        "dist",
        "defaults",
        "tmpl",
        "schema",
        "test.example",
    ];
    if lower == ".env" || lower.ends_with(".env") && lower.len() > 4 {
        return !lower.starts_with("example") && !lower.starts_with("sample");
    }
    if let Some(rest) = lower.strip_prefix(".env.") {
        return !TEMPLATES.iter().any(|t| {
            rest == *t || rest.ends_with(&format!(".{t}")) || rest.starts_with(&format!("{t}."))
        });
    }
    false
}

/// A variable name that holds a credential by convention.
pub(crate) fn secret_var(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    const MARKERS: &[&str] = &[
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "API_KEY",
        "APIKEY",
        "PRIVATE_KEY",
        "ACCESS_KEY",
        "CREDENTIAL",
        "DATABASE_URL",
        "AUTH_KEY",
        "_PAT",
        "SESSION_KEY",
        "CLIENT_KEY",
        "SIGNING_KEY",
        "DSN",
    ];
    MARKERS.iter().any(|m| upper.contains(m)) || upper.ends_with("_KEY") || upper == "PGPASSWORD"
}

/// A grep pattern that fishes for credentials in an environment dump.
pub(crate) fn secret_pattern(pattern: &str) -> bool {
    let lower = pattern.to_ascii_lowercase();
    [
        "token",
        "secret",
        "pass",
        "key",
        "cred",
        "auth",
        "aws",
        "api",
        "pwd",
        "private",
        "session",
        "database_url",
        "dsn",
    ]
    .iter()
    .any(|m| lower.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: Option<&str> = Some("/home/dev");

    #[test]
    fn home_credentials_are_secret() {
        assert!(secret_file("/home/dev/.aws/credentials", HOME).is_some());
        assert!(secret_file("/home/dev/.ssh/id_ed25519", HOME).is_some());
        assert!(secret_file("/home/dev/.ssh/id_ed25519.pub", HOME).is_none());
        assert!(secret_file("/home/dev/.ssh/known_hosts", HOME).is_none());
        assert!(secret_file("/home/dev/.bashrc", HOME).is_none());
    }

    #[test]
    fn env_files_but_not_templates() {
        assert!(secret_name(".env").is_some());
        assert!(secret_name(".env.local").is_some());
        assert!(secret_name(".env.production").is_some());
        assert!(secret_name("prod.env").is_some());
        assert!(secret_name(".env.example").is_none());
        assert!(secret_name(".env.sample").is_none());
        assert!(secret_name(".environment.ts").is_none());
        assert!(secret_name("env.rs").is_none());
    }

    #[test]
    fn keys_and_tokens() {
        assert!(secret_name("server.key").is_some());
        assert!(secret_name("key.pem").is_some());
        assert!(secret_name("cert.pem").is_none());
        assert!(secret_name("fullchain.pem").is_none());
        assert!(secret_name("github_token.txt").is_some());
        assert!(secret_name(".token").is_some());
        assert!(secret_name("tokenizer.rs").is_none());
        assert!(secret_name("csrf_token.py").is_none());
        assert!(secret_name("keyboard.ts").is_none());
    }

    #[test]
    fn secret_variables() {
        assert!(secret_var("GITHUB_TOKEN"));
        assert!(secret_var("AWS_SECRET_ACCESS_KEY"));
        assert!(!secret_var("PATH"));
        assert!(!secret_var("HOME"));
    }
}
