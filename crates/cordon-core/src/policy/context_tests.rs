use super::{Attr, Attrs};
use cedar_policy::Policy;
use std::str::FromStr;

fn read_by(text: &str) -> Attrs {
    Attrs::read_by(&Policy::from_str(text).unwrap())
}

fn of(attrs: &[Attr]) -> Attrs {
    Attrs::of(attrs)
}

#[test]
fn attribute_reads_and_has_tests_are_counted() {
    assert_eq!(
        read_by(
            r#"forbid(principal, action, resource) when { context has host && context["tool"] like "x*" } unless { context.operation == "x" };"#
        ),
        of(&[Attr::Host, Attr::Tool, Attr::Operation])
    );
    assert_eq!(read_by("permit(principal, action, resource);"), Attrs::NONE);
}

#[test]
fn a_path_under_an_attribute_reads_the_attribute() {
    assert_eq!(
        read_by("forbid(principal, action, resource) when { context has path.x };"),
        of(&[Attr::Path])
    );
}

#[test]
fn any_other_use_of_context_reads_everything() {
    for text in [
        "forbid(principal, action, resource) when { context == {} };",
        r#"forbid(principal, action, resource) when { context has host && [context].contains({"host": "x"}) };"#,
    ] {
        assert_eq!(read_by(text), Attrs::ALL, "{text}");
    }
}

#[test]
fn attributes_the_schema_does_not_know_read_nothing_we_build() {
    assert_eq!(
        read_by("forbid(principal, action, resource) when { context has nothing };"),
        Attrs::NONE
    );
}
