//! Arbitrary requests as the credential gateway reads them before judging: method, path
//! and headers picked by the first bytes, the rest the body. Covers every reader of a
//! body the gateway has (gzip/deflate decoding, git pushes, MCP JSON-RPC, GraphQL in a
//! body or a query string): never a panic or a hang, and always either actions to
//! judge or a reason the request cannot be read.
#![no_main]

use std::sync::LazyLock;

use cordon_core::manifest::Manifest;
use cordon_gateway::decide::{Reading, RequestFacts, read_request};
use cordon_gateway::host::parse_authority;
use libfuzzer_sys::fuzz_target;

static MANIFEST: LazyLock<Manifest> = LazyLock::new(|| {
    Manifest::parse(
        r#"
[task]
name = "fuzz"
environment = "staging"

[[resource]]
kind = "railway.volume"
id = "vol_prod_7f3"
environment = "production"

[[network.route]]
host = "*.test"
methods = ["POST"]
paths = ["/v1/*/purge"]
effect = "destroy"
"#,
        "cordon.toml",
    )
    .expect("the fuzz manifest parses")
});

const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH"];
const PATHS: &[&str] = &[
    "/graphql/v2",
    "/acme/app.git/git-receive-pack",
    "/acme/app.git/git-upload-pack",
    "/acme/app.git/info/refs",
    "/mcp",
    "/v1/x/purge",
    "/",
];
const TYPES: &[Option<&str>] = &[
    None,
    Some("application/json"),
    Some("application/graphql"),
    Some("application/x-git-receive-pack-request"),
];
const ENCODINGS: &[Option<&str>] = &[None, Some("gzip"), Some("deflate"), Some("gzip, deflate")];
const QUERIES: &[Option<&str>] = &[
    None,
    Some("service=git-receive-pack"),
    Some("query=mutation%7BvolumeDelete(volumeId%3A%22vol_prod_7f3%22)%7D"),
];

fuzz_target!(|data: &[u8]| {
    let [m, p, t, e, q, body @ ..] = data else {
        return;
    };
    let pick = |choices: usize, byte: &u8| usize::from(*byte) % choices;
    let authority = parse_authority("api.fuzz.test", 443).expect("a valid host");
    let facts = RequestFacts {
        method: METHODS[pick(METHODS.len(), m)],
        authority: &authority,
        path: PATHS[pick(PATHS.len(), p)],
        query: QUERIES[pick(QUERIES.len(), q)],
        content_type: TYPES[pick(TYPES.len(), t)],
        content_encoding: ENCODINGS[pick(ENCODINGS.len(), e)],
        body,
        body_limit: 1 << 20,
    };
    match read_request(&MANIFEST, &facts) {
        Reading::Actions(actions) => {
            assert!(!actions.is_empty(), "a readable request with no action");
            for action in &actions {
                assert!(!action.operation.is_empty());
            }
        }
        Reading::Unreadable { action, error } => {
            assert!(!error.policy().is_empty());
            assert!(action.operation.ends_with("unreadable"));
        }
    }
});
