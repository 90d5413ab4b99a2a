//! Arbitrary bytes as the body of a request to a GraphQL endpoint: reading it must
//! never panic or hang, and what it returns must be consistent (every root field has
//! a name, and bounded arguments).
#![no_main]

use cordon_classify::graphql_request_fields;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(fields) = graphql_request_fields(data) {
        for field in &fields {
            assert!(!field.name.is_empty(), "a root field without a name");
            assert!(field.operation().starts_with("graphql."));
            assert!(field.arguments.len() <= 256);
        }
    }
});
